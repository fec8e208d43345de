/* Body map: tapping a shape toggles the matching "regions" checkbox; ticking a checkbox
   updates the shapes. The checkboxes stay the accessible path and work without this file. */
(function () {
  "use strict";

  var maps = document.querySelectorAll("[data-bodymap]");
  if (!maps.length) { return; }

  var each = function (list, fn) { Array.prototype.forEach.call(list, fn); };
  var isRegionBox = function (el) {
    return el && el.tagName === "INPUT" && el.type === "checkbox" && el.name === "regions";
  };

  var boxes = {};
  each(document.querySelectorAll('input[type="checkbox"][name="regions"]'), function (box) {
    boxes[box.value] = box;
  });
  // A read-only map (e.g. a summary page) has no boxes: keep the server-rendered classes.
  if (!Object.keys(boxes).length) { return; }

  var shapes = function (code) {
    var found = [];
    each(maps, function (map) {
      each(map.querySelectorAll("[data-region]"), function (shape) {
        if (shape.getAttribute("data-region") === code) { found.push(shape); }
      });
    });
    return found;
  };

  var paint = function (code) {
    var box = boxes[code];
    if (!box) { return; }
    each(shapes(code), function (shape) {
      // classList on SVG elements is fine in every current browser.
      shape.classList.toggle("is-selected", box.checked);
    });
  };

  var paintAll = function () {
    each(maps, function (map) {
      each(map.querySelectorAll("[data-region]"), function (shape) {
        var box = boxes[shape.getAttribute("data-region")];
        if (box) { shape.classList.toggle("is-selected", box.checked); }
      });
    });
  };

  each(maps, function (map) {
    map.addEventListener("click", function (event) {
      var target = event.target;
      var shape = target && target.closest ? target.closest("[data-region]") : null;
      if (!shape || !map.contains(shape)) { return; }
      var box = boxes[shape.getAttribute("data-region")];
      if (!box || box.disabled) { return; }
      event.preventDefault();
      box.checked = !box.checked;
      box.dispatchEvent(new Event("change", { bubbles: true }));
    });
  });

  document.addEventListener("change", function (event) {
    if (isRegionBox(event.target)) { paint(event.target.value); }
  });

  // The browser may restore ticked boxes (Back button, reload), so trust the boxes, not the
  // server-rendered classes.
  paintAll();
  window.addEventListener("pageshow", paintAll);
}());
