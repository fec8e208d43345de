"""How a person drives a page: :class:`Mouse` clicks (works with JavaScript on or off);
:class:`Keyboard` uses only Tab, Shift+Tab, Space, Enter, the arrow keys and typing, the way
a keyboard or switch user does. It never clicks and never calls ``.check()``.
"""

from __future__ import annotations

from collections import Counter

#: How many Tab stops from the focused element to the target (negative: backwards).
#: Radio buttons of one group are one stop (the checked one, or the first).
STOPS_JS = """
([selector, group]) => {
  const target = document.querySelector(selector);
  const candidates = document.querySelectorAll(
    'a[href], button, input:not([type=hidden]), select, textarea, summary, [tabindex]');
  const stops = [];
  const groups = new Map();
  for (const el of candidates) {
    if (el.disabled || el.tabIndex < 0 || !el.getClientRects().length) continue;
    if (getComputedStyle(el).visibility === 'hidden') continue;
    if (el.type === 'radio') {
      const chosen = el.form
        && [...el.form.querySelectorAll(`input[type=radio][name="${el.name}"]`)]
          .find(r => r.checked);
      if (groups.has(el.name)) { if (el === chosen) stops[groups.get(el.name)] = el; continue; }
      groups.set(el.name, stops.length);
    }
    stops.push(el);
  }
  const active = document.activeElement;
  const at = active && active.type === 'radio' && groups.has(active.name)
    ? groups.get(active.name) : stops.indexOf(active);
  const to = group ? groups.get(group) : stops.indexOf(target);
  if (to === undefined || to < 0) return 0;
  return to - at;
}
"""

FOCUS_JS = """
([selector, group]) => {
  const target = document.querySelector(selector);
  if (!target) return 'missing';
  const active = document.activeElement;
  if (group ? (active && active.type === 'radio' && active.name === group) : active === target)
    return 0;
  if (!active || active === document.body || active === document.documentElement) return 1;
  // Forward when the focused element comes before the target, else backward.
  return (target.compareDocumentPosition(active) & Node.DOCUMENT_POSITION_PRECEDING) ? 1 : -1;
}
"""


class Mouse:
    """Clicks, like a mouse or touch user."""

    name = "mouse"

    def __init__(self, page) -> None:
        self.page = page

    def choose(self, qid: str, code: str) -> None:
        radio = self.page.locator(f"#{qid}-{code}")
        radio.click()
        assert radio.is_checked(), f"{qid}-{code} not chosen"

    def set_checked(self, element_id: str, on: bool) -> None:
        box = self.page.locator(f"#{element_id}")
        if box.is_checked() != on:
            box.click()
        assert box.is_checked() == on, element_id

    def fill(self, element_id: str, text: str) -> None:
        box = self.page.locator(f"#{element_id}")
        box.click()
        box.fill(text)

    def press(self, selector: str) -> None:
        with self.page.expect_navigation():
            self.page.locator(selector).click()


class Keyboard:
    """Only keys: Tab, Shift+Tab, arrows, Space, Enter and typing. Counts what it pressed."""

    name = "keyboard"

    def __init__(self, page) -> None:
        self.page = page
        self.keys: Counter[str] = Counter()

    def key(self, key: str) -> None:
        self.page.keyboard.press(key)
        self.keys[key] += 1

    def focus(self, selector: str, group: str | None = None) -> None:
        """Tab (or Shift+Tab) until the element, or any radio of ``group``, has focus."""
        # Count the stops and press that many at once; then check, a key at a time.
        if self.page.evaluate(FOCUS_JS, [selector, group]) != 0:
            count = self.page.evaluate(STOPS_JS, [selector, group])
            for _ in range(abs(count)):
                self.key("Tab" if count > 0 else "Shift+Tab")
        for _ in range(400):
            where = self.page.evaluate(FOCUS_JS, [selector, group])
            if where == 0:
                return
            if where == "missing":
                raise AssertionError(f"{selector} is not on {self.page.url}")
            self.key("Tab" if where == 1 else "Shift+Tab")
        raise AssertionError(f"Tab never reached {selector} on {self.page.url}")

    def choose(self, qid: str, code: str) -> None:
        """Tab into the radio group, then arrow to the answer (Space if already on it)."""
        radios = f'input[type=radio][name="{qid}"]'
        self.focus(radios, group=qid)
        at, want, checked = self.page.evaluate(
            """([sel, id]) => {
                const radios = [...document.querySelectorAll(sel)]
                  .filter(r => r.getClientRects().length);
                return [radios.indexOf(document.activeElement),
                        radios.findIndex(r => r.id === id),
                        document.getElementById(id).checked];
            }""",
            [radios, f"{qid}-{code}"],
        )
        assert want >= 0, f"no option {qid}-{code}"
        if at == want:
            if not checked:
                self.key("Space")
        else:
            for _ in range(abs(want - at)):
                self.key("ArrowDown" if want > at else "ArrowUp")
        assert self.page.locator(f"#{qid}-{code}").is_checked(), f"{qid}-{code} not chosen"

    def set_checked(self, element_id: str, on: bool) -> None:
        box = self.page.locator(f"#{element_id}")
        if box.is_checked() != on:
            self.focus(f"#{element_id}")
            self.key("Space")
        assert box.is_checked() == on, element_id

    def fill(self, element_id: str, text: str) -> None:
        self.focus(f"#{element_id}")
        self.key("Control+A")
        self.key("Backspace")
        self.page.keyboard.type(text)

    def activate(self, selector: str) -> None:
        """Tab to a link or button and press Enter (for links within the page)."""
        self.focus(selector)
        self.key("Enter")

    def press(self, selector: str) -> None:
        """Tab to a link or button and press Enter, and wait for the next page."""
        self.focus(selector)
        with self.page.expect_navigation():
            self.key("Enter")
