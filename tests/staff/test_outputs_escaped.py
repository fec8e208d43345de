"""Patient words on every staff output are only ever text, and export needs a fresh sign-in.

Escaped patient words: a patient fills every free-text question, and their name, with markup
that would run if it reached a page unescaped. It is stored exactly as typed; the queue,
search results, submission page, print view and audit report show it escaped (never as
markup); the PDF shows it as the same visible characters; the CSV holds it as a plain quoted
cell.

A fresh sign-in for exports: the CSV export (every patient's data in a date range) asks for
the password and code again once the last check is older than ``STAFF_FRESH_MINUTES``;
without that nothing is exported and nothing is recorded as exported.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta
from html import escape

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from screening.audit import AuditEvent
from screening.extensions import db
from screening.models import Submission
from tests.factories import CONTACT, send_directly
from tests.free_text import TEXT_QUESTIONS, every_text
from tests.patient_client import clinic_today
from tests.staff.helpers import StaffClient, make_staff

SCRIPT = "<script>alert(1)</script>"
IMAGE = '"><img src=x onerror=alert(1)>'
PAYLOAD = SCRIPT + IMAGE
#: What Jinja writes for it: every character that means something in HTML escaped.
ESCAPED = escape(PAYLOAD, quote=True).replace("&quot;", "&#34;").replace("&#x27;", "&#39;")


def send_hostile_form(app) -> Submission:
    """A patient whose every free-text answer, and name, is the payload (each page's form
    check and the submit function, as over HTTP: see tests/test_factories.py)."""
    given = every_text(lambda _qid: PAYLOAD)
    return send_directly(app, given, {**CONTACT, "full_name": PAYLOAD})


def assert_only_escaped(html: str, at_least: int, where: str) -> None:
    for raw in (SCRIPT, "<img src=x", "onerror=alert(1)>"):
        assert raw not in html, f"{where}: {raw!r} reached the page as markup"
    assert html.count(ESCAPED) >= at_least, f"{where}: {html.count(ESCAPED)} escaped copies"


def test_patient_markup_is_text_on_every_staff_output(app, clock, tmp_path):
    # Given a submission whose every free-text answer and name is markup
    item = send_hostile_form(app)
    assert item.personal["full_name"] == PAYLOAD
    assert {qid: item.answers[qid] for qid in TEXT_QUESTIONS} == dict.fromkeys(
        TEXT_QUESTIONS, PAYLOAD
    )
    admin = StaffClient(app.test_client())
    admin.sign_in(make_staff(app, "ada.admin", "admin"))

    # When staff open every output that shows it
    admin.get("/staff/")
    pages = {
        "queue": admin.get("/staff/"),
        "search": admin.post("/staff/search", {"q": item.reference}),
        "submission": admin.get(f"/staff/submissions/{item.public_id}"),
        "print": admin.get(f"/staff/submissions/{item.public_id}/print"),
        "audit": admin.get(f"/staff/admin/audit/submission?reference={item.reference}"),
    }
    pdf = admin.get(f"/staff/submissions/{item.public_id}/summary.pdf")
    admin.get("/staff/export")
    today = clinic_today(app).isoformat()
    exported = admin.post("/staff/export", {"start": today, "end": today})

    # Then the pages hold it only escaped: the detail page and print view every answer
    # and the name; the lists and the audit report nothing of it as markup
    shown_everywhere = len(TEXT_QUESTIONS) + 1
    for where, response in pages.items():
        assert response.status_code == 200, where
        html = response.get_data(as_text=True)
        full = where in ("submission", "print")
        assert_only_escaped(html, shown_everywhere if full else 0, where)
    # And the PDF shows the characters as text (markup would have vanished into layout)
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.data)).pages)
    squeezed = re.sub(r"\s+", "", text)
    assert squeezed.count(re.sub(r"\s+", "", PAYLOAD)) >= 2, text[:3000]
    # And the CSV holds each as a plain quoted cell, character for character
    assert exported.status_code == 200 and exported.mimetype == "text/csv"
    body = exported.data.decode("utf-8-sig")
    _labels, fields, row = list(csv.reader(io.StringIO(body)))
    cells = dict(zip(fields, row, strict=True))
    assert [key for key, value in cells.items() if value == PAYLOAD] == sorted(
        [key for key in cells if key in TEXT_QUESTIONS or key == "full_name"],
        key=list(cells).index,
    )
    assert body.count(f'"{PAYLOAD.replace(chr(34), chr(34) * 2)}"') == shown_everywhere


def test_the_escaping_check_would_see_markup(app):
    with pytest.raises(AssertionError, match="as markup"):
        assert_only_escaped(f"<p>{PAYLOAD}</p>", 0, "a page")
    assert_only_escaped(f"<p>{ESCAPED}</p>", 1, "a page")


# ------------------------------------------------------------------ fresh sign-in for exports


def exports_recorded(app) -> int:
    with app.app_context():
        return len(
            db.session.scalars(
                select(AuditEvent).where(AuditEvent.action == "submission.export")
            ).all()
        )


def test_export_asks_for_the_password_and_code_again_after_the_fresh_window(app, clock):
    # Given an intake worker who signed in, and a form sent today
    account = make_staff(app, "ivy", "intake", clinics=["North Clinic"])
    desk = StaffClient(app.test_client())
    desk.sign_in(account)
    send_hostile_form(app)
    today = clinic_today(app).isoformat()
    minutes = app.config["STAFF_FRESH_MINUTES"]
    assert desk.get("/staff/export").status_code == 200  # just signed in: fresh

    # When more than the fresh window has passed since the sign-in (but less than the
    # idle sign-out), and they open the export or send its form (a token still valid)
    clock.shift(timedelta(minutes=minutes, seconds=30))
    opened = desk.get("/staff/export")
    sent = desk.post("/staff/export", {"start": today, "end": today})

    # Then both go to the password-and-code page, and nothing is exported or recorded
    for response in (opened, sent):
        assert response.status_code == 302
        assert response.headers["Location"] == "/staff/confirm?next=/staff/export"
        assert response.mimetype != "text/csv"
    assert exports_recorded(app) == 0

    # When they give a wrong code, then the right password and code
    desk.get("/staff/confirm?next=/staff/export")
    wrong = desk.post(
        "/staff/confirm?next=/staff/export", {"password": account.password, "code": "000000"}
    )
    assert wrong.status_code == 401
    assert desk.get("/staff/export").status_code == 302  # still not fresh
    clock.shift(30)  # the next TOTP step
    desk.get("/staff/confirm?next=/staff/export")
    confirmed = desk.post(
        "/staff/confirm?next=/staff/export",
        {"password": account.password, "code": account.code()},
    )
    assert confirmed.status_code == 302 and confirmed.headers["Location"] == "/staff/export"

    # Then the export works, and is recorded once
    desk.get("/staff/export")
    exported = desk.post("/staff/export", {"start": today, "end": today})
    assert exported.status_code == 200 and exported.mimetype == "text/csv"
    assert exports_recorded(app) == 1

    # And the window runs from that check: just inside it the export still works, just
    # past it the password and code are asked again
    clock.shift(timedelta(minutes=minutes - 1))
    assert desk.get("/staff/export").status_code == 200
    clock.shift(timedelta(minutes=1, seconds=30))
    assert desk.get("/staff/export").headers["Location"] == "/staff/confirm?next=/staff/export"
