"""Page objects for the staff journey: sign in with the second factor, the queue, a submission.

Like the patient's page objects (:mod:`tests.browser.patient_pages`), each staff page runs the
journey's :class:`~tests.browser.checks.Checks` (axe-core, WCAG 2.0/2.1/2.2 A and AA) when it
is created, so a scenario cannot reach a staff page without checking it.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from tests.browser.checks import Checks, visible_text


class StaffJourney:
    """A staff member's browser tab and the checks every page it reaches gets."""

    def __init__(self, page, checks: Checks | None = None) -> None:
        self.page = page
        self.checks = checks or Checks()

    def open_login(self) -> LoginPage:
        self.page.goto("/staff/login")
        return LoginPage(self)

    def click(self, selector: str) -> None:
        with self.page.expect_navigation():
            self.page.locator(selector).click()


class StaffPage:
    #: The page's name in the checks' record (and in any failure message).
    name = ""
    #: The path the browser must be on (a regular expression, matched in full).
    path = ""

    def __init__(self, journey: StaffJourney) -> None:
        self.journey = journey
        self.page = journey.page
        where = urlsplit(self.page.url).path
        assert re.fullmatch(self.path, where), f"expected {self.path}, on {self.page.url}"
        journey.checks(self.page, self.name)

    def heading(self) -> str:
        return visible_text(self.page.locator("h1").inner_text())

    def error_summary(self) -> int:
        return self.page.locator("[data-error-summary]").count()


class LoginPage(StaffPage):
    name = "staff-login"
    path = "/staff/login"

    def sign_in(self, username: str, password: str) -> CodePage:
        self.page.locator("#username").fill(username)
        self.page.locator("#password").fill(password)
        self.journey.click('main button[type="submit"]')
        return CodePage(self.journey)


class CodePage(StaffPage):
    name = "staff-code"
    path = "/staff/code"

    def enter(self, code: str) -> QueuePage:
        self.page.locator("#code").fill(code)
        self.journey.click('main button[type="submit"]')
        return QueuePage(self.journey)


class QueuePage(StaffPage):
    name = "staff-queue"
    path = "/staff/"

    def search(self, term: str) -> SearchResults:
        self.page.locator("#q").fill(term)
        self.journey.click('form.search button[type="submit"]')
        return SearchResults(self.journey)

    def references(self) -> list[str]:
        return [
            text.strip() for text in self.page.locator("table.queue tbody td a").all_inner_texts()
        ]

    def summary_line(self) -> str:
        """The "N submissions ..." line above the table."""
        return visible_text(self.page.locator("main h1 ~ p").last.inner_text())

    def intro(self) -> str:
        """The line under the heading: which work is shown, in what order, in which zone."""
        return visible_text(self.page.locator("main h1 + p").inner_text())

    def filter_assigned_to_me(self) -> QueuePage:
        self.page.locator("#f-assigned").select_option("me")
        self.journey.click('form.filters button[type="submit"]')
        return QueuePage(self.journey)


class SearchResults(QueuePage):
    name = "staff-search-results"
    path = "/staff/search"

    def open(self, reference: str) -> SubmissionPage:
        self.journey.click(f'table.queue tbody td a:text-is("{reference}")')
        return SubmissionPage(self.journey)


class SubmissionPage(StaffPage):
    name = "staff-submission"
    path = "/staff/submissions/[^/]+(/(clinic|status|assign|notes))?"

    def facts(self) -> dict[str, str]:
        """{term: its value} of the summary box's facts list."""
        return self.page.eval_on_selector_all(
            "dl.facts dt",
            """dts => Object.fromEntries(dts.map(dt => [
                dt.innerText.trim(), dt.nextElementSibling.innerText.trim()]))""",
        )

    def print_view(self) -> PrintView:
        self.journey.click('a:text-is("Print summary")')
        return PrintView(self.journey)

    def assign_to(self, label: str) -> SubmissionPage:
        self.page.locator("#assignee").select_option(label=label)
        self.journey.click('button:text-is("Assign")')
        return SubmissionPage(self.journey)

    def add_note(self, text: str) -> SubmissionPage:
        self.page.locator("#note").fill(text)
        self.journey.click('button:text-is("Add note")')
        return SubmissionPage(self.journey)

    def timeline(self) -> list[str]:
        return [
            visible_text(line) for line in self.page.locator("ol.timeline > li").all_inner_texts()
        ]

    def download_pdf(self):
        """Click "Download PDF"; return Playwright's Download."""
        with self.page.expect_download() as info:
            self.page.locator('a:text-is("Download PDF")').click()
        return info.value


class PrintView(StaffPage):
    name = "staff-print-view"
    path = "/staff/submissions/[^/]+/print"

    def name_shown(self) -> str:
        return visible_text(self.page.locator("h1.name").inner_text())

    def prints(self) -> int:
        """How often the page called window.print (stubbed by :data:`COUNT_PRINTS`)."""
        return self.page.evaluate("window.__prints || 0")

    def press_print(self) -> None:
        self.page.locator("button[data-print]").click()

    def back(self) -> SubmissionPage:
        self.journey.click('a:text-is("Back to the submission")')
        return SubmissionPage(self.journey)


class ClinicsPage(StaffPage):
    name = "staff-clinics"
    path = "/staff/admin/clinics"


class ClinicEditPage(StaffPage):
    name = "staff-clinic-edit"
    path = "/staff/admin/clinics/[0-9]+"


class StaffErrorPage(StaffPage):
    name = "staff-error"
    path = "/staff/.*"


#: An init script that counts window.print() calls instead of opening the dialog, which a
#: headless browser cannot show.
COUNT_PRINTS = "window.__prints = 0; window.print = function () { window.__prints += 1; };"
