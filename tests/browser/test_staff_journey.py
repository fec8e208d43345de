"""The staff journey in a real browser (Debian's Chromium through Playwright).

A patient sends vignette V01 and is given a reference; an intake staff member signs in with
password and second factor, finds that submission by its reference, opens it, opens the
print view and downloads the PDF.

Every staff page visited (sign-in, code, queue, search results, submission, print view) is
scanned with axe-core for the WCAG 2.0, 2.1 and 2.2 A and AA rules, as the patient pages are
(``checks.Checks``), and must have 0 violations; there are no exclusions. Every request of
both browsers is recorded and must go to the app's own origin.
"""

from __future__ import annotations

import re
import subprocess

import pytest
from sqlalchemy import update

from screening import demo
from screening.extensions import db
from screening.models import Submission
from screening.staff import accounts
from tests.browser.axe import axe_violations_live
from tests.browser.checks import Checks
from tests.browser.patient_pages import Journey, complete_with
from tests.browser.staff_pages import (
    COUNT_PRINTS,
    ClinicEditPage,
    ClinicsPage,
    CodePage,
    LoginPage,
    PrintView,
    QueuePage,
    SearchResults,
    StaffErrorPage,
    StaffJourney,
    SubmissionPage,
)
from tests.browser.test_patient_journey import V01, assert_discuss
from tests.factories import CONTACT
from tests.patient_client import clinic_today
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
    # The app starts with one clinic (CLINIC), so the submission goes to it.

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
    page = open_context().new_page()
    page.add_init_script(COUNT_PRINTS)
    trip = StaffJourney(page)

    login = trip.open_login()
    assert isinstance(login, LoginPage) and login.heading() == "Sign in"
    code = login.sign_in(staff.username, staff.password)
    assert isinstance(code, CodePage) and code.heading() == "Enter your code"
    queue = code.enter(staff.code())
    assert isinstance(queue, QueuePage) and queue.heading() == "Submissions"
    # The queue opens on open work, and names the clinic's time zone once.
    assert queue.intro().startswith("Open work: emergencies first")
    assert queue.intro().endswith("Times are Eastern time (America/New_York).")
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
    # Words, not codes.
    assert facts["Outcome"].startswith("Discuss"), facts
    assert "DISCUSS" not in detail.page.locator("main").inner_text()
    assert facts["Name"] == CONTACT["full_name"]
    assert facts["Phone"] == CONTACT["phone"]
    assert facts["Clinic"] == CLINIC

    # -- take it, add a note: both at the top of its timeline, newest first
    detail = detail.assign_to(f"{staff.username} (me)")
    assert detail.timeline()[0].endswith(f"{staff.username}: Assigned to {staff.username}")
    detail = detail.add_note("Called, left a message.")
    assert detail.timeline()[0].endswith(f"{staff.username}: Note Called, left a message.")

    # -- the print view: "Print summary" opens the print dialog at once; Print and Back
    printed = detail.print_view()
    assert isinstance(printed, PrintView)
    printed.page.wait_for_function("window.__prints === 1")
    assert reference in printed.page.title()
    assert printed.name_shown() == CONTACT["full_name"]
    printed.press_print()
    assert printed.prints() == 2
    # axe injected into the live print view agrees with the scan of its copy (axe.Scanner):
    # the copy really had the print stylesheet.
    assert axe_violations_live(printed.page) == []

    # -- back to the submission, and download the PDF
    detail = printed.back()
    assert detail.timeline()[0].endswith("Opened the print view")
    download = detail.download_pdf()
    assert download.suggested_filename == f"summary-{reference}.pdf"
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    assert saved.read_bytes().startswith(b"%PDF")
    assert pdf_pages(saved) == 1

    # -- "assigned to me" lists it
    trip.click('a:text-is("Back to submissions")')
    queue = QueuePage(trip).filter_assigned_to_me()
    assert queue.references() == [reference]

    # Every staff page of the issue was reached, and so scanned by axe.
    assert trip.checks.visited == [
        "staff-login",
        "staff-code",
        "staff-queue",
        "staff-search-results",
        "staff-submission",
        "staff-submission",
        "staff-submission",
        "staff-print-view",
        "staff-submission",
        "staff-queue",
        "staff-queue",
    ]
    requests_log.assert_same_origin()


def test_admin_pages_of_a_clinic_day_pass_axe(open_context, live_server, requests_log):
    """An administrator's pages: the queue with forms that have no clinic, moving one,
    clinics, a clinic's edit page with an error, and a staff error page: axe on each."""
    app = live_server.app
    patient = Journey(open_context().new_page(), checks=Checks(axe=False), today=clinic_today(app))
    reference = complete_with(patient, V01, CONTACT).submit().reference().strip()
    with app.app_context():
        db.session.execute(update(Submission).values(clinic_id=None))  # as an earlier version
        db.session.commit()
        accounts.create_clinic("South Clinic")
        db.session.commit()
    boss = make_staff(app, "bea", "admin")
    trip = StaffJourney(open_context().new_page())
    queue = trip.open_login().sign_in(boss.username, boss.password).enter(boss.code())
    orphans = queue.page.locator("section.orphans")
    assert reference in orphans.inner_text()

    trip.click(f'section.orphans a:text-is("{reference}")')
    detail = SubmissionPage(trip)
    detail.page.locator("details.move-clinic summary").click()
    detail.page.locator("#clinic").select_option(label="South Clinic")
    trip.click('button:text-is("Move")')  # no reason: the error summary
    detail = SubmissionPage(trip)
    assert detail.error_summary() == 1
    detail.page.locator("#reason").fill("Lives near South")
    trip.click('button:text-is("Move")')
    detail = SubmissionPage(trip)
    assert "Moved to South Clinic from no clinic" in detail.timeline()[0]

    trip.click('nav a:text-is("Clinics")')
    assert ClinicsPage(trip).heading() == "Clinics"
    trip.click('table a:text-is("South Clinic")')
    edit = ClinicEditPage(trip)
    edit.page.locator("#opens_at").fill("9 in the morning")
    trip.click('button:text-is("Save")')
    edit = ClinicEditPage(trip)
    assert edit.error_summary() == 1
    trip.page.goto(f"{live_server.url}/staff/submissions/{'0' * 32}")
    StaffErrorPage(trip)
    assert trip.checks.visited == [
        "staff-login",
        "staff-code",
        "staff-queue",
        "staff-submission",
        "staff-submission",
        "staff-submission",
        "staff-clinics",
        "staff-clinic-edit",
        "staff-clinic-edit",
        "staff-error",
    ]
    requests_log.assert_same_origin()


def test_staff_pages_fit_a_320_px_screen(open_context, live_server):
    """A front-desk phone or a narrow window: the queue and a submission's page never
    make the page itself scroll sideways (the queue's table scrolls in its own region,
    the summary's labels go above their values)."""
    app = live_server.app
    with app.app_context():
        demo.seed(12, seed=5, clinics=[CLINIC])
    staff = make_staff(app, "narrow", "intake", clinics=[CLINIC])
    page = open_context().new_page()
    page.set_viewport_size({"width": 320, "height": 800})
    trip = StaffJourney(page)
    queue = trip.open_login().sign_in(staff.username, staff.password).enter(staff.code())
    assert isinstance(queue, QueuePage)
    sideways = "document.documentElement.scrollWidth - window.innerWidth"
    assert page.evaluate(sideways) <= 0
    reference = queue.references()[0]
    detail = queue.search(reference).open(reference)
    assert isinstance(detail, SubmissionPage)
    assert page.evaluate(sideways) <= 0
    # The table is still all there: its region scrolls.
    trip.click('a:text-is("Back to submissions")')
    region = page.locator(".table-scroll").first
    assert region.evaluate("r => r.scrollWidth > r.clientWidth")
