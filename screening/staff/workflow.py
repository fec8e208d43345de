"""Working a submission: status, assignment and notes, each recorded and audited.

Changes are conditional updates on the submission's ``version``: when two people change
the same submission at once, the second is refused with :class:`Conflict` (and shown the
latest state) instead of silently overwriting the first.
"""

from __future__ import annotations

from sqlalchemy import update

from screening import audit
from screening.extensions import db
from screening.models import (
    STATUS_MOVES,
    StaffUser,
    Submission,
    SubmissionChange,
    SubmissionNote,
    utcnow,
)

NOTE_MAX = 2000


class Conflict(RuntimeError):
    """Someone else changed the submission since the page was loaded."""


class NotAllowed(ValueError):
    """The change is not one the workflow allows."""


def _bump(submission: Submission, expected_version: int, **values: object) -> None:
    result = db.session.execute(
        update(Submission)
        .where(Submission.id == submission.id, Submission.version == expected_version)
        .values(version=expected_version + 1, **values)
    )
    if result.rowcount != 1:
        db.session.rollback()
        raise Conflict


def change_status(
    submission: Submission, expected_version: int, new: str, actor: StaffUser
) -> None:
    """Move a submission along the workflow.

    :raise NotAllowed: if ``new`` is not a next status of the current one.
    :raise Conflict: if the submission changed since ``expected_version``.
    """
    old = submission.status
    if new not in STATUS_MOVES.get(old, ()):
        raise NotAllowed(f"A submission that is {old} cannot become {new}.")
    _bump(submission, expected_version, status=new)
    db.session.add(
        SubmissionChange(
            submission_id=submission.id, actor_id=actor.id, field="status", old=old, new=new
        )
    )
    audit.record(
        "submission.status", submission_id=submission.id, detail={"from": old, "to": new}
    )  # commits the change and its audit row together


def assign(
    submission: Submission, expected_version: int, assignee: StaffUser | None, actor: StaffUser
) -> None:
    """Assign a submission to a staff member (None to unassign)."""
    old = submission.assigned_to.username if submission.assigned_to else None
    new_id = assignee.id if assignee else None
    _bump(submission, expected_version, assigned_to_id=new_id)
    new = assignee.username if assignee else None
    db.session.add(
        SubmissionChange(
            submission_id=submission.id, actor_id=actor.id, field="assigned", old=old, new=new
        )
    )
    audit.record("submission.assign", submission_id=submission.id, target=new)


def add_note(submission: Submission, text: str, actor: StaffUser) -> SubmissionNote:
    """Append a note (notes never conflict: nothing is overwritten)."""
    note = SubmissionNote(
        submission_id=submission.id, author_id=actor.id, text=text, created_at=utcnow()
    )
    db.session.add(note)
    audit.record("submission.note", submission_id=submission.id)
    return note
