"""The audit trail: who read or changed what, when, from where, and with what outcome.

This is the only module that writes the trail (HIPAA 45 CFR 164.312(b), audit controls:
every read or change of a record, sign-ins and failed authorizations, append-only and
hash-chained, readable by administrators). Every row is appended by :func:`record`, in
the caller's transaction: the caller commits (README, "Transactions"), so a change and its
audit row are stored together or not at all. An audited read commits its row before the
data is shown; when the row cannot be written the caller gets :class:`AuditError` and must
answer 503 without patient data (no audit, no data).

Rows never hold patient data or secrets. ``detail`` carries ids and codes only, for
example ``{"ids": [3, 7]}`` for an export or ``{"from": "new", "to": "in_review"}`` for
a status change. Actions that touch several submissions put their ids in
``detail["ids"]`` and leave ``submission_id`` empty; :func:`for_submission` finds both.

The chain: each row stores ``row_hash = HMAC-SHA256(key, prev_hash + canonical JSON of
the row)`` and the previous row's hash (64 zeros for the first). The id is hashed and is
the position in the chain; it follows the head kept in ``audit_head`` (moved in the same
transaction as each row, forward only), so ids are never reused and a deleted tail
leaves a gap. :func:`verify_chain` and ``audit verify`` check it all; the README
("The audit trail, for administrators") says how to run them, keep the head off the
server, grant the database roles, and what to do when the chain breaks.

Appends are serialised so two workers never fork the chain: on SQLite every transaction
begins ``IMMEDIATE`` (:mod:`screening.database`), which already holds the write lock
when the last hash is read; on PostgreSQL :func:`record` takes
``pg_advisory_xact_lock(CHAIN_LOCK_ID)`` first. Both locks last until the caller's
transaction ends, so callers commit right after recording. The primary key is the
backstop: a second writer that read the same last row fails on the duplicate id instead
of forking. The app never updates or deletes rows, and triggers (:data:`TRIGGER_DDL`,
:data:`HEAD_TRIGGER_DDL`) refuse it: ``db.create_all()`` creates them with the tables, and
the migration that creates a table must run them too.

The action vocabulary is not enforced (a new feature may add a name), but keep to
:data:`ACTIONS` so the admin reports can filter on it.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import click
from flask import current_app, g, has_request_context, request
from flask.cli import AppGroup
from sqlalchemy import DDL, JSON, Index, Integer, String, Text, cast, event, select, text
from sqlalchemy.orm import Mapped, mapped_column

from screening import models
from screening.config import MIN_SECRET_LENGTH, ConfigError
from screening.extensions import Model, db

log = logging.getLogger(__name__)
#: One line a day with the chain's head, for the log shipper to carry off the server.
checkpoint_log = logging.getLogger("screening.audit.checkpoint")

#: The documented action names and what each one means.
ACTIONS: dict[str, str] = {
    "submission.view": "opened a submission's detail page",
    "submission.print": "opened a submission's print view",
    "submission.pdf": "downloaded a submission as PDF",
    "submission.export": "exported submissions (ids in detail.ids)",
    "submission.search": "searched submissions (ids shown in detail.ids)",
    "submission.list": "opened a list of submissions (ids shown in detail.ids)",
    "submission.status": "changed a status (detail.from, detail.to)",
    "submission.note": "added a note to a submission",
    "submission.assign": "assigned or unassigned a submission (target: the assignee)",
    "account.create": "created a staff account (target: username)",
    "account.disable": "disabled a staff account (target: username)",
    "account.mfa_reset": "reset a colleague's second factor (target: username)",
    "account.mfa_enrolled": "enrolled a second factor",
    "account.password_change": "changed their password (failure: the current one was wrong; "
    "denied: too many wrong ones)",
    "clinic.create": "added a clinic (target: clinic name)",
    "clinic.update": "changed a clinic's details (target: clinic name; detail.fields)",
    "clinic.retire": "retired a clinic: it takes no new forms (target: clinic name)",
    "clinic.reactivate": "made a retired clinic take forms again (target: clinic name)",
    "submission.move_clinic": "moved a submission to another clinic (target; detail.from, .reason)",
    "demo.seed": "added fictional demo submissions (detail: count, seed, days)",
    "access.break_glass": "turned on emergency access to all clinics (detail: grant id, minutes)",
    "access.break_glass_end": "ended emergency access early",
    "authz.error": "a permission check failed with an error; access was refused",
    "authz.csrf_failed": "a staff form was sent without a valid CSRF token",
    "authz.csrf_flood": "an address not signed in passed the hourly number of audited "
    "CSRF failures; the rest of that hour are counted, not audited (detail: audited, window)",
    "auth.login": "signed in (password and second factor)",
    "auth.login_failed": "wrong username or password (actor_name: what was typed)",
    "auth.mfa_failed": "wrong or reused second-factor code",
    "auth.reauthenticate": "confirmed their password and code again before a sensitive "
    "action (failure: wrong; denied: too many wrong ones)",
    "auth.logout": "signed out",
    "auth.timeout": "session ended by the idle or absolute limit",
    "audit.view": "read the audit trail (detail: which report and filters)",
    "authz.denied": "asked for something the role or clinic does not allow",
    "submission.tamper": "a submission failed its integrity check when read (detail.kind)",
    "submission.purge": "deleted submissions past their retention period (detail.ids)",
    "draft.purge": "deleted expired drafts (detail.ids)",
    "api.read": "a record system read through the API (actor_name: the token's name; "
    "detail.ids: the submissions returned, detail.resource, detail.token)",
    "api.received": "a record system marked a submission as received (write scope)",
    "api.denied": "an API request without a valid token, or a write without the write "
    "scope (detail.reason)",
    "api_token.create": "made an API token for a record system (target: its name; "
    "detail: token id, clinics, scopes)",
    "api_token.revoke": "revoked an API token (target: its name)",
}

#: Allowed values of ``outcome``.
OUTCOMES = ("success", "denied", "failure", "error")

#: ``prev_hash`` of the first row.
GENESIS_HASH = "0" * 64

#: Key for ``pg_advisory_xact_lock``: the first 8 bytes of
#: sha256(b"screening.audit_event chain"), so it will not collide with another lock.
CHAIN_LOCK_ID = 6910024378504895810

#: Largest canonical ``detail`` accepted; it is for ids and codes, not documents.
MAX_DETAIL_CHARS = 65536

_KEY_LABEL = b"screening audit chain v1"


class AuditError(RuntimeError):
    """The audit row could not be written; the caller must not show patient data."""


@dataclass(frozen=True)
class Actor:
    """Who acted, when it is not ``current_user``.

    For a failed sign-in pass ``Actor(None, attempted_username, None)``.
    """

    id: int | None
    username: str | None
    role: str | None = None


class AuditEvent(Model):
    """One row of the append-only, hash-chained audit trail."""

    __tablename__ = "audit_event"
    __table_args__ = (Index("ix_audit_event_actor_id_at", "actor_id", "at"),)

    #: Position in the chain, assigned by :func:`record` (no sequence; see module docs).
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(models.UTCDateTime, index=True)
    #: No foreign key: history must outlive accounts and survive any later cleanup.
    actor_id: Mapped[int | None] = mapped_column(Integer)
    #: The username at the time (or, for a failed sign-in, what was typed).
    actor_name: Mapped[str | None] = mapped_column(String(64))
    role: Mapped[str | None] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(64))
    submission_id: Mapped[int | None] = mapped_column(Integer, index=True)
    #: What was acted on when it is not a submission, e.g. a username.
    target: Mapped[str | None] = mapped_column(String(128))
    outcome: Mapped[str] = mapped_column(String(16))
    ip: Mapped[str | None] = mapped_column(String(45))
    request_id: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict | None] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64))
    row_hash: Mapped[str] = mapped_column(String(64))

    def __repr__(self) -> str:
        return f"<AuditEvent {self.id} {self.action} {self.outcome}>"


class AuditHead(Model):
    """The head of the chain: one row (id 1), moved forward with every appended row.

    The next row follows it, so an id is never used twice even after the newest rows
    are deleted; and :func:`verify_chain` reports a table that ends before it.
    """

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_id: Mapped[int] = mapped_column(Integer)
    last_hash: Mapped[str] = mapped_column(String(64))
    last_at: Mapped[datetime] = mapped_column(models.UTCDateTime)


_APPEND_ONLY = "audit_event is append-only"

#: Statements that make the table refuse UPDATE and DELETE (and TRUNCATE on
#: PostgreSQL), per dialect. The migration that creates the table runs the same list
#: with ``op.execute``; none contains ``:`` so ``text()`` finds no bind parameters.
TRIGGER_DDL: dict[str, list[str]] = {
    "sqlite": [
        "CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit_event "
        f"BEGIN SELECT RAISE(ABORT, '{_APPEND_ONLY}'); END",
        "CREATE TRIGGER audit_event_no_delete BEFORE DELETE ON audit_event "
        f"BEGIN SELECT RAISE(ABORT, '{_APPEND_ONLY}'); END",
    ],
    "postgresql": [
        "CREATE OR REPLACE FUNCTION audit_event_append_only() RETURNS trigger "
        "LANGUAGE plpgsql AS $$ BEGIN "
        f"RAISE EXCEPTION '{_APPEND_ONLY}' USING ERRCODE = 'insufficient_privilege'; "
        "END $$",
        "CREATE TRIGGER audit_event_no_update_delete BEFORE UPDATE OR DELETE ON audit_event "
        "FOR EACH ROW EXECUTE FUNCTION audit_event_append_only()",
        "CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON audit_event "
        "FOR EACH STATEMENT EXECUTE FUNCTION audit_event_append_only()",
    ],
}

#: Run after dropping the table (migration downgrade); SQLite drops triggers with it.
DROP_DDL: dict[str, list[str]] = {
    "sqlite": [],
    "postgresql": ["DROP FUNCTION IF EXISTS audit_event_append_only()"],
}

_FORWARD_ONLY = "audit_head only moves forward"

#: The head may only move forward: no update to an id at or before its own, no delete
#: (nor TRUNCATE on PostgreSQL).
HEAD_TRIGGER_DDL: dict[str, list[str]] = {
    "sqlite": [
        "CREATE TRIGGER audit_head_forward BEFORE UPDATE ON audit_head "
        f"WHEN NEW.last_id <= OLD.last_id BEGIN SELECT RAISE(ABORT, '{_FORWARD_ONLY}'); END",
        "CREATE TRIGGER audit_head_no_delete BEFORE DELETE ON audit_head "
        f"BEGIN SELECT RAISE(ABORT, '{_FORWARD_ONLY}'); END",
    ],
    "postgresql": [
        "CREATE OR REPLACE FUNCTION audit_head_forward() RETURNS trigger "
        "LANGUAGE plpgsql AS $$ BEGIN "
        "IF TG_OP = 'UPDATE' AND NEW.last_id > OLD.last_id THEN RETURN NEW; END IF; "
        f"RAISE EXCEPTION '{_FORWARD_ONLY}' USING ERRCODE = 'insufficient_privilege'; "
        "END $$",
        "CREATE TRIGGER audit_head_forward BEFORE UPDATE OR DELETE ON audit_head "
        "FOR EACH ROW EXECUTE FUNCTION audit_head_forward()",
        "CREATE TRIGGER audit_head_no_truncate BEFORE TRUNCATE ON audit_head "
        "FOR EACH STATEMENT EXECUTE FUNCTION audit_head_forward()",
    ],
}
HEAD_DROP_DDL: dict[str, list[str]] = {
    "sqlite": [],
    "postgresql": ["DROP FUNCTION IF EXISTS audit_head_forward()"],
}

for _table, _create, _drop in (
    (AuditEvent.__table__, TRIGGER_DDL, DROP_DDL),
    (AuditHead.__table__, HEAD_TRIGGER_DDL, HEAD_DROP_DDL),
):
    for _dialect, _statements in _create.items():
        for _statement in _statements:
            event.listen(_table, "after_create", DDL(_statement).execute_if(dialect=_dialect))
    for _dialect, _statements in _drop.items():
        for _statement in _statements:
            event.listen(_table, "after_drop", DDL(_statement).execute_if(dialect=_dialect))


def init_app(app: Any) -> None:
    """Check the audit chain's key on ``app``; warn when it is derived.

    :raise screening.config.ConfigError: when ``AUDIT_HMAC_KEY`` is set but short.
    """
    key = app.config["AUDIT_HMAC_KEY"]
    if key and len(key) < MIN_SECRET_LENGTH:
        raise ConfigError(f"AUDIT_HMAC_KEY must be at least {MIN_SECRET_LENGTH} characters.")
    if not key and not app.testing and app.config["ENVIRONMENT"] != "development":
        log.warning(
            "AUDIT_HMAC_KEY is not set: the audit chain's key is derived from SECRET_KEY, "
            "so rotating SECRET_KEY would break `audit verify`. Set its own key."
        )


def chain_key() -> bytes:
    """Return the HMAC key of the chain for the current app."""
    configured = current_app.config["AUDIT_HMAC_KEY"]
    if configured:
        return configured.encode() if isinstance(configured, str) else bytes(configured)
    secret = current_app.config["SECRET_KEY"]
    if not secret:
        raise RuntimeError("neither AUDIT_HMAC_KEY nor SECRET_KEY is set")
    secret_bytes = secret.encode() if isinstance(secret, str) else bytes(secret)
    # A derived key, so the chain never uses the cookie-signing key directly.
    return hmac.new(secret_bytes, _KEY_LABEL, hashlib.sha256).digest()


def _canonical_time(value: datetime) -> str:
    # Both engines keep microseconds, and UTCDateTime hands back aware UTC, so this
    # string is the same before the insert and after any read.
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _canonical(row: Any) -> str:
    """Return the canonical JSON of a row's hashed fields (ORM object or Core row)."""
    fields = {
        "id": row.id,
        "at": _canonical_time(row.at),
        "actor_id": row.actor_id,
        "actor_name": row.actor_name,
        "role": row.role,
        "action": row.action,
        "submission_id": row.submission_id,
        "target": row.target,
        "outcome": row.outcome,
        "ip": row.ip,
        "request_id": row.request_id,
        "detail": row.detail,
    }
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def _mac(key: bytes, prev_hash: str, canonical: str) -> str:
    return hmac.new(key, (prev_hash + canonical).encode(), hashlib.sha256).hexdigest()


def _clean(value: Any, limit: int) -> str | None:
    """Return ``value`` as printable text of at most ``limit`` characters.

    Usernames typed at sign-in are attacker-controlled: control characters would forge
    lines in anything that prints the trail (log injection), and NUL or lone surrogates would
    make PostgreSQL refuse the row, letting a failed sign-in escape the trail.
    """
    if value is None:
        return None
    raw = str(value)
    out = "".join(
        c if c.isprintable() else (f"\\x{ord(c):02x}" if ord(c) < 256 else f"\\u{ord(c):04x}")
        for c in raw[:limit]
    )
    return out[:limit]


def _normalise_detail(detail: dict | None) -> dict | None:
    if detail is None:
        return None
    if not isinstance(detail, dict):
        raise TypeError("detail must be a dict or None")
    # Store exactly what is hashed: a JSON round trip turns tuples into lists and
    # int keys into strings, as the database would when it reads the row back.
    encoded = json.dumps(detail, sort_keys=True, allow_nan=False)
    if len(encoded) > MAX_DETAIL_CHARS:
        raise ValueError("audit detail is too large; store ids and codes only")
    return json.loads(encoded)


def _actor_fields(actor: Any) -> tuple[int | None, str | None, str | None]:
    if actor is None and has_request_context() and hasattr(current_app, "login_manager"):
        from flask_login import current_user

        if current_user.is_authenticated:
            actor = current_user
    if actor is None:
        return None, None, None
    role = getattr(actor, "role", None)
    role = getattr(role, "value", role)  # an Enum member stores its value
    actor_id = getattr(actor, "id", None)
    return (
        None if actor_id is None else int(actor_id),
        _clean(getattr(actor, "username", None), 64),
        _clean(role, 32),
    )


def _lock_chain(session: Any) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CHAIN_LOCK_ID})
    # SQLite: the transaction began IMMEDIATE, so this connection holds the write lock.


def record(
    action: str,
    *,
    outcome: str = "success",
    actor: Any = None,
    submission_id: int | None = None,
    target: str | None = None,
    detail: dict | None = None,
) -> AuditEvent:
    """Append one row to the audit trail in the caller's transaction; it does not commit.

    The caller commits (README, "Transactions"), right after: until then its transaction
    holds the chain's lock. The row and the caller's changes are stored by that one
    commit, or rolled back together. A refusal that writes nothing else (a failed
    sign-in, a denied permission) must still be committed by its caller.

    :param action: what happened, one of :data:`ACTIONS` by convention.
    :param outcome: ``success``, ``denied``, ``failure`` or ``error``.
    :param actor: who acted: any object with ``id``, ``username`` and ``role`` (see
        :class:`Actor`); defaults to the signed-in ``current_user``, else nobody.
    :param submission_id: the one submission concerned, if any.
    :param target: what else was acted on, e.g. a username (cut to 128 characters).
    :param detail: small JSON-able dict of ids and codes; never patient data.
    :return: the row, not held by the session (its attributes readable without a query).
    :raise AuditError: when the row could not be written; the transaction was rolled
        back, the caller's changes with it.
    :raise ValueError: on an invalid ``action``, ``outcome`` or ``detail`` (a bug).
    """
    if not action or len(action) > 64:
        raise ValueError("action must be 1 to 64 characters")
    if outcome not in OUTCOMES:
        raise ValueError(f"outcome must be one of {OUTCOMES}")
    clean_detail = _normalise_detail(detail)
    actor_id, actor_name, role = _actor_fields(actor)
    ip = request_id = None
    if has_request_context():
        ip = _clean(request.remote_addr, 45)
        request_id = _clean(g.get("request_id"), 64)
        if g.get("break_glass_id"):
            # Everything done under emergency access is flagged for review.
            clean_detail = {**(clean_detail or {}), "break_glass": g.break_glass_id}

    session = db.session
    try:
        _lock_chain(session)
        head = session.execute(
            select(AuditHead.last_id, AuditHead.last_hash, AuditHead.last_at).where(
                AuditHead.id == 1
            )
        ).first()
        have_head = head is not None
        if head is None:  # the first row, or a trail from before the head was kept
            head = session.execute(
                select(AuditEvent.id, AuditEvent.row_hash, AuditEvent.at)
                .order_by(AuditEvent.id.desc())
                .limit(1)
            ).first()
        prev_id: int
        prev_hash: str
        prev_at: datetime | None
        prev_id, prev_hash, prev_at = head if head else (0, GENESIS_HASH, None)
        row = AuditEvent(
            id=prev_id + 1,
            at=models.utcnow(),
            actor_id=actor_id,
            actor_name=actor_name,
            role=role,
            action=action,
            submission_id=submission_id,
            target=_clean(target, 128),
            outcome=outcome,
            ip=ip,
            request_id=request_id,
            detail=clean_detail,
            prev_hash=prev_hash,
        )
        row.row_hash = _mac(chain_key(), prev_hash, _canonical(row))
        values = {c.key: getattr(row, c.key) for c in AuditEvent.__table__.columns}
        # A plain INSERT, not the ORM's unit of work: the row is complete and never
        # changes, so tracking it in the session would only cost time on every request.
        # It still runs in the caller's transaction, after the caller's pending changes.
        session.execute(AuditEvent.__table__.insert().values(**values))
        _move_head(session, row, first=not have_head)
    except Exception as error:
        # The connection may be gone too; the AuditError below is what matters.
        with contextlib.suppress(Exception):
            session.rollback()
        # The exception text can quote the SQL parameters (a typed username); keep it out.
        log.error("audit write failed for %s: %s", action, type(error).__name__)
        raise AuditError(f"audit write failed for {action}") from error

    if prev_at is not None and prev_at.astimezone(UTC).date() != row.at.date():
        # Logged when the row is committed: a rolled-back first row of a day logs nothing,
        # and the next one logs the checkpoint instead.
        session.info[_CHECKPOINT] = (prev_id, prev_hash, prev_at)
    return row


#: ``session.info`` key of the checkpoint to log when the transaction commits.
_CHECKPOINT = "screening.audit.checkpoint"


@event.listens_for(db.session, "after_commit")
def _log_checkpoint(session: Any) -> None:
    pending = session.info.pop(_CHECKPOINT, None)
    if pending is not None:
        checkpoint(*pending)


@event.listens_for(db.session, "after_rollback")
def _forget_checkpoint(session: Any) -> None:
    session.info.pop(_CHECKPOINT, None)


def _move_head(session: Any, row: AuditEvent, first: bool) -> None:
    """Move the head to ``row`` in the caller's transaction."""
    table = AuditHead.__table__
    values = {"last_id": row.id, "last_hash": row.row_hash, "last_at": row.at}
    if first:
        session.execute(table.insert().values(id=1, **values))
    else:
        session.execute(table.update().where(table.c.id == 1).values(**values))


def head_line(count: int, last_hash: str) -> str:
    """The head as ``audit verify`` prints it and ``--head`` takes it back."""
    return f"{count}:{last_hash}"


def checkpoint(count: int, last_hash: str, at: datetime) -> None:
    """Write the head to the checkpoint log (and file): the end of a UTC day's trail."""
    line = f"audit checkpoint: head {head_line(count, last_hash)} (end of {at:%Y-%m-%d} UTC)"
    checkpoint_log.info(line)
    path = current_app.config["AUDIT_CHECKPOINT_FILE"]
    if path:
        try:
            with open(path, "a") as handle:
                handle.write(f"{datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ} {line}\n")
        except OSError as error:
            log.error("could not write the audit checkpoint file: %s", type(error).__name__)


def _check_chain() -> tuple[int, str, list[str]]:
    """Return the row count, the last hash and the problems found.

    Besides each row's hash and link, the table must end at the head kept in
    ``audit_head`` (its newest rows were deleted otherwise).
    """
    key = chain_key()
    table = AuditEvent.__table__
    problems: list[str] = []
    count = 0
    prev_id, prev_hash = 0, GENESIS_HASH
    # Its own connection, closed at the end: on SQLite the read transaction holds the
    # write lock, which must not outlive the check.
    with db.engine.connect() as conn:
        rows = conn.execution_options(yield_per=1000).execute(
            select(*table.columns).order_by(table.c.id)
        )
        for row in rows:
            count += 1
            if row.id != prev_id + 1 or row.prev_hash != prev_hash:
                problems.append(
                    f"row {row.id}: does not follow row {prev_id or '(start)'} "
                    "(a row before it was deleted, inserted or reordered)"
                )
            if not hmac.compare_digest(row.row_hash, _mac(key, row.prev_hash, _canonical(row))):
                problems.append(f"row {row.id}: contents do not match its hash (edited)")
            prev_id, prev_hash = row.id, row.row_hash
        head = conn.execute(
            select(AuditHead.last_id, AuditHead.last_hash).where(AuditHead.id == 1)
        ).first()
    if head is not None and (head.last_id, head.last_hash) != (prev_id, prev_hash):
        problems.append(
            f"the trail ends at row {prev_id or '(start)'} but its head is row {head.last_id} "
            "(the newest rows were deleted)"
        )
    return count, prev_hash, problems


def verify_chain() -> list[str]:
    """Recompute the whole chain in id order.

    :return: one message per problem, each naming the row id; empty when intact.
    """
    return _check_chain()[2]


def for_submission(submission_id: int) -> list[AuditEvent]:
    """Return every row that touched a submission, oldest first ("who touched X").

    Includes exports and searches whose ``detail["ids"]`` list the submission.
    """
    direct = select(AuditEvent).where(AuditEvent.submission_id == submission_id)
    # JSON queries differ per engine; a text prefilter then an exact check in Python
    # works on both, and multi-record rows are few.
    listed = select(AuditEvent).where(
        AuditEvent.submission_id.is_(None),
        cast(AuditEvent.detail, Text).like('%"ids"%'),
    )
    rows = {row.id: row for row in db.session.scalars(direct)}
    for row in db.session.scalars(listed):
        ids = (row.detail or {}).get("ids")
        if isinstance(ids, list) and submission_id in ids:
            rows[row.id] = row
    return [rows[key] for key in sorted(rows)]


def for_actor(actor_id: int, start: datetime, end: datetime) -> list[AuditEvent]:
    """Return what a user did from ``start`` (inclusive) to ``end`` (exclusive).

    :param start: aware datetime; naive ones are refused.
    :param end: aware datetime.
    :raise ValueError: on a naive datetime.
    """
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("use timezone-aware datetimes")
    query = (
        select(AuditEvent)
        .where(AuditEvent.actor_id == actor_id, AuditEvent.at >= start, AuditEvent.at < end)
        .order_by(AuditEvent.id)
    )
    return list(db.session.scalars(query))


audit_cli = AppGroup("audit", help="The audit trail.")


def extends(saved: str) -> str | None:
    """Why the chain does not extend a head saved earlier (``rows:hash``), or None if it does.

    :raise ValueError: when ``saved`` is not ``<rows>:<64 hex digits>``.
    """
    count_text, _, saved_hash = saved.strip().partition(":")
    if not count_text.isdigit() or len(saved_hash) != 64:
        raise ValueError("a head is <rows>:<hash>, as `audit verify` printed it")
    count = int(count_text)
    if count == 0:
        return None
    found = db.session.execute(
        select(AuditEvent.row_hash).where(AuditEvent.id == count)
    ).scalar_one_or_none()
    db.session.rollback()  # end the read (on SQLite it holds the write lock)
    if found is None:
        return f"row {count} of the saved head is gone (the newest rows were deleted)"
    if not hmac.compare_digest(found, saved_hash.lower()):
        return f"row {count} is not the row of the saved head (rows were replaced)"
    return None


@audit_cli.command("verify")
@click.option(
    "--head",
    "saved",
    metavar="ROWS:HASH",
    help="A head printed by an earlier run: fail unless the chain still extends it.",
)
def verify_command(saved: str | None) -> None:
    """Check every row's hash and link; exit 1 if anything was changed or removed.

    Prints the head (row count and last hash): keep it off the server and pass it back
    with --head to detect rows cut off the end.
    """
    count, head, problems = _check_chain()
    if saved:
        try:
            gone = extends(saved)
        except ValueError as error:
            raise click.BadParameter(str(error), param_hint="--head") from None
        if gone:
            problems.append(f"saved head {saved.strip()}: {gone}")
    if problems:
        for problem in problems:
            click.echo(problem)
        click.echo(f"audit chain BROKEN: {len(problems)} problem(s) in {count} rows", err=True)
        raise SystemExit(1)
    click.echo(f"audit chain intact: {count} rows")
    click.echo(f"last hash: {head}")
    if saved:
        click.echo(f"extends the saved head {saved.strip()}")
    click.echo(f"head: {head_line(count, head)}")
