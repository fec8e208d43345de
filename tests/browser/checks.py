"""What every page of a journey is checked for: axe-core, the layout at small sizes, and
(when a scenario asks) each page's weight; and the text of the page as a person reads it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from tests.browser.axe import axe_violations

#: Layout checks (320 px, 200 % zoom): nothing wider than the window, no control cut off at
#: a side, no two visible controls (or labels) on top of each other.
LAYOUT_JS = """
() => {
  const problems = [];
  const W = window.innerWidth;
  const doc = document.documentElement;
  if (doc.scrollWidth > W) problems.push(`page is ${doc.scrollWidth}px wide in a ${W}px window`);
  const visible = el => {
    const r = el.getBoundingClientRect();
    return r.width > 0 && r.height > 0 && getComputedStyle(el).visibility !== 'hidden'
      && !el.closest('[hidden], .visually-hidden');
  };
  const name = el => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '')
    + (el.htmlFor ? '[for=' + el.htmlFor + ']' : '')
    + (el.value && el.tagName === 'BUTTON' ? '[value=' + el.value + ']' : '');
  const els = [...document.querySelectorAll(
    'input:not([type=hidden]), select, textarea, button, label, summary, a.button')]
    .filter(visible);
  const boxes = els.map(el => el.getBoundingClientRect());
  els.forEach((el, i) => {
    const r = boxes[i];
    if (r.left < -0.5 || r.right > W + 0.5)
      problems.push(`${name(el)} is cut off (${r.left}..${r.right})`);
  });
  // A label and its own control may overlap (the 0-10 scale lays its radio over its label).
  const related = (a, b) => a.contains(b) || b.contains(a)
    || (a.tagName === 'LABEL' && a.control === b) || (b.tagName === 'LABEL' && b.control === a);
  for (let i = 0; i < els.length; i++) {
    for (let j = i + 1; j < els.length; j++) {
      if (related(els[i], els[j])) continue;
      const a = boxes[i], b = boxes[j];
      const w = Math.min(a.right, b.right) - Math.max(a.left, b.left);
      const h = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
      if (w > 1 && h > 1) problems.push(`${name(els[i])} overlaps ${name(els[j])}`);
    }
  }
  return problems;
}
"""


@dataclass
class Checks:
    """What every page of a journey is checked for, and a record of the pages seen."""

    axe: bool = True
    layout: bool = False
    #: More checks, each called as ``check(page, name)``.
    extra: list = field(default_factory=list)
    visited: list[str] = field(default_factory=list)

    def __call__(self, page, name: str) -> None:
        self.visited.append(name)
        for check in self.extra:
            check(page, name)
        if self.axe:
            violations = axe_violations(page)
            assert violations == [], f"axe on {name} ({page.url}): {violations}"
        if self.layout:
            problems = page.evaluate(LAYOUT_JS)
            assert problems == [], f"layout on {name} at {page.viewport_size}: {problems}"


#: The most a patient page may weigh on its first load: bytes, uncompressed (see PageWeights).
PAGE_BUDGET = 50_000


class PageWeights:
    """A check that weighs each page's first load, as if nothing were cached.

    The bytes of the HTML and of every stylesheet, script and image it loads, uncompressed,
    by page name and path. Every one must come from ``origin``.
    """

    def __init__(self, page, origin: str) -> None:
        cdp = page.context.new_cdp_session(page)
        cdp.send("Network.enable")
        cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})  # each load is a first
        self.origin = origin
        self.responses: list = []
        self.pages: dict[str, dict[str, int]] = {}
        page.on("response", lambda response: self.responses.append(response))

    def __call__(self, page, name: str) -> None:
        parts: dict[str, int] = {}
        for response in self.responses:
            kind = response.request.resource_type
            if response.status != 200 or kind not in ("document", "stylesheet", "script", "image"):
                continue
            assert response.url.startswith(self.origin), response.url
            parts[urlsplit(response.url).path] = len(response.body())
        self.responses.clear()
        self.pages[name] = parts

    def report(self, title: str) -> str:
        lines = [f"\n{title}, first load, uncompressed (bytes):"]
        for name, parts in self.pages.items():
            detail = ", ".join(f"{k.rsplit('/', 1)[-1] or '/'} {v}" for k, v in parts.items())
            lines.append(f"  {name:<26} {sum(parts.values()):>7}   ({detail})")
        return "\n".join(lines)

    def over(self, budget: int) -> dict[str, int]:
        totals = {name: sum(parts.values()) for name, parts in self.pages.items()}
        return {name: total for name, total in totals.items() if total > budget}


def visible_text(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()
