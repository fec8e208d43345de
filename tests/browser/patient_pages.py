"""Page objects for the patient's journey, so the browser tests read as stories.

Every page object runs the :class:`~tests.browser.checks.Checks` of its journey when it is
created: axe-core, and optionally the layout checks and any extra checks a scenario adds. So
a scenario cannot reach a page without checking it. How the person drives the pages (mouse
or keyboard) is in :mod:`tests.browser.input_devices`.
"""

from __future__ import annotations

from collections import Counter
from datetime import date
from typing import Any
from urllib.parse import urlsplit

from screening.patient import steps
from screening.scoring import questionnaire
from tests.browser.checks import Checks
from tests.browser.input_devices import Mouse

QUESTIONS = questionnaire.QUESTIONS


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
