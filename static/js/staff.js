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
