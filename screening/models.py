"""Database models: unfinished questionnaires (drafts) and submissions."""

from __future__ import annotations

import enum
import hashlib
import secrets
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    TypeDecorator,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from screening.crypto import EncryptedJSON, EncryptedString, EncryptedText
from screening.extensions import Model, db


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on both engines (SQLite has no time zones)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use aware UTC datetimes")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


def _sent_time(context: Any) -> datetime:
    """Default of ``Submission.feed_updated_at``: the row's own ``submitted_at``."""
    return context.get_current_parameters().get("submitted_at") or utcnow()


def token_hash(token: str) -> str:
    """Return the stored form of a bearer token: a database leak must not resume drafts."""
    return hashlib.sha256(token.encode()).hexdigest()


#: Letters and digits that cannot be confused when read aloud or typed (no 0/O, 1/I/L).
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


def readable_code(groups: int = 3, size: int = 3) -> str:
    """Return a random code such as ``K7Q-M4T-2ZP`` that a person can read over the phone."""
    return "-".join(
        "".join(secrets.choice(CODE_ALPHABET) for _ in range(size)) for _ in range(groups)
    )


def normalise_code(raw: str) -> str:
    """Accept a typed code in any case, with or without dashes or spaces."""
    chars = [c for c in raw.upper() if c.isalnum()]
    return "-".join("".join(chars[i : i + 3]) for i in range(0, len(chars), 3))


class Draft(Model):
    """A questionnaire in progress, saved on the server after every step."""

    id: Mapped[int] = mapped_column(primary_key=True)
    #: sha256 of the random token held in the browser's session and in the resume link.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: The token before the last resume with the code (only one is kept): its link then
    #: says the form went on elsewhere, rather than that it expired.
    replaced_token_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    #: Stable random key of this draft; its submission stores it under a UNIQUE constraint.
    key: Mapped[str] = mapped_column(String(32), unique=True, default=lambda: secrets.token_hex(16))
    #: Short code for resuming on another device, checked together with the date of birth.
    resume_code: Mapped[str] = mapped_column(String(11), unique=True)
    #: Coded answers by question id (the scorer's input format); encrypted.
    answers: Mapped[dict] = mapped_column(EncryptedJSON("draft.answers"), default=dict)
    #: Date of birth and contact details; not scored; encrypted.
    personal: Mapped[dict] = mapped_column(EncryptedJSON("draft.personal"), default=dict)
    #: Ids of the steps the person has submitted.
    steps_done: Mapped[list] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    submission_id: Mapped[int | None] = mapped_column(
        ForeignKey("submission.id", ondelete="SET NULL"), unique=True
    )


class Submission(Model):
    """A finished questionnaire, as the patient confirmed it."""

    # The queue's orders and filters, as indexes (measured in tests/benchmarks/bench_queue.py):
    # urgent first then longest waiting, within a clinic and/or a status.
    __table_args__ = (
        Index("ix_submission_queue", "urgency", "submitted_at"),
        # The queue opens on open work (not closed, not "not proceeding").
        Index("ix_submission_open_queue", "is_open", "urgency", "submitted_at"),
        Index("ix_submission_clinic_open_queue", "clinic_id", "is_open", "urgency", "submitted_at"),
        Index(
            "ix_submission_assignee_queue", "assigned_to_id", "is_open", "urgency", "submitted_at"
        ),
        # "Assigned to me" counts per status read one person's entries, never a status's.
        Index("ix_submission_assignee_status", "assigned_to_id", "status", "clinic_id"),
        Index("ix_submission_clinic_queue", "clinic_id", "urgency", "submitted_at"),
        Index("ix_submission_status_queue", "status", "urgency", "submitted_at"),
        # Counts per status (and outcome) read only these indexes, never the rows.
        Index("ix_submission_clinic_status", "clinic_id", "status", "outcome"),
        Index("ix_submission_status_outcome", "status", "outcome", "urgency", "submitted_at"),
        Index("ix_submission_outcome_queue", "outcome", "urgency", "submitted_at"),
        Index("ix_submission_submitted_at", "submitted_at"),
        # The record systems' feed (screening/fhir): a clinic's submissions in the order
        # they were offered, ties broken by public id.
        Index("ix_submission_clinic_feed", "clinic_id", "feed_updated_at", "public_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Opaque id for links; never a sequential number in a URL.
    public_id: Mapped[str] = mapped_column(
        String(32), unique=True, default=lambda: secrets.token_hex(16)
    )
    #: The code the patient is given and can read over the phone.
    reference: Mapped[str] = mapped_column(String(11), unique=True)
    #: The draft's key: a replayed or doubled submit finds the first row (UNIQUE).
    submit_key: Mapped[str] = mapped_column(String(64), unique=True)
    #: The answers and the contact details, encrypted (see screening.crypto).
    answers: Mapped[dict] = mapped_column(EncryptedJSON("submission.answers"))
    personal: Mapped[dict] = mapped_column(EncryptedJSON("submission.personal"))
    language: Mapped[str] = mapped_column(String(8), default="en")
    clinic_id: Mapped[int | None] = mapped_column(ForeignKey("clinic.id"), index=True)
    clinic: Mapped[Clinic | None] = relationship()
    #: The staff member working it, if any.
    assigned_to_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    assigned_to: Mapped[StaffUser | None] = relationship()
    #: Bumped by every change, so a second person's stale change is refused, not applied.
    version: Mapped[int] = mapped_column(Integer, default=1)
    #: Queue order, stored so it can be indexed: 0 emergency, 1 prompt, 2 the rest.
    urgency: Mapped[int] = mapped_column(Integer, default=2)
    #: Keyed digests of the name and phone number, for staff search (search_index.py).
    search_tokens: Mapped[list[SearchToken]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True
    )
    status: Mapped[str] = mapped_column(String(20), default="new")
    #: False once the status is closed or not proceeding (see :data:`OPEN_STATUSES`);
    #: stored so the default queue view is one index range.
    is_open: Mapped[bool] = mapped_column(Boolean, default=True)
    #: Version of the question set the answers follow.
    questionnaire_version: Mapped[str] = mapped_column(String(32))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: When the record systems' API (screening/fhir) last offered it to its clinic: when it
    #: was sent, and again when it moved to another clinic (whose record system must then
    #: get it). The API's ``meta.lastUpdated`` and the cursor of its search.
    feed_updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=_sent_time)

    # The scorer's result (screening/scoring/README.md §1), stored so a printed summary can be
    # traced and re-scoring with the same rules gives the same answer.
    outcome: Mapped[str] = mapped_column(String(32))
    care_level: Mapped[str | None] = mapped_column(String(16))
    blocking_contraindication: Mapped[bool] = mapped_column(Boolean)
    support_score: Mapped[int] = mapped_column(Integer)
    peg_score: Mapped[float] = mapped_column(Float)
    #: Which rules fired and the questions to bring reveal the answers: encrypted.
    fired_rules: Mapped[list] = mapped_column(EncryptedJSON("submission.fired_rules"))
    questions: Mapped[list] = mapped_column(EncryptedJSON("submission.questions"))
    ruleset_version: Mapped[str] = mapped_column(String(32))
    #: The whole result as shown to the patient (reasons and notes in the words of the
    #: rule set version above), so later rule edits do not rewrite what they were told.
    #: Encrypted.
    result: Mapped[dict] = mapped_column(EncryptedJSON("submission.result"))
    #: HMAC of the content above, checked whenever staff read it (screening.integrity).
    digest: Mapped[str | None] = mapped_column(String(64))


class SearchToken(Model):
    """One keyed digest of a submission's name or phone number, for staff search.

    See :mod:`screening.search_index`: HMAC-SHA256 over a normalised name word, run of
    words or phone ending, so staff find "Hernández" by typing "hernandez" while the
    table holds no name. ``clinic_id`` repeats the submission's, so a search within the
    user's clinics is one index range (kept equal by ``search_index`` and clinic moves).
    """

    __tablename__ = "search_token"
    __table_args__ = (Index("ix_search_token_lookup", "digest", "clinic_id", "submission_id"),)

    submission_id: Mapped[int] = mapped_column(
        ForeignKey("submission.id", ondelete="CASCADE"), primary_key=True
    )
    #: Hex of the first 16 bytes of the HMAC.
    digest: Mapped[str] = mapped_column(String(32), primary_key=True)
    clinic_id: Mapped[int | None] = mapped_column(Integer)


class Clinic(Model):
    """A clinic that receives submissions; staff see only their clinics' submissions.

    Its contact details and opening hours are shown to patients; the hours also set the
    queue's business-day targets. A retired clinic (``active`` false) takes no new forms;
    its submissions stay visible to its staff.
    """

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    phone: Mapped[str] = mapped_column(String(40), default="")
    address: Mapped[str] = mapped_column(String(300), default="")
    #: Days the clinic is open, Monday 0 to Sunday 6, as digits ("01234": Monday to Friday).
    open_days: Mapped[str] = mapped_column(String(7), default="01234")
    #: Opening and closing time on those days, "HH:MM" on the clinic's clock.
    opens_at: Mapped[str] = mapped_column(String(5), default="08:00")
    closes_at: Mapped[str] = mapped_column(String(5), default="17:00")
    #: A short note shown to patients ("Parking is behind the building").
    patient_note: Mapped[str] = mapped_column(String(500), default="")
    #: IANA time zone; None means the app's CLINIC_TIMEZONE.
    timezone: Mapped[str | None] = mapped_column(String(64))
    #: Days a closed or not-proceeding submission is kept (screening.retention); None
    #: means the app's SUBMISSION_RETENTION_DAYS.
    retention_days: Mapped[int | None] = mapped_column(Integer)


staff_clinic = Table(
    "staff_clinic",
    db.metadata,
    Column("staff_id", ForeignKey("staff_user.id", ondelete="CASCADE"), primary_key=True),
    Column("clinic_id", ForeignKey("clinic.id", ondelete="CASCADE"), primary_key=True),
)


class StaffUser(Model):
    """One named account per person (no shared or default accounts)."""

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Stored lower-case; UNIQUE.
    username: Mapped[str] = mapped_column(String(64), unique=True)
    full_name: Mapped[str] = mapped_column(String(100), default="")
    #: "intake", "clinician" or "admin" (see screening.staff.access.PERMISSIONS).
    role: Mapped[str] = mapped_column(String(16))
    #: argon2id hash.
    password_hash: Mapped[str] = mapped_column(String(255))
    #: Base32 TOTP secret once enrolled; None until the first sign-in (or after a reset).
    #: Encrypted: whoever reads the database must not hold everyone's second factor.
    totp_secret: Mapped[str | None] = mapped_column(EncryptedString("staff_user.totp_secret", 255))
    #: Secret shown during enrolment, kept until the first code confirms it; encrypted.
    totp_pending: Mapped[str | None] = mapped_column(
        EncryptedString("staff_user.totp_pending", 255)
    )
    #: Last TOTP time step accepted: a code is single use.
    totp_last_step: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    clinics: Mapped[list[Clinic]] = relationship(secondary=staff_clinic, order_by="Clinic.name")

    # Flask-Login's user protocol.
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return str(self.id)


class StaffSession(Model):
    """A staff sign-in, held on the server: the cookie carries only a random id."""

    #: sha256 of the random id in the cookie.
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("staff_user.id", ondelete="CASCADE"), index=True
    )
    #: "password" until the second factor is checked, then "full".
    stage: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: When the password and code were last checked (for sensitive actions).
    authenticated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    user: Mapped[StaffUser] = relationship()


class LoginAttempt(Model):
    """Sign-in attempts, counted across workers for throttling."""

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    username: Mapped[str] = mapped_column(String(64), index=True)
    ip: Mapped[str] = mapped_column(String(64), index=True)
    success: Mapped[bool] = mapped_column(Boolean)


class Status(enum.StrEnum):
    """Where a submission is in the clinic's workflow."""

    NEW = "new"
    IN_REVIEW = "in_review"
    CONTACTED = "contacted"
    SCHEDULED = "scheduled"
    NOT_PROCEEDING = "not_proceeding"
    CLOSED = "closed"


class Role(enum.StrEnum):
    """A staff member's role (see screening.staff.access.PERMISSIONS)."""

    INTAKE = "intake"
    CLINICIAN = "clinician"
    ADMIN = "admin"


#: The workflow: each status and the statuses it may move to.
STATUS_MOVES: dict[str, tuple[str, ...]] = {
    Status.NEW: (Status.IN_REVIEW,),
    Status.IN_REVIEW: (Status.CONTACTED, Status.NOT_PROCEEDING),
    Status.CONTACTED: (Status.SCHEDULED, Status.NOT_PROCEEDING),
    Status.SCHEDULED: (Status.CLOSED,),
    Status.NOT_PROCEEDING: (Status.CLOSED,),
    Status.CLOSED: (),
}
#: Keyed by Status; a plain string (as stored, or from a form) finds the same entry.
STATUS_LABELS: dict[str, str] = {
    Status.NEW: "New",
    Status.IN_REVIEW: "In review",
    Status.CONTACTED: "Contacted",
    Status.SCHEDULED: "Scheduled",
    Status.NOT_PROCEEDING: "Not proceeding",
    Status.CLOSED: "Closed",
}
#: Statuses of finished work: the queue leaves them out unless asked.
DONE_STATUSES = frozenset({Status.CLOSED, Status.NOT_PROCEEDING})


class SubmissionNote(Model):
    """A staff note on a submission; notes are only ever added, never edited."""

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submission.id"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id"))
    author: Mapped[StaffUser] = relationship()
    #: Free text about a patient: encrypted.
    text: Mapped[str] = mapped_column(EncryptedText("submission_note.text"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Event(enum.StrEnum):
    """What a line of a submission's timeline records (besides notes)."""

    STATUS = "status"
    ASSIGNED = "assigned"
    CLINIC = "clinic"
    PRINT = "print"
    PDF = "pdf"
    EXPORT = "export"


class SubmissionChange(Model):
    """A submission's timeline: status, assignment, clinic moves, prints and exports.

    Who did what, and when; notes live in :class:`SubmissionNote` and join this list on
    the page. The audit trail records the same actions; this table is what staff read.
    """

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submission.id"), index=True)
    actor_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id"))
    actor: Mapped[StaffUser] = relationship()
    #: An :class:`Event` value.
    field: Mapped[str] = mapped_column(String(16))
    old: Mapped[str | None] = mapped_column(String(100))
    new: Mapped[str | None] = mapped_column(String(100))
    #: Why (a clinic move states its reason); free text, encrypted.
    reason: Mapped[str | None] = mapped_column(EncryptedText("submission_change.reason"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class BreakGlassGrant(Model):
    """Emergency access to every clinic's submissions: time-boxed, with a stated reason.

    Every audit row written while it is active carries its id, and administrators see the
    grants and reasons on the audit page (HIPAA 45 CFR 164.312(a)(2)(ii), emergency access).
    """

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id"), index=True)
    user: Mapped[StaffUser] = relationship()
    reason: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
