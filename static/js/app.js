// Enhancements only: every page works without this file.
(function () {
  "use strict";
  var root = document.documentElement;
  root.classList.remove("no-js");
  root.classList.add("js");

  function checkedValues(form, name) {
    var out = [];
    var inputs = form.querySelectorAll('input[name="' + name + '"]');
    for (var i = 0; i < inputs.length; i++) {
      if (inputs[i].checked) out.push(inputs[i].value);
    }
    return out;
  }

  // Show a follow-up question only when the answer it depends on is picked.
  function updateReveals(form) {
    var groups = form.querySelectorAll("[data-reveal-q]");
    for (var i = 0; i < groups.length; i++) {
      var group = groups[i];
      var wanted = group.getAttribute("data-reveal-values").split(" ");
      var have = checkedValues(form, group.getAttribute("data-reveal-q"));
      var show = have.some(function (v) { return wanted.indexOf(v) !== -1; });
      group.hidden = !show;
    }
  }

  // A "none" answer and the other answers cannot be combined: picking one unticks the other.
  function keepExclusive(event) {
    var input = event.target;
    if (input.type !== "checkbox" || !input.checked) return;
    var group = input.closest("[data-exclusive]");
    if (!group) return;
    var exclusive = group.getAttribute("data-exclusive");
    var boxes = group.querySelectorAll('input[type="checkbox"]');
    for (var i = 0; i < boxes.length; i++) {
      var box = boxes[i];
      if (box === input) continue;
      if (input.value === exclusive || box.value === exclusive) {
        if (box.checked) {
          box.checked = false;
          box.dispatchEvent(new Event("change", { bubbles: true }));
        }
      }
    }
  }

  // Red-flag answers show the urgent-care card at once, before the page is sent.
  function updateUrgent(form) {
    var card = document.querySelector("[data-urgent-card]");
    var ids = (form.getAttribute("data-emergency-ids") || "").split(" ");
    if (!card) return;
    var urgent = ids.some(function (id) { return id && checkedValues(form, id).indexOf("yes") !== -1; });
    if (urgent && card.hidden) {
      card.hidden = false;
      card.focus();
    } else if (!urgent && card.getAttribute("data-server-urgent") === null) {
      card.hidden = true;
    }
  }

  function init() {
    var card = document.querySelector("[data-urgent-card]");
    if (card && !card.hidden) card.setAttribute("data-server-urgent", "");
    var forms = document.querySelectorAll("form[data-step]");
    for (var i = 0; i < forms.length; i++) {
      (function (form) {
        updateReveals(form);
        form.addEventListener("change", function (event) {
          keepExclusive(event);
          updateReveals(form);
          if (event.target.hasAttribute("data-emergency")) updateUrgent(form);
        });
      })(forms[i]);
    }
    // After an error, start at the summary so screen readers hear it first.
    var summary = document.querySelector("[data-error-summary]");
    if (summary) summary.focus();
    // A second click on "Send" while the first is on its way does nothing (the server
    // also makes a second submit harmless).
    var once = document.querySelectorAll("form[data-once]");
    for (var j = 0; j < once.length; j++) {
      once[j].addEventListener("submit", function (event) {
        if (this.getAttribute("data-sent")) { event.preventDefault(); return; }
        this.setAttribute("data-sent", "1");
      });
    }
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
