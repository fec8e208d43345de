"""The staff journey in a real browser (Debian's Chromium through Playwright).

A patient sends vignette V01 and is given a reference; an intake staff member signs in with
password and second factor, finds that submission by its reference, opens it, opens the
print view and downloads the PDF.

Every staff page visited (sign-in, code, queue, search results, submission, print view) is
scanned with axe-core for the WCAG 2.0, 2.1 and 2.2 A and AA rules, as the patient pages are
(``pages.Checks``), and must have 0 violations; there are no exclusions. Every request of
both browsers is recorded and must go to the app's own origin.
"""

from __future__ import annotations

import re
import subprocess

import pytest

from screening.staff import accounts
from tests.browser.pages import Checks, Journey, axe_violations_live, complete_with
from tests.browser.staff_pages import (
    CodePage,
    LoginPage,
    PrintView,
    QueuePage,
    SearchResults,
    StaffJourney,
    SubmissionPage,
)
from tests.browser.test_patient_journey import V01, assert_discuss
from tests.factories import CONTACT
from tests.patient import clinic_today
from tests.staff.helpers import make_staff

pytestmark = pytest.mark.browser

CLINIC = "North Clinic"


def pdf_pages(path) -> int:
    info = subprocess.run(
        ["pdfinfo", str(path)], capture_output=True, text=True, check=True, timeout=30
    ).stdout
    found = re.search(r"^Pages:\s+(\d+)$", info, re.MULTILINE)
    assert found, info
    return int(found.group(1))


def test_staff_sign_in_find_open_print_and_download(
    open_context, live_server, requests_log, tmp_path
):
    app = live_server.app
    # The only clinic, made before the patient starts, so the submission goes to it.
    with app.app_context():
        accounts.create_clinic(CLINIC)

    # -- the patient sends V01 and is given a reference
    # axe is off for the patient's pages here: they are this scenario's setup, and the same
    # pages are scanned by test_patient_journey.py (one clinic, like none, asks no clinic question).
    patient = Journey(open_context().new_page(), checks=Checks(axe=False), today=clinic_today(app))
    result = complete_with(patient, V01, CONTACT).submit()
    assert_discuss(result)
    reference = result.reference().strip()
    assert reference

    # -- an intake staff member of that clinic, in a browser of their own
    staff = make_staff(app, "ines", "intake", clinics=[CLINIC])
    trip = StaffJourney(open_context().new_page())

    login = trip.open_login()
    assert isinstance(login, LoginPage) and login.heading() == "Sign in"
    code = login.sign_in(staff.username, staff.password)
    assert isinstance(code, CodePage) and code.heading() == "Enter your code"
    queue = code.enter(staff.code())
    assert isinstance(queue, QueuePage) and queue.heading() == "Submissions"
    assert reference in queue.references()

    # -- search by the reference (a POST: nothing of the search goes into a URL)
    found = queue.search(reference)
    assert isinstance(found, SearchResults)
    assert found.page.locator("#q").input_value() == reference
    assert found.references() == [reference]
    assert found.summary_line() == "1 submission matching your search."

    # -- open it: the headline facts
    detail = found.open(reference)
    assert isinstance(detail, SubmissionPage)
    assert detail.heading() == f"Submission {reference}"
    assert detail.page.title() == f"Submission {reference} – Clinic staff"
    facts = detail.facts()
    assert facts["Outcome"] == "DISCUSS", facts
    assert facts["Name"] == CONTACT["full_name"]
    assert facts["Phone"] == CONTACT["phone"]
    assert facts["Clinic"] == CLINIC

    # -- the print view
    printed = detail.print_view()
    assert isinstance(printed, PrintView)
    assert reference in printed.page.title()
    assert printed.name_shown() == CONTACT["full_name"]
    # axe injected into the live print view agrees with the scan of its copy (pages.Scanner):
    # the copy really had the print stylesheet.
    assert axe_violations_live(printed.page) == []

    # -- back to the submission, and download the PDF
    printed.page.go_back()
    detail = SubmissionPage(trip)
    download = detail.download_pdf()
    assert download.suggested_filename == f"summary-{reference}.pdf"
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    assert saved.read_bytes().startswith(b"%PDF")
    assert pdf_pages(saved) == 1

    # Every staff page of the issue was reached, and so scanned by axe.
    assert trip.checks.visited == [
        "staff-login",
        "staff-code",
        "staff-queue",
        "staff-search-results",
        "staff-submission",
        "staff-print-view",
        "staff-submission",
    ]
    requests_log.assert_same_origin()
