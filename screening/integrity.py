"""A digest per submission, checked whenever staff read it (README, "A digest per submission").

Each submission stores ``digest``: HMAC-SHA256 of the canonical JSON of what the patient
sent and what the scorer decided (the answers, contact details, result, outcome, care
level, scores, urgency, versions, times, reference and ids), with a key derived from the
key set's index key, so it lives outside the database like the data keys. It is made
whenever those fields change through the app (a submit, ``rules rescore``).

It catches what the encryption alone does not: an edit of a plain column (an emergency's
outcome or urgency lowered so it leaves the top of the queue), an encrypted value copied
from another submission (the digest names the submission's ids), a value restored from
an older copy. The staff page, the print view, the PDF, the batch PDF and the CSV export
check it; a mismatch is shown as a warning, never as if the data were sound, and is
audited (``submission.tamper``). ``flask --app screening submissions verify`` checks
them all.

The workflow fields (status, assignment, clinic, version) are not in the digest: they
change in the normal course of work, each change in the timeline and the audit trail.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnDefault, event, select
from sqlalchemy.orm import Session, attributes

from screening.crypto import DecryptionError, Keyring, key_store
from screening.models import Submission

#: The fields the digest covers, in the canonical JSON.
FIELDS = (
    "public_id",
    "reference",
    "submit_key",
    "answers",
    "personal",
    "language",
    "questionnaire_version",
    "started_at",
    "submitted_at",
    "urgency",
    "outcome",
    "care_level",
    "blocking_contraindication",
    "support_score",
    "peg_score",
    "fired_rules",
    "questions",
    "ruleset_version",
    "result",
)
_LABEL = b"screening submission digest v1"

#: What staff read when the check fails.
MISMATCH = (
    "Integrity warning: the stored content of this submission does not match its seal. It "
    "may have been changed outside the app. Do not rely on it; tell an administrator."
)
UNSEALED = (
    "Integrity warning: this submission has no seal, so changes to it cannot be ruled "
    "out. Check it with the patient before relying on it; tell an administrator."
)
UNREADABLE = (
    "Integrity warning: the stored data of this submission cannot be decrypted. It was "
    "altered, or its key is missing. Tell an administrator."
)


def _key(ring: Keyring) -> bytes:
    return hmac.new(ring.index_key, _LABEL, hashlib.sha256).digest()


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(value, float):
        return repr(value)
    return value


def canonical(values: Mapping[str, Any]) -> bytes:
    """The canonical JSON of a submission's digested fields (a row, or a mapping)."""
    fields = {name: _plain(values[name]) for name in FIELDS}
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def digest_of(values: Any, ring: Keyring | None = None) -> str:
    """The digest of a submission (an object with the fields, or a mapping)."""
    if not isinstance(values, Mapping):
        values = {name: getattr(values, name) for name in FIELDS}
    ring = ring or key_store().ring()
    return hmac.new(_key(ring), canonical(values), hashlib.sha256).hexdigest()


def problem(submission: Submission) -> str | None:
    """Why ``submission`` cannot be relied on (a warning to show), or None when sound."""
    if not submission.digest:
        return UNSEALED
    try:
        expected = digest_of(submission)
    except DecryptionError:
        return UNREADABLE
    return None if hmac.compare_digest(expected, submission.digest) else MISMATCH


def check(items: Iterable[Submission]) -> dict[int, str]:
    """Check ``items``; audit each one that fails; return the warnings by submission id.

    The audit rows are written in the caller's transaction: the caller commits them.
    """
    from screening import audit

    found = {item.id: warning for item in items if (warning := problem(item))}
    for item_id, warning in found.items():
        kind = (
            "unsealed"
            if warning == UNSEALED
            else "unreadable"
            if warning == UNREADABLE
            else "mismatch"
        )
        audit.record(
            "submission.tamper", outcome="failure", submission_id=item_id, detail={"kind": kind}
        )
    return found


def verify_all(batch: int = 500) -> tuple[int, list[tuple[str, str]]]:
    """Check every stored submission: (how many, [(reference, what is wrong)])."""
    from screening.extensions import db

    def load(ids: Sequence[int]) -> list[Submission]:
        return list(db.session.scalars(select(Submission).where(Submission.id.in_(ids))))

    problems: list[tuple[str, str]] = []
    count = 0
    ids = db.session.scalars(select(Submission.id).order_by(Submission.id)).all()
    for start in range(0, len(ids), batch):
        chunk = ids[start : start + batch]
        try:
            rows = load(chunk)
        except DecryptionError:  # one of them at least: look at each
            db.session.rollback()
            rows = []
            for row_id in chunk:
                try:
                    rows += load([row_id])
                except DecryptionError:
                    db.session.rollback()
                    reference = db.session.scalar(
                        select(Submission.reference).where(Submission.id == row_id)
                    )
                    # The row went (purged) since the ids were listed: its id, then.
                    problems.append((reference or f"id {row_id}", UNREADABLE))
                    count += 1
        for row in rows:
            count += 1
            if warning := problem(row):
                problems.append((row.reference, warning))
        db.session.expunge_all()
        db.session.rollback()
    return count, problems


@event.listens_for(Session, "before_flush")
def _seal_changed_submissions(session: Session, flush_context: Any, instances: Any) -> None:
    """Give a new or changed submission (through the ORM) its digest."""
    for obj in itertools.chain(session.new, session.dirty):
        if not isinstance(obj, Submission):
            continue
        new = attributes.instance_state(obj).key is None
        if new:
            _fill_defaults(obj)
        if new or any(attributes.get_history(obj, name).has_changes() for name in FIELDS):
            obj.digest = digest_of(obj)


def _fill_defaults(obj: Submission) -> None:
    """Apply the column defaults of digested fields now: the INSERT would apply them
    only after the digest is made."""
    for name in FIELDS:
        default = Submission.__table__.c[name].default
        if getattr(obj, name) is None and isinstance(default, ColumnDefault):
            setattr(obj, name, default.arg(None) if default.is_callable else default.arg)
