"""The clinician's print view in Chromium: printed from the browser, the heaviest answer set
the form accepts keeps everything but the patient's own words on the first sheet, as the PDF
does, on the same paper, from the same stylesheet."""

from __future__ import annotations

import re
import subprocess

import pytest
from sqlalchemy import select

from screening.extensions import db
from screening.models import Clinic, Submission
from tests.browser.staff_pages import COUNT_PRINTS, PrintView, StaffJourney
from tests.staff.helpers import make_staff
from tests.test_summaries import assert_first_page_holds_all_but_own_words
from tests.worst_cases import candidates

pytestmark = pytest.mark.browser

CLINIC = "North Clinic"


def pdf_texts(path) -> list[str]:
    out = subprocess.run(
        ["pdftotext", str(path), "-"], capture_output=True, text=True, check=True, timeout=30
    ).stdout
    return [" ".join(page.split()) for page in out.split("\f") if page.strip()]


def page_size(path) -> str:
    info = subprocess.run(
        ["pdfinfo", str(path)], capture_output=True, text=True, check=True, timeout=30
    ).stdout
    return re.search(r"^Page size:\s+(.+)$", info, re.M).group(1)


def test_the_worst_case_prints_from_the_browser_on_one_sheet_like_its_pdf(
    open_context, live_server, tmp_path
):
    app = live_server.app
    with app.app_context():
        worst = next(candidates(4))  # the first has every box ticked and every text full
        worst.clinic_id = db.session.scalar(select(Clinic.id).where(Clinic.name == CLINIC))
        db.session.add(worst)
        db.session.commit()
        public_id = db.session.scalar(
            select(Submission.public_id).where(Submission.reference == worst.reference)
        )
    staff = make_staff(app, "cleo", "clinician", clinics=[CLINIC])
    page = open_context().new_page()
    page.add_init_script(COUNT_PRINTS)
    trip = StaffJourney(page)
    trip.open_login().sign_in(staff.username, staff.password).enter(staff.code())
    page.goto(f"/staff/submissions/{public_id}/print#print")
    view = PrintView(trip)
    view.page.wait_for_function("() => window.__prints === 1")  # the page asked to print

    # The browser's own print of the page, on the paper its stylesheet names.
    printed = tmp_path / "browser.pdf"
    view.page.pdf(path=str(printed), prefer_css_page_size=True, print_background=True)
    pages = pdf_texts(printed)
    assert_first_page_holds_all_but_own_words(pages, "browser print", continued=False)
    assert "Back to the submission" not in pages[0]  # the tools are not printed

    # The PDF of the same summary: the same paper and the same first page's parts.
    response = page.request.get(f"/staff/submissions/{public_id}/summary.pdf")
    made = tmp_path / "weasyprint.pdf"
    made.write_bytes(response.body())
    assert page_size(printed) == page_size(made) == "612 x 792 pts (letter)"
    for rule_id in re.findall(r"\b[RACKP]\d\d_[A-Z_]+\b", pdf_texts(made)[0]):
        assert rule_id in pages[0]
