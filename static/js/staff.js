// Warn before the idle sign-out so a half-written note is not lost. Enhancement only:
// without this script the server still signs out after the idle time.
(function () {
  "use strict";
  var body = document.body;
  var idle = parseInt(body.getAttribute("data-idle-seconds") || "0", 10);
  var warnAt = parseInt(body.getAttribute("data-warning-seconds") || "120", 10);
  var box = document.getElementById("idle-warning");
  if (!idle || !box) return;
  var left = body.querySelector("[data-idle-left]");
  var deadline = Date.now() + idle * 1000;
  var shown = false;

  function minutes(seconds) {
    var m = Math.max(1, Math.ceil(seconds / 60));
    return m + (m === 1 ? " minute" : " minutes");
  }

  function tick() {
    var seconds = Math.round((deadline - Date.now()) / 1000);
    if (seconds <= warnAt && !shown) {
      shown = true;
      box.hidden = false;
      box.focus();
    }
    if (shown && left) left.textContent = minutes(seconds);
    if (seconds <= 0) window.location.reload();
  }

  box.querySelector("[data-keepalive]").addEventListener("click", function () {
    fetch(body.getAttribute("data-keepalive-url"), {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRFToken": body.getAttribute("data-csrf") }
    }).then(function (response) {
      if (!response.ok) { window.location.reload(); return; }
      return response.json().then(function (data) {
        deadline = Date.now() + data.seconds_left * 1000;
        shown = false;
        box.hidden = true;
      });
    });
  });
  window.setInterval(tick, 5000);
})();

// The queue's "PDF of the selected summaries". Enhancement only: without this script the
// form posts as usual and the browser waits for the file, or for the progress page.
// With it, the button is disabled and a status line says what is happening; a small batch
// comes back as the PDF itself, which is handed to the browser as a download.
(function () {
  "use strict";
  var form = document.querySelector("form[data-batch-form]");
  if (!form) return;
  var button = form.querySelector("[data-batch-button]");
  var status = form.querySelector("[data-batch-status]");
  var inlineMax = parseInt(form.getAttribute("data-inline-max") || "0", 10);

  function label(count) {
    return count + (count === 1 ? " summary" : " summaries");
  }

  function reset() {
    if (button) button.disabled = false;
  }

  // Back from the progress page: the browser may show this page as it was left.
  window.addEventListener("pageshow", function (event) {
    if (event.persisted) {
      reset();
      if (status) status.textContent = "";
    }
  });

  form.addEventListener("submit", function (event) {
    var count = form.querySelectorAll('input[name="ids"]:checked').length;
    if (!count || !status || !button) return; // the server says what to do
    status.textContent = "Preparing " + label(count) + "… this can take up to a minute.";
    if (count > inlineMax || !window.fetch || !window.FormData || !window.URL) {
      // A large batch: the server answers at once with the progress page.
      window.setTimeout(function () { button.disabled = true; }, 0);
      return;
    }
    event.preventDefault();
    button.disabled = true;
    fetch(form.action, { method: "POST", body: new FormData(form), credentials: "same-origin" })
      .then(function (response) {
        var type = response.headers.get("Content-Type") || "";
        if (!response.ok || type.indexOf("application/pdf") !== 0) {
          // A message, the sign-in page, an error: show what the server sent.
          window.location.assign(response.url);
          return;
        }
        return response.blob().then(function (blob) {
          var link = document.createElement("a");
          link.href = URL.createObjectURL(blob);
          link.download = "summaries.pdf";
          document.body.appendChild(link);
          link.click();
          link.remove();
          window.setTimeout(function () { URL.revokeObjectURL(link.href); }, 60000);
          status.textContent = "Your PDF of " + label(count) + " is ready: see your downloads.";
          reset();
        });
      })
      .catch(function () {
        status.textContent = "The PDF could not be prepared. Try again.";
        reset();
      });
  });
})();

// The progress page of a large batch: follow it, then fetch the file once it is ready.
// Without this script the page reloads itself every few seconds (a <noscript> refresh).
(function () {
  "use strict";
  var box = document.querySelector("[data-batch][data-batch-pending]");
  if (!box || !window.fetch) return;
  var url = box.getAttribute("data-status-url");
  var message = box.querySelector("[data-batch-message]");
  var progress = box.querySelector("[data-batch-progress]");
  var bar = box.querySelector("progress");
  var done = box.querySelector("[data-batch-done]");
  var link = box.querySelector("[data-batch-link]");

  function poll() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (response.redirected) {
          window.location.assign(response.url); // signed out: the sign-in page
          throw new Error("redirected");
        }
        if (!response.ok) throw new Error("status " + response.status);
        return response.json();
      })
      .then(function (state) {
        if (state.state === "waiting" || state.state === "running") {
          if (bar) bar.value = state.done;
          if (done) done.textContent = state.done + " of " + state.total + " done";
          window.setTimeout(poll, 2000);
          return;
        }
        if (state.state !== "done") {
          window.location.reload(); // the page says what went wrong
          return;
        }
        if (progress) progress.hidden = true;
        if (message) message.textContent = "Your PDF is ready. It should be in your downloads.";
        if (link) {
          link.href = state.pdf_url;
          link.hidden = false;
        }
        window.location.assign(state.pdf_url);
      })
      .catch(function () { window.setTimeout(poll, 5000); });
  }
  window.setTimeout(poll, 2000);
})();
