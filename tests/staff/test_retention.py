"""Retention: finished submissions are purged after their clinic's period, audited.

README, "Retention", says what the period is and who sets it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import time_machine
from sqlalchemy import func, select

from screening.audit import AuditEvent
from screening.extensions import db
from screening.models import (
    Clinic,
    Draft,
    Event,
    SearchToken,
    Submission,
    SubmissionChange,
    SubmissionNote,
)
from screening.staff import accounts
from tests.factories import CONTACT, answers, send_directly
from tests.patient_client import Patient, clinic_today
from tests.staff.helpers import make_staff

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


def send(app, name: str, sent: datetime) -> int:
    """A patient sends the form to North Clinic at ``sent``; returns the submission id."""
    with time_machine.travel(sent, tick=False):
        return send_directly(app, answers(), {**CONTACT, "full_name": name}).id


def move(app, submission_id: int, clinic: str) -> None:
    with app.app_context():
        item = db.session.get(Submission, submission_id)
        item.clinic_id = accounts.clinic_by_name(clinic).id
        db.session.commit()


def finish(app, submission_id: int, status: str, at: datetime, actor_id: int) -> None:
    """Close a submission (or mark it not proceeding) at ``at``, with a note, as staff do."""
    with app.app_context():
        item = db.session.get(Submission, submission_id)
        item.status, item.is_open = status, False
        db.session.add(
            SubmissionChange(
                submission_id=item.id,
                actor_id=actor_id,
                field=Event.STATUS,
                old="scheduled",
                new=status,
                at=at,
            )
        )
        db.session.add(
            SubmissionNote(submission_id=item.id, author_id=actor_id, text="done", created_at=at)
        )
        db.session.commit()


def count(app, model, submission_id: int) -> int:
    with app.app_context():
        column = model.submission_id if model is not Submission else Submission.id
        return db.session.scalar(select(func.count()).where(column == submission_id))


def test_finished_submissions_past_their_clinics_period_are_purged_with_an_audit_row(app):
    runner = app.test_cli_runner()
    year = timedelta(days=365)
    old_north = send(app, "Abe Old", NOW - 8 * year)
    recent_north = send(app, "Bea Recent", NOW - 2 * year)
    old_south = send(app, "Cal Old", NOW - timedelta(days=90))
    open_south = send(app, "Dee Open", NOW - timedelta(days=90))
    fresh_south = send(app, "Eve Fresh", NOW - timedelta(days=90))
    assert runner.invoke(args=["clinic", "add", "South Clinic"]).exit_code == 0
    result = runner.invoke(args=["clinic", "edit", "South Clinic", "--retention-days", "30"])
    assert result.exit_code == 0, result.output
    for item in (old_south, open_south, fresh_south):
        move(app, item, "South Clinic")
    admin = make_staff(app, "ada.admin", "admin")
    finish(app, old_north, "closed", NOW - 8 * year + timedelta(days=30), admin.id)
    finish(app, recent_north, "not_proceeding", NOW - year, admin.id)
    finish(app, old_south, "not_proceeding", NOW - timedelta(days=40), admin.id)
    finish(app, fresh_south, "closed", NOW - timedelta(days=10), admin.id)
    with time_machine.travel(NOW, tick=False):
        dry = runner.invoke(args=["submissions", "purge", "--dry-run"])
        assert "2 submission(s) are past their retention period." in dry.output
        assert count(app, Submission, old_north) == 1
        result = runner.invoke(args=["submissions", "purge"])
    assert result.exit_code == 0, result.output
    assert "Deleted 2 submission(s)" in result.output
    for gone in (old_north, old_south):
        for model in (Submission, SubmissionNote, SubmissionChange, SearchToken, Draft):
            assert count(app, model, gone) == 0, (gone, model)
    for kept in (recent_north, open_south, fresh_south):
        assert count(app, Submission, kept) == 1
        assert count(app, SearchToken, kept) > 0
    with app.app_context():
        purges = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "submission.purge")
        ).all()
        assert [row.detail["ids"] for row in purges] == [[old_north, old_south]]
        # The trail keeps what happened to them before, and still verifies.
        assert db.session.scalar(select(func.count()).where(AuditEvent.action == "clinic.update"))
    verify = runner.invoke(args=["audit", "verify"])
    assert verify.exit_code == 0, verify.output
    assert runner.invoke(args=["submissions", "verify"]).exit_code == 0


def test_a_finished_submission_without_a_recorded_change_counts_from_when_it_was_sent(app):
    sent = send(app, "Fay Imported", NOW - timedelta(days=8 * 365))
    with app.app_context():
        item = db.session.get(Submission, sent)
        item.status, item.is_open = "closed", False
        db.session.commit()
    with time_machine.travel(NOW, tick=False):
        result = app.test_cli_runner().invoke(args=["submissions", "purge"])
    assert "Deleted 1 submission(s)" in result.output
    assert count(app, Submission, sent) == 0


def test_open_work_is_never_purged_however_old(app):
    sent = send(app, "Gus Waiting", NOW - timedelta(days=20 * 365))
    with time_machine.travel(NOW, tick=False):
        result = app.test_cli_runner().invoke(args=["submissions", "purge"])
    assert "Deleted 0 submission(s)" in result.output
    assert count(app, Submission, sent) == 1


def test_a_clinics_period_is_checked_and_can_go_back_to_the_default(app):
    runner = app.test_cli_runner()
    refused = runner.invoke(args=["clinic", "edit", "North Clinic", "--retention-days", "5"])
    assert refused.exit_code != 0 and "from 30 to 36500" in refused.output
    assert (
        runner.invoke(args=["clinic", "edit", "North Clinic", "--retention-days", "400"]).exit_code
        == 0
    )
    with app.app_context():
        assert db.session.scalar(select(Clinic.retention_days)) == 400
    assert (
        runner.invoke(
            args=["clinic", "edit", "North Clinic", "--retention-days", "default"]
        ).exit_code
        == 0
    )
    with app.app_context():
        assert db.session.scalar(select(Clinic.retention_days)) is None


def test_purging_expired_drafts_is_audited_with_their_ids(app):
    with time_machine.travel(NOW - timedelta(days=40), tick=False):
        patient = Patient(app.test_client())
        patient.get("/start")
        patient.complete(answers(), clinic_today(app), CONTACT)
    with app.app_context():
        ids = list(db.session.scalars(select(Draft.id)))
    assert ids
    with time_machine.travel(NOW, tick=False):
        result = app.test_cli_runner().invoke(args=["drafts", "purge"])
    assert f"Deleted {len(ids)} expired draft(s)." in result.output
    with app.app_context():
        (row,) = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "draft.purge"))
        assert row.detail == {"ids": ids, "count": len(ids)}
        assert db.session.scalar(select(func.count()).select_from(Draft)) == 0
