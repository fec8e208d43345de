"""Record systems' API tokens, and the submissions they marked as received.

A token is a random secret a clinic's record system sends as ``Authorization: Bearer``.
Only its SHA-256 is stored (a database leak gives no working token), it reads only the
submissions of its clinics, it writes (marks as received) only with the ``write`` scope,
and it stops working at once when revoked. Tokens are made and revoked by administrators
(``flask --app screening api-token ...`` or the Record systems page) and every use is in
the audit trail under the token's name.
"""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import Column, ForeignKey, String, Table, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from screening.extensions import Model, db
from screening.models import Clinic, StaffUser, UTCDateTime, utcnow

#: The scopes a token can hold: reading is every token's; writing marks as received.
READ = "read"
WRITE = "write"
SCOPES = (READ, WRITE)

api_token_clinic = Table(
    "api_token_clinic",
    db.metadata,
    Column("token_id", ForeignKey("api_token.id", ondelete="CASCADE"), primary_key=True),
    Column("clinic_id", ForeignKey("clinic.id", ondelete="CASCADE"), primary_key=True),
)


class ApiToken(Model):
    """A record system's bearer token, scoped to clinics."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Opaque id for the admin pages' links; never the token.
    public_id: Mapped[str] = mapped_column(
        String(32), unique=True, default=lambda: secrets.token_hex(16)
    )
    #: Who uses it ("EHR bridge"): shown to administrators and written in the audit trail.
    name: Mapped[str] = mapped_column(String(64))
    #: sha256 hex of the token (screening.models.token_hash); the token itself is shown once.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: "read", or "read write" (space separated, as OAuth writes scopes).
    scopes: Mapped[str] = mapped_column(String(32), default=READ)
    #: The administrator who made it; None when made on the server's command line.
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    created_by: Mapped[StaffUser | None] = relationship()
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    clinics: Mapped[list[Clinic]] = relationship(secondary=api_token_clinic, order_by="Clinic.name")

    @property
    def can_write(self) -> bool:
        return WRITE in self.scopes.split()

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    @property
    def clinic_ids(self) -> list[int]:
        return [clinic.id for clinic in self.clinics]


class ApiReceipt(Model):
    """A record system said it holds a submission (one row per token and submission).

    Staff see it in the submission's timeline.
    """

    __tablename__ = "api_receipt"
    __table_args__ = (UniqueConstraint("submission_id", "token_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submission.id"), index=True)
    token_id: Mapped[int] = mapped_column(ForeignKey("api_token.id"))
    token: Mapped[ApiToken] = relationship()
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
