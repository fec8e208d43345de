"""Working a submission: status, assignment, clinic and notes, each recorded and audited.

Changes are conditional updates on the submission's ``version``: when two people change
the same submission at once, the second is refused with :class:`Conflict` (and shown the
latest state) instead of silently overwriting the first.

Every function here writes in the caller's transaction and never commits: the view
commits the change and its audit row together (README, "Transactions").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import CursorResult, insert, select, update
from sqlalchemy.orm import joinedload

from screening import audit, search_index
from screening.extensions import db
from screening.fhir.models import ApiReceipt
from screening.models import (
    DONE_STATUSES,
    STATUS_LABELS,
    STATUS_MOVES,
    Clinic,
    Event,
    Role,
    StaffUser,
    Submission,
    SubmissionChange,
    SubmissionNote,
    utcnow,
)

NOTE_MAX = 2000
#: Longest reason for moving a submission to another clinic.
REASON_MAX = 500


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
    # An UPDATE's result is a CursorResult, with the count of rows it changed.
    if not isinstance(result, CursorResult) or result.rowcount != 1:
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
        raise NotAllowed(
            f"A submission that is {STATUS_LABELS.get(old, old).lower()} cannot become "
            f"{STATUS_LABELS.get(new, 'that').lower()}."
        )
    _bump(submission, expected_version, status=new, is_open=new not in DONE_STATUSES)
    db.session.add(
        SubmissionChange(
            submission_id=submission.id, actor_id=actor.id, field=Event.STATUS, old=old, new=new
        )
    )
    audit.record("submission.status", submission_id=submission.id, detail={"from": old, "to": new})


def may_work_on(person: StaffUser, clinic_id: int | None) -> bool:
    """Whether ``person`` can be given a submission of the clinic: active, and its staff.

    Administrators work for every clinic. Clinicians read and add notes but do not take
    work from the queue, so submissions are assigned to intake staff and administrators.
    """
    if not person.active or person.role == Role.CLINICIAN:
        return False
    if person.role == Role.ADMIN:
        return True
    return clinic_id is not None and clinic_id in {clinic.id for clinic in person.clinics}


def assignable(submission: Submission) -> list[StaffUser]:
    """Who ``submission`` may be assigned to, by username."""
    people = db.session.scalars(
        select(StaffUser).where(StaffUser.active).order_by(StaffUser.username)
    ).all()
    return [person for person in people if may_work_on(person, submission.clinic_id)]


def assign(
    submission: Submission, expected_version: int, assignee: StaffUser | None, actor: StaffUser
) -> None:
    """Assign a submission to a staff member (None to unassign).

    :raise NotAllowed: if ``assignee`` may not work on it (see :func:`may_work_on`).
    """
    if assignee is not None and not may_work_on(assignee, submission.clinic_id):
        raise NotAllowed("Choose a staff member of this submission's clinic.")
    old = submission.assigned_to.username if submission.assigned_to else None
    new_id = assignee.id if assignee else None
    _bump(submission, expected_version, assigned_to_id=new_id)
    new = assignee.username if assignee else None
    db.session.add(
        SubmissionChange(
            submission_id=submission.id, actor_id=actor.id, field=Event.ASSIGNED, old=old, new=new
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


def move_to_clinic(
    submission: Submission, expected_version: int, clinic: Clinic, reason: str, actor: StaffUser
) -> None:
    """Move a submission to another clinic (administrators), with the reason why.

    A move unassigns it when its assignee does not work for the new clinic.

    :raise NotAllowed: same clinic, a retired clinic, or no reason given.
    """
    reason = " ".join(reason.split())
    if not reason:
        raise NotAllowed("Say why it moves: the reason is kept in its history.")
    if len(reason) > REASON_MAX:
        raise NotAllowed(f"The reason can be up to {REASON_MAX} characters.")
    if not clinic.active:
        raise NotAllowed(f"{clinic.name} is retired. Reactivate it first, or choose another.")
    if clinic.id == submission.clinic_id:
        raise NotAllowed(f"It is already at {clinic.name}.")
    old = submission.clinic.name if submission.clinic else None
    # Stamped again, so the new clinic's record system meets it in its feed (screening/fhir).
    values: dict[str, object] = {"clinic_id": clinic.id, "feed_updated_at": utcnow()}
    if submission.assigned_to is not None and not may_work_on(submission.assigned_to, clinic.id):
        values["assigned_to_id"] = None
    _bump(submission, expected_version, **values)
    search_index.move_clinic(db.session, submission.id, clinic.id)
    db.session.add(
        SubmissionChange(
            submission_id=submission.id,
            actor_id=actor.id,
            field=Event.CLINIC,
            old=old,
            new=clinic.name,
            reason=reason,
        )
    )
    audit.record(
        "submission.move_clinic",
        submission_id=submission.id,
        target=clinic.name,
        detail={"from": old, "reason": reason},
    )


def record_output(
    submission_ids: Sequence[int], event: Event, actor: StaffUser, at: datetime | None = None
) -> None:
    """Add a print, PDF or export line to the timeline of each submission (no commit).

    One insert for the lot, so a large export costs one statement.
    """
    if not submission_ids:
        return
    moment = at or utcnow()
    db.session.execute(
        insert(SubmissionChange),
        [
            {"submission_id": sid, "actor_id": actor.id, "field": event, "at": moment}
            for sid in submission_ids
        ],
    )


@dataclass(frozen=True)
class Line:
    """One line of a submission's timeline, newest first on the page."""

    at: datetime
    who: str
    kind: str
    #: What happened, in words.
    text: str
    #: A note's text, or a clinic move's reason.
    body: str = ""


def _status_words(status: str | None) -> str | None:
    return STATUS_LABELS.get(status, status) if status else status


def _words(change: SubmissionChange) -> str:
    old, new = change.old, change.new
    if change.field == Event.STATUS:
        return f"Status changed from {_status_words(old)} to {_status_words(new)}"
    if change.field == Event.ASSIGNED:
        if new is None:
            return f"Unassigned (was {old})" if old else "Unassigned"
        return f"Assigned to {new}" + (f" (was {old})" if old else "")
    if change.field == Event.CLINIC:
        return f"Moved to {new} from {old or 'no clinic'}"
    words: dict[str, str] = {
        Event.PRINT: "Opened the print view",
        Event.PDF: "Downloaded the summary PDF",
        Event.EXPORT: "Exported in a CSV file",
    }
    return words.get(change.field, change.field)


def timeline(submission: Submission) -> list[Line]:
    """Notes, status changes, assignments, clinic moves, prints, PDFs and exports, and
    record systems marking it as received (through the API, screening/fhir)."""
    notes = db.session.scalars(
        select(SubmissionNote)
        .where(SubmissionNote.submission_id == submission.id)
        .options(joinedload(SubmissionNote.author))
    ).all()
    changes = db.session.scalars(
        select(SubmissionChange)
        .where(SubmissionChange.submission_id == submission.id)
        .options(joinedload(SubmissionChange.actor))
    ).all()
    lines = [
        (
            note.created_at,
            1,
            note.id,
            Line(note.created_at, note.author.username, "note", "Note", note.text),
        )
        for note in notes
    ]
    lines += [
        (
            change.at,
            0,
            change.id,
            Line(
                change.at, change.actor.username, change.field, _words(change), change.reason or ""
            ),
        )
        for change in changes
    ]
    receipts = db.session.scalars(
        select(ApiReceipt)
        .where(ApiReceipt.submission_id == submission.id)
        .options(joinedload(ApiReceipt.token))
    ).all()
    lines += [
        (
            receipt.at,
            2,
            receipt.id,
            Line(
                receipt.at,
                f"{receipt.token.name} (record system)",
                "received",
                "Marked as received through the API",
            ),
        )
        for receipt in receipts
    ]
    lines.sort(key=lambda entry: entry[:3], reverse=True)
    return [entry[3] for entry in lines]
