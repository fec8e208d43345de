"""Retention: finished submissions are deleted once their clinic's period has passed.

A submission is due when it has been closed or "not proceeding" for longer than its
clinic's ``retention_days`` (or the app's ``SUBMISSION_RETENTION_DAYS``), counted from the
last status change that finished it (from when it was sent, for one finished without a
recorded change). Open work is never purged, however old.

:func:`purge` deletes each due submission with its notes, timeline, search tokens and
emptied draft, in batches; each batch is one transaction with one audit row
(``submission.purge``) listing the ids, so the trail says what went and when. The audit
trail itself is never purged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import delete, func, select

from screening import audit
from screening.extensions import db
from screening.models import (
    DONE_STATUSES,
    Clinic,
    Draft,
    Event,
    SearchToken,
    Submission,
    SubmissionChange,
    SubmissionNote,
    utcnow,
)

#: Submissions deleted per transaction (and audit row).
BATCH = 500


def period(clinic: Clinic | None) -> int:
    """Days a finished submission of ``clinic`` is kept."""
    own = clinic.retention_days if clinic is not None else None
    return own or int(current_app.config["SUBMISSION_RETENTION_DAYS"])


def due(now: datetime | None = None) -> list[int]:
    """Ids of the submissions past their clinic's retention period, oldest first."""
    now = now or utcnow()
    finished = (
        select(
            SubmissionChange.submission_id,
            func.max(SubmissionChange.at).label("finished_at"),
        )
        .where(
            SubmissionChange.field == str(Event.STATUS),
            SubmissionChange.new.in_(sorted(str(status) for status in DONE_STATUSES)),
        )
        .group_by(SubmissionChange.submission_id)
        .subquery()
    )
    since = func.coalesce(finished.c.finished_at, Submission.submitted_at)
    clinics: list[Clinic | None] = [*db.session.scalars(select(Clinic)), None]
    found: list[tuple[datetime, int]] = []
    for clinic in clinics:
        cutoff = now - timedelta(days=period(clinic))
        query = (
            select(Submission.id, since.label("since"))
            .outerjoin(finished, finished.c.submission_id == Submission.id)
            .where(Submission.is_open.is_(False), since < cutoff)
            .where(
                Submission.clinic_id == clinic.id
                if clinic is not None
                else Submission.clinic_id.is_(None)
            )
        )
        found += [(row.since, row.id) for row in db.session.execute(query)]
    return [row_id for _since, row_id in sorted(found)]


@dataclass
class Purged:
    ids: list[int] = field(default_factory=list)
    batches: int = 0


def purge(now: datetime | None = None, batch: int = BATCH) -> Purged:
    """Delete every due submission; one audit row per batch with its ids.

    A job: it commits each batch itself (the deletes with their audit row, both or
    neither), so call it outside any other unit of work.

    :raise screening.audit.AuditError: a batch's audit row could not be written; that
        batch was not deleted (nor any after it).
    """
    now = now or utcnow()
    ids = due(now)
    done = Purged()
    for start in range(0, len(ids), batch):
        chunk = ids[start : start + batch]
        for model, column in (
            (SubmissionNote, SubmissionNote.submission_id),
            (SubmissionChange, SubmissionChange.submission_id),
            (SearchToken, SearchToken.submission_id),
            (Draft, Draft.submission_id),
        ):
            db.session.execute(delete(model).where(column.in_(chunk)))
        db.session.execute(delete(Submission).where(Submission.id.in_(chunk)))
        audit.record(
            "submission.purge",
            detail={"ids": chunk, "count": len(chunk), "at": now.isoformat()},
        )
        db.session.commit()  # the batch's deletes with their audit row: both or neither
        done.ids += chunk
        done.batches += 1
    return done
