"""A staff change and its audit row are committed together, by the view, or not at all;
refusals that write nothing else still commit their audit row (README, "Transactions").

On the real database: SQLite by default, PostgreSQL with DATABASE_URL.
"""

from __future__ import annotations

import re
import sqlite3

import pytest
from sqlalchemy import event, select
from sqlalchemy.exc import OperationalError

from screening import audit
from screening.audit import AuditEvent
from screening.extensions import db
from screening.models import Event, Submission, SubmissionChange
from tests.staff.helpers import StaffClient, make_staff
from tests.staff.test_workflow import send


@pytest.fixture()
def desk(app, clock):
    """An intake worker of the only clinic, signed in."""
    client = StaffClient(app.test_client())
    client.sign_in(make_staff(app, "ivy", "intake", clinics=["North Clinic"]))
    return client


def actions(app) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


def status_lines(app, item) -> int:
    with app.app_context():
        return len(
            db.session.scalars(
                select(SubmissionChange).where(
                    SubmissionChange.submission_id == item.id,
                    SubmissionChange.field == Event.STATUS,
                )
            ).all()
        )


def test_a_status_change_whose_commit_fails_keeps_neither_the_change_nor_its_row(app, desk, clock):
    item = send(app)
    url = f"/staff/submissions/{item.public_id}"
    version = re.search(r'name="version" value="(\d+)"', desk.get(url).get_data(as_text=True))
    before = actions(app)
    with app.app_context():
        engine = db.engine
    refused = []

    def disk_full_once(conn):
        if not refused:
            refused.append(True)
            error = sqlite3.OperationalError("database or disk is full")
            raise OperationalError("COMMIT", {}, error)

    event.listen(engine, "commit", disk_full_once)
    try:
        response = desk.post(f"{url}/status", {"status": "in_review", "version": version[1]})
    finally:
        event.remove(engine, "commit", disk_full_once)
    assert refused and response.status_code == 503
    # The audit row was written in the request's transaction; the failed commit took it
    # back with the change: no status, no timeline line, no row.
    with app.app_context():
        assert db.session.get(Submission, item.id).status == "new"
    assert status_lines(app, item) == 0
    assert actions(app) == before
    # Sent again, both are stored, and the chain has no gap.
    response = desk.post(f"{url}/status", {"status": "in_review", "version": version[1]})
    assert response.status_code == 303
    with app.app_context():
        assert db.session.get(Submission, item.id).status == "in_review"
    with app.app_context():
        assert audit.verify_chain() == []
    assert status_lines(app, item) == 1
    assert actions(app)[len(before) :] == ["submission.status"]


def test_a_refusal_commits_its_audit_row_though_nothing_else_is_written(app, clock):
    item = send(app)
    doctor = StaffClient(app.test_client())
    doctor.sign_in(make_staff(app, "doc", "clinician", clinics=["North Clinic"]))
    url = f"/staff/submissions/{item.public_id}/status"
    response = doctor.post(url, {"status": "in_review", "version": "1"})
    assert response.status_code == 403
    assert actions(app)[-1] == "authz.denied"
    stranger = StaffClient(app.test_client())
    stranger.get("/staff/login")
    response = stranger.post("/staff/login", {"username": "doc", "password": "not it at all"})
    assert response.status_code == 401
    assert actions(app)[-1] == "auth.login_failed"
