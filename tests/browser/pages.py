"""Page objects for the patient's journey, so the browser tests read as stories.

Two ways to drive a page:

- :class:`Mouse` clicks (works with JavaScript on or off);
- :class:`Keyboard` uses only Tab, Shift+Tab, Space, Enter, the arrow keys and typing, the
  way a keyboard or switch user does. It never clicks and never calls ``.check()``.

Every page object runs the :class:`Checks` of its journey when it is created: axe-core, and
optionally the layout checks and any extra checks a scenario adds. So a scenario cannot
reach a page without checking it.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from urllib.parse import urlsplit

from screening.patient import steps
from screening.scoring import questionnaire

QUESTIONS = questionnaire.QUESTIONS
DISCUSS_HEADLINE = (
    "Your answers fit the kind of muscle pain that trigger point shots are sometimes used for."
)

# ------------------------------------------------------------------ checks on every page

#: axe-core: every WCAG 2.0, 2.1 and 2.2 level A and AA rule.
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa"]
AXE_OPTIONS = {
    "runOnly": {"type": "tag", "values": WCAG_TAGS},
    "resultTypes": ["violations"],
    "iframes": False,  # the app has no frames
}


def _axe_script() -> str:
    from axe_playwright_python.sync_playwright import Axe

    return Axe().axe_script


_SCANNED: dict[str, list] = {}
#: What differs between two renders of the same page: CSRF tokens (in forms, and the staff
#: pages' data-csrf) and resume links.
_CSRF_RE = re.compile(r'(name="csrf_token"[^>]*value=")[^"]*"|data-csrf="[^"]*"|/r/[A-Za-z0-9_\-]+')


SCANNER = "http://axe-scanner.test"


class Scanner:
    """A scripted page, kept for the whole session, that runs axe-core on copies of pages.

    axe-core is a 600 kB script: injecting it into every page would double the suite's run
    time, and it cannot run at all in a context with JavaScript off (it needs script timers,
    which never fire there). So each page's live DOM, as the person sees it at that moment
    (after the app's scripts ran, or without them), is copied into this page, which has the
    same viewport and pixel ratio. The app's scripts are blocked here so the copy stays as it
    was; its stylesheets are fetched from the app so the layout and colours are the same.
    """

    _open: dict[tuple, Scanner] = {}

    def __init__(self, browser, viewport: dict, scale: float) -> None:
        self.origin = ""
        context = browser.new_context(viewport=viewport, device_scale_factor=scale)
        self.page = context.new_page()
        self.page.route("**/*", self._serve)
        self.page.goto(SCANNER + "/scan")
        self.page.evaluate(_axe_script())

    @classmethod
    def for_page(cls, page) -> Scanner:
        scale = page.evaluate("window.devicePixelRatio")
        key = (id(page.context.browser), str(page.viewport_size), scale)
        if key not in cls._open:
            cls._open[key] = cls(page.context.browser, page.viewport_size, scale)
        return cls._open[key]

    def _serve(self, route) -> None:
        path = route.request.url[len(SCANNER) :]
        if path == "/scan":
            route.fulfill(body="<!doctype html><title>scan</title>", content_type="text/html")
        elif path.startswith("/static/") and not path.startswith("/static/js/"):
            route.fulfill(response=route.fetch(url=self.origin + path))
        else:
            route.abort()  # the app's scripts, and anything else

    def violations(self, page, html: str) -> list[dict]:
        self.origin = "{0.scheme}://{0.netloc}".format(urlsplit(page.url))
        self.page.set_content(html)
        result = self.page.evaluate("options => axe.run(document, options)", AXE_OPTIONS)
        return [
            {
                "id": v["id"],
                "impact": v["impact"],
                "help": v["help"],
                "nodes": [n["target"] for n in v["nodes"]],
            }
            for v in result["violations"]
        ]


def axe_violations(page) -> list[dict]:
    """Run axe-core (WCAG 2.0/2.1/2.2 A and AA) on the page as it is now.

    Scans of a DOM already scanned at the same viewport are reused: the same markup gives
    the same result, and it keeps the suite fast.
    """
    html = page.content()
    key = hashlib.sha256(f"{page.viewport_size}|{_CSRF_RE.sub('', html)}".encode()).hexdigest()
    if key not in _SCANNED:
        _SCANNED[key] = Scanner.for_page(page).violations(page, html)
    return _SCANNED[key]


def axe_violations_live(page) -> list[dict]:
    """axe-core injected into the page itself (JavaScript on): to confirm the copies match."""
    page.evaluate(_axe_script())
    result = page.evaluate("options => axe.run(document, options)", AXE_OPTIONS)
    return [
        {"id": v["id"], "nodes": [n["target"] for n in v["nodes"]]} for v in result["violations"]
    ]


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


# ------------------------------------------------------------------ drivers

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


# ------------------------------------------------------------------ pages


class Journey:
    """One person's browser tab: the page, how they drive it, and what every page is checked for."""

    def __init__(self, page, driver=None, checks: Checks | None = None, today: date | None = None):
        self.page = page
        self.driver = driver or Mouse(page)
        self.checks = checks or Checks()
        self.today = today or date.today()

    def landed(self) -> BasePage:
        """Return the page object of wherever the browser is now (runs the checks)."""
        path = urlsplit(self.page.url).path
        if path.startswith("/step/"):
            return StepPage(self)
        if path.startswith("/r/"):
            return ResumeLinkPage(self)
        cls = {
            "/": StartPage,
            "/review": ReviewPage,
            "/done": ResultPage,
            "/saved": SavedPage,
            "/resume": ResumePage,
            "/submit": ReviewPage,  # the review page again, with an error
        }.get(path)
        assert cls is not None, f"unexpected page {self.page.url}"
        return cls(self)

    def open(self, url: str) -> BasePage:
        self.page.goto(url)
        return self.landed()


class BasePage:
    path = ""

    def __init__(self, journey: Journey) -> None:
        self.journey = journey
        self.page = journey.page
        self.driver = journey.driver
        journey.checks(self.page, self.name)

    @property
    def name(self) -> str:
        return self.path.strip("/") or "start"

    @property
    def title(self) -> str:
        return self.page.title()

    def heading(self) -> str:
        return self.page.locator("h1").inner_text()

    def _go(self, selector: str) -> BasePage:
        self.driver.press(selector)
        return self.journey.landed()

    def error_summary_links(self) -> list[tuple[str, str]]:
        """(target id, text) of every link in the error summary."""
        links = self.page.locator("[data-error-summary] a")
        return [
            (links.nth(i).get_attribute("href").lstrip("#"), links.nth(i).inner_text())
            for i in range(links.count())
        ]

    def urgent_card(self):
        return self.page.locator("#urgent")

    def language(self) -> str:
        return self.page.evaluate("document.documentElement.lang")

    def switch_language(self, code: str) -> BasePage:
        """Press the language switch in the page header (it keeps what was typed)."""
        return self._go(f'header button.language-switch__button[lang="{code}"]')


class StartPage(BasePage):
    path = "/"

    def start(self) -> StepPage:
        page = self._go("a.button")
        assert isinstance(page, StepPage), page
        return page


class StepPage(BasePage):
    @property
    def step_id(self) -> str:
        return urlsplit(self.page.url).path.rsplit("/", 1)[-1]

    @property
    def name(self) -> str:
        return self.step_id

    # -- answering
    def choose(self, qid: str, code: Any) -> None:
        self.driver.choose(qid, str(code))

    def tick(self, qid: str, code: str | None = None, on: bool = True) -> None:
        self.driver.set_checked(f"{qid}-{code}" if code else qid, on)

    def fill(self, field_id: str, text: str) -> None:
        self.driver.fill(field_id, text)

    def fill_date_of_birth(self, day: int, month: int, year: int) -> None:
        self.fill("dob_month", str(month))
        self.fill("dob_day", str(day))
        self.fill("dob_year", str(year))

    def checked(self, qid: str) -> list[str]:
        """The codes ticked or chosen for a question, as the browser shows them now."""
        return self.page.eval_on_selector_all(
            f'input[name="{qid}"]:checked', "els => els.map(e => e.value)"
        )

    def value(self, field_id: str) -> str:
        return self.page.locator(f"#{field_id}").input_value()

    def state(self) -> dict[str, Any]:
        """{question id: its value now} for every question shown: the codes picked (list),
        the text typed, or for a single tick box True/False. Questions hidden are left out."""
        return self.page.evaluate(
            """() => Object.fromEntries([...document.querySelectorAll('[id^="group-"]')]
                .filter(g => g.getClientRects().length && !g.closest('[hidden]'))
                .map(g => {
                  const qid = g.id.slice(6);
                  const field = document.getElementById(qid);
                  if (field && field.type === 'checkbox') return [qid, field.checked];
                  if (field && field.name === qid) return [qid, field.value];
                  return [qid, [...g.querySelectorAll(`input[name="${qid}"]:checked`)]
                    .map(i => i.value)];
                }))"""
        )

    def shows(self, qid: str) -> bool:
        group = self.page.locator(f"#group-{qid}")
        return group.count() == 1 and group.is_visible()

    def answer(self, answers: dict[str, Any], contact: dict[str, str] | None = None) -> None:
        """Give this page's answers from a coded answer set (only what differs is changed)."""
        step = steps.BY_ID[self.step_id]
        if "dob_day" in step.personal:
            born = date_of_birth(answers["age"], self.journey.today)
            want = (str(born.day), str(born.month), str(born.year))
            if (self.value("dob_day"), self.value("dob_month"), self.value("dob_year")) != want:
                self.fill_date_of_birth(born.day, born.month, born.year)
        state = None
        for qid in step.questions:
            value = answers.get(qid)
            state = state or self.state()
            if qid not in state:
                assert value is None or not questionnaire.is_shown(qid, answers), (
                    f"{qid} has an answer but is not shown on {self.step_id}"
                )
                continue
            kind = QUESTIONS[qid].type
            now = state[qid]
            if kind == "multi":
                wanted = set(value or ())
                for code in sorted(set(now) - wanted):  # untick first: "none" is exclusive
                    self.tick(qid, code, on=False)
                for code in sorted(wanted - set(self.checked(qid))):
                    self.tick(qid, code)
            elif kind == "bool":
                if bool(now) != bool(value):
                    self.tick(qid, on=bool(value))
            elif kind == "text":
                if now != (value or ""):
                    self.fill(qid, value or "")
            elif value is not None and now != [str(value)]:
                self.choose(qid, value)
            else:
                continue
            state = None  # an answer can show or hide a question below it
        if self.page.locator("#group-clinic").count() and not self.checked("clinic"):
            # More than one clinic: the first page asks which (not part of an answer set).
            first = self.page.locator('#group-clinic input[name="clinic"]').first
            self.choose("clinic", first.get_attribute("value"))
        if "full_name" in step.personal and contact:
            for name in ("full_name", "phone", "email"):
                if self.value(name) != contact.get(name, ""):
                    self.fill(name, contact.get(name, ""))
            if self.checked("best_time") != [contact["best_time"]]:
                self.choose("best_time", contact["best_time"])

    # -- buttons
    def continue_(self) -> BasePage:
        return self._go('button[name="action"][value="continue"]')

    def previous(self) -> BasePage:
        return self._go('button[name="action"][value="back"]')

    def save_for_later(self) -> SavedPage:
        page = self._go('button[name="action"][value="save"]')
        assert isinstance(page, SavedPage), page
        return page


class ReviewPage(BasePage):
    path = "/review"

    @property
    def name(self) -> str:
        return "review-error" if self.page.locator("[data-error-summary]").count() else "review"

    def rows(self) -> dict[str, str]:
        """{question id (or dob, full_name...): the answer as shown}."""
        return self.page.eval_on_selector_all(
            ".summary-list__row",
            """rows => Object.fromEntries(rows.map(row => [
                row.querySelector('.summary-list__actions a').hash.replace('#group-', ''),
                row.querySelector('.summary-list__value').innerText.trim()]))""",
        )

    def change(self, qid: str) -> StepPage:
        page = self._go(f'.summary-list__actions a[href$="#group-{qid}"]')
        assert isinstance(page, StepPage), page
        return page

    def submit(self, consent: bool = True) -> BasePage:
        self.driver.set_checked("consent", consent)
        return self._go('form[data-once] button[type="submit"]')


class ResultPage(BasePage):
    path = "/done"

    def headline(self) -> str:
        if self.page.locator(".result-headline").count():
            return self.page.locator(".result-headline").inner_text()
        return self.page.locator("#urgent").inner_text()

    def reference(self) -> str:
        return self.page.locator("#reference").inner_text()


class SavedPage(BasePage):
    path = "/saved"

    def code(self) -> str:
        return self.page.locator("#resume-code").inner_text()

    def link(self) -> str:
        return self.page.locator(".resume-link a").get_attribute("href")

    def go_on(self) -> BasePage:
        return self._go("main a.button")


class ResumePage(BasePage):
    path = "/resume"


class ResumeLinkPage(BasePage):
    """A resume link opened in a browser without the form: the date of birth first."""

    path = "/r/link"

    @property
    def name(self) -> str:
        return "resume-link"

    def open_with(self, born: date) -> BasePage:
        self.driver.fill("dob_month", str(born.month))
        self.driver.fill("dob_day", str(born.day))
        self.driver.fill("dob_year", str(born.year))
        return self._go('main form button[type="submit"]')


# ------------------------------------------------------------------ the whole journey


def date_of_birth(age: int, today: date) -> date:
    return date(today.year - age, today.month, min(today.day, 28))


def complete_with(
    journey: Journey,
    answers: dict[str, Any],
    contact: dict[str, str],
    start: BasePage | None = None,
    stop_at: str | None = None,
) -> BasePage:
    """Answer every page from ``answers``, from the start page (or ``start``) to the review.

    Stops early on the step ``stop_at``. Returns the page reached.
    """
    page = start or journey.open("/")
    if isinstance(page, StartPage):
        page = page.start()
    seen: Counter[str] = Counter()
    while isinstance(page, StepPage):
        if page.step_id == stop_at:
            return page
        seen[page.step_id] += 1
        # A page comes back once after an emergency answer (to show the urgent card).
        assert seen[page.step_id] <= 2, f"stuck on {page.step_id}: {page.error_summary_links()}"
        page.answer(answers, contact)
        before = page.step_id
        page = page.continue_()
        if isinstance(page, StepPage) and page.step_id == before:
            assert page.error_summary_links() == [], page.error_summary_links()
    return page


def visible_text(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()
