"""The queue's batch PDF: up to 200 summaries, made in the background, audited once.

The tests lower the limits (``SUMMARY_BATCH_MAX``, ``SUMMARY_BATCH_INLINE_MAX``) so that a
full batch is a dozen pages, not two hundred: the code is the same, and the time and memory
of real 50 and 200 batches are measured by tests/benchmarks/bench_summary_pdf.py. Rows are
inserted in one statement, with the lightest realistic answers (the spec's baseline).
"""

from __future__ import annotations

import secrets
import threading
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import insert, select, update

from screening import integrity
from screening.audit import AuditEvent
from screening.extensions import db
from screening.models import Submission
from screening.scoring import questionnaire, score
from screening.staff import accounts
from screening.staff.batches import SummaryBatch
from screening.submissions import apply_result
from tests.factories import answers
from tests.staff.helpers import StaffClient, make_staff
from tests.test_results import pdf_pages

CLINIC = "North Clinic"


def add_submissions(app, count: int) -> list[str]:
    """``count`` scored submissions of the baseline answers, in one insert; public ids."""
    given = answers()
    result = score(given)
    personal = {
        "full_name": "Robin Baseline",
        "dob": "1980-04-02",
        "phone": "(617) 555-0100",
        "best_time": "morning",
    }
    with app.app_context():
        clinic = accounts.clinic_by_name(CLINIC)
        start = datetime(2026, 11, 20, 14, 0, tzinfo=UTC)
        rows = []
        for number in range(count):
            public_id = secrets.token_hex(16)
            row = SimpleNamespace(
                public_id=public_id,
                reference=f"{number:03d}-BAT-PDF",
                submit_key=f"batch-{public_id}",
                answers=given,
                personal=personal,
                language="en",
                clinic_id=clinic.id,
                questionnaire_version=questionnaire.VERSION,
                started_at=start,
                submitted_at=start + timedelta(minutes=number),
            )
            apply_result(row, result)  # type: ignore[arg-type]
            row.digest = integrity.digest_of(vars(row))
            rows.append(vars(row))
        db.session.execute(insert(Submission.__table__), rows)
        db.session.commit()
    return [r["public_id"] for r in rows]


@pytest.fixture()
def desk(app):
    """An intake worker of the clinic, signed in, with the queue's CSRF token."""
    account = make_staff(app, "ivy", "intake", clinics=[CLINIC])
    client = StaffClient(app.test_client())
    client.sign_in(account)
    client.get("/staff/")
    return client


def wait_until_made(desk: StaffClient, page: str) -> dict:
    """The batch's state once the thread making it has ended (the event that matters)."""
    for thread in threading.enumerate():
        if thread.name.startswith("summary-batch-"):
            thread.join()
    return desk.client.get(page + "/status").get_json()


def pdf_audits(app) -> list[list[int]]:
    with app.app_context():
        return [
            sorted((event.detail or {}).get("ids") or [event.submission_id])
            for event in db.session.scalars(
                select(AuditEvent).where(AuditEvent.action == "submission.pdf")
            )
        ]


def test_a_full_batch_makes_one_pdf_and_one_audit_record(app, desk, tmp_path, monkeypatch):
    app.config.update(SUMMARY_BATCH_MAX=12, SUMMARY_BATCH_INLINE_MAX=3)
    monkeypatch.setattr("screening.pdf.CHUNK", 5)  # several chunks joined into one PDF
    ids = add_submissions(app, 13)
    sent = desk.client.post("/staff/summaries.pdf", data={"ids": ids, "csrf_token": desk.token})
    assert sent.status_code == 303  # to the progress page: big batches outlast a request
    page = sent.headers["Location"]
    html = desk.get(page).get_data(as_text=True)
    assert 'role="status"' in html and "Preparing 12 summaries" in html
    assert '<noscript><meta http-equiv="refresh"' in html  # without JavaScript it reloads

    state = wait_until_made(desk, page)
    assert state["state"] == "done", state
    assert state["done"] == state["total"] == 12
    assert "Your PDF of 12 summaries is ready" in desk.get(page).get_data(as_text=True)
    pdf = desk.client.get(state["pdf_url"])
    assert pdf.mimetype == "application/pdf"
    assert pdf_pages(pdf.data, tmp_path) == 12
    with app.app_context():
        by_public_id = dict(db.session.execute(select(Submission.public_id, Submission.id)).all())
    # The cap: the first 12 picked, the 13th left out; one audit record names them all.
    assert pdf_audits(app) == [sorted(by_public_id[public_id] for public_id in ids[:12])]


def test_a_small_batch_comes_back_at_once_and_the_queue_says_the_limit(app, desk, tmp_path):
    ids = add_submissions(app, 3)
    page = desk.get("/staff/").get_data(as_text=True)
    assert "up to 200 at a time" in page and "data-batch-form" in page
    sent = desk.client.post("/staff/summaries.pdf", data={"ids": ids, "csrf_token": desk.token})
    assert sent.mimetype == "application/pdf" and pdf_pages(sent.data, tmp_path) == 3
    assert len(pdf_audits(app)) == 1
    with app.app_context():
        assert db.session.scalar(select(SummaryBatch)) is None  # nothing kept


def test_a_background_batch_is_only_for_the_person_who_asked(app, desk, tmp_path):
    app.config["SUMMARY_BATCH_INLINE_MAX"] = 1
    ids = add_submissions(app, 2)
    sent = desk.client.post("/staff/summaries.pdf", data={"ids": ids, "csrf_token": desk.token})
    page = sent.headers["Location"]
    state = wait_until_made(desk, page)
    assert state["state"] == "done"
    assert pdf_pages(desk.client.get(state["pdf_url"]).data, tmp_path) == 2

    other = StaffClient(app.test_client())
    other.sign_in(make_staff(app, "olga", "intake", clinics=[CLINIC]))
    assert other.client.get(page).status_code == 404
    assert other.client.get(state["pdf_url"]).status_code == 404
    # Once expired it is gone, for everyone; the next batch deletes it from the database.
    with app.app_context():
        past = datetime.now(UTC) - timedelta(minutes=1)
        db.session.execute(update(SummaryBatch).values(expires_at=past))
        db.session.commit()
    assert desk.client.get(state["pdf_url"]).status_code == 404
    again = desk.client.post("/staff/summaries.pdf", data={"ids": ids, "csrf_token": desk.token})
    assert wait_until_made(desk, again.headers["Location"])["state"] == "done"
    with app.app_context():
        kept = db.session.scalars(select(SummaryBatch.public_id)).all()
    assert kept == [again.headers["Location"].rsplit("/", 1)[1]]


def test_a_batch_that_stopped_says_so_and_too_many_at_once_wait(app, desk):
    app.config["SUMMARY_BATCH_INLINE_MAX"] = 1
    ids = add_submissions(app, 2)
    sent = desk.client.post("/staff/summaries.pdf", data={"ids": ids, "csrf_token": desk.token})
    page = sent.headers["Location"]
    assert wait_until_made(desk, page)["state"] == "done"
    # As if the worker had restarted mid-way: no progress for longer than the limit.
    with app.app_context():
        old = datetime.now(UTC) - timedelta(minutes=10)
        db.session.execute(update(SummaryBatch).values(state="running", updated_at=old))
        db.session.commit()
    assert desk.client.get(page + "/status").get_json()["state"] == "stopped"
    assert "the server restarted" in desk.get(page).get_data(as_text=True)

    app.config["SUMMARY_BATCH_RUNNING_MAX"] = 0
    busy = desk.post("/staff/summaries.pdf", {"ids": ids}, follow_redirects=True)
    assert "Try again in a minute" in busy.get_data(as_text=True)
    assert len(pdf_audits(app)) == 1  # the refused batch was not audited
