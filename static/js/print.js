// Print that prints. Enhancement only: without this script the print view is still a page
// to print with the browser's own Print command.
// - A [data-print] button appears and opens the browser's print dialog.
// - A print view opened at #print (the detail page's "Print summary") opens it at once.
(function () {
  "use strict";
  var buttons = document.querySelectorAll("[data-print]");
  Array.prototype.forEach.call(buttons, function (button) {
    button.hidden = false;
    button.addEventListener("click", function () { window.print(); });
  });
  var hint = document.querySelector("[data-print-hint]");
  if (hint) hint.hidden = true;
  if (window.location.hash === "#print") {
    // Reloading or going back must not print again.
    window.history.replaceState(null, "", window.location.pathname + window.location.search);
    if (document.readyState === "complete") window.print();
    else window.addEventListener("load", function () { window.print(); });
  }
})();
