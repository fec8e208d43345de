/* Body map: tapping a shape toggles the matching "regions" checkbox; checking a box
   updates the shapes and the places listed in words under the picture. The checkboxes stay
   the accessible path and work without this file. */
(function () {
  "use strict";

  var maps = document.querySelectorAll("[data-bodymap]");
  if (!maps.length) { return; }

  var each = function (list, fn) { Array.prototype.forEach.call(list, fn); };
  var isRegionBox = function (el) {
    return el && el.tagName === "INPUT" && el.type === "checkbox" && el.name === "regions";
  };

  var boxes = {};
  var order = [];
  each(document.querySelectorAll('input[type="checkbox"][name="regions"]'), function (box) {
    boxes[box.value] = box;
    order.push(box);
  });
  // A read-only map (e.g. a summary page) has no boxes: keep the server-rendered classes.
  if (!order.length) { return; }

  var picked = document.querySelector("[data-bodymap-picked]");
  var shown = null;  // the words now on screen, to change them (and announce) only on a change

  // "You picked: A • B" in words, from the boxes, in the order of the list (the labels are
  // the boxes' own, so they are in the page's language).
  var say = function () {
    if (!picked) { return; }
    var names = [];
    each(order, function (box) {
      var label = box.labels && box.labels[0];
      if (box.checked && label) { names.push(label.textContent.replace(/\s+/g, " ").trim()); }
    });
    var key = names.join("\n");
    if (key === shown) { return; }
    shown = key;
    var title = picked.querySelector(".bodymap-picked__title");
    var list = picked.querySelector(".bodymap-picked__list");
    title.textContent = picked.getAttribute(names.length ? "data-some" : "data-none");
    while (list.firstChild) { list.removeChild(list.firstChild); }
    names.forEach(function (name) {
      var item = document.createElement("li");
      item.textContent = name;
      list.appendChild(item);
    });
  };

  var paintAll = function () {
    each(maps, function (map) {
      each(map.querySelectorAll("[data-region]"), function (shape) {
        var box = boxes[shape.getAttribute("data-region")];
        if (box) { shape.classList.toggle("is-selected", box.checked); }
      });
    });
    say();
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
    if (isRegionBox(event.target)) { paintAll(); }
  });

  // The browser may restore checked boxes (Back button, reload), so trust the boxes, not the
  // server-rendered classes and words.
  paintAll();
  window.addEventListener("pageshow", paintAll);
}());
