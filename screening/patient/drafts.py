"""Server-side drafts: every page's answers are saved here as soon as it is submitted.

The browser holds only a random token (in the session cookie and the resume link); the
database holds its hash. Domain functions take explicit arguments and never read the
request, so they can be tested and reused by the CLI.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from screening.extensions import db
from screening.models import (
    Draft,
    Submission,
    normalise_code,
    readable_code,
    token_hash,
    utcnow,
)


class DraftNotFound(LookupError):
    """No live draft matches the token or code given."""


def lifetime() -> timedelta:
    return timedelta(days=current_app.config["DRAFT_LIFETIME_DAYS"])


def create() -> tuple[Draft, str]:
    """Create an empty draft, and commit it (its own unit of work: a resume code that
    collides with another draft's is rolled back and drawn again).

    :return: the draft and its raw token (only ever held by the browser).
    """
    for _attempt in range(5):
        token = secrets.token_urlsafe(32)
        now = utcnow()
        draft = Draft(
            token_hash=token_hash(token),
            resume_code=readable_code(),
            answers={},
            personal={},
            steps_done=[],
            created_at=now,
            updated_at=now,
            expires_at=now + lifetime(),
        )
        db.session.add(draft)
        try:
            db.session.commit()
        except IntegrityError:  # a resume code collided: try another
            db.session.rollback()
            continue
        return draft, token
    raise RuntimeError("could not allocate a unique resume code")


def _live(draft: Draft | None, now: datetime) -> Draft:
    if draft is None or draft.expires_at <= now:
        raise DraftNotFound
    return draft


def by_token(token: str | None) -> Draft:
    """Return the live draft for a token.

    :raise DraftNotFound: for no token, an unknown one or an expired draft.
    """
    if not token:
        raise DraftNotFound
    draft = db.session.scalar(select(Draft).where(Draft.token_hash == token_hash(token)))
    return _live(draft, utcnow())


def by_code(code: str, dob: str) -> Draft:
    """Return the live draft for a resume code, checked against the date of birth.

    :raise DraftNotFound: when the code is unknown, expired or the date does not match;
        the caller shows one message for all three so nothing is revealed.
    """
    draft = live_by_code(code)
    if not dob_matches(draft, dob):
        raise DraftNotFound
    return draft


def live_by_code(code: str) -> Draft:
    """Return the unsent live draft for a resume code, not yet checked against anything.

    :raise DraftNotFound: when the code is unknown, its draft expired or was sent (a sent
        form's result opens from its link only).
    """
    draft = db.session.scalar(
        select(Draft).where(
            Draft.resume_code == normalise_code(code), Draft.submission_id.is_(None)
        )
    )
    return _live(draft, utcnow())


def _saved_dob(draft: Draft) -> str:
    """The date of birth a draft was given; a sent draft keeps none, its submission does."""
    personal = draft.personal
    if draft.submission_id is not None:
        submission = db.session.get(Submission, draft.submission_id)
        personal = submission.personal if submission is not None else {}
    return str(personal.get("dob") or "")


def dob_matches(draft: Draft, dob: str | None) -> bool:
    """Whether ``dob`` (ISO) is the draft's date of birth; never for a draft without one."""
    saved = _saved_dob(draft)
    return bool(saved) and secrets.compare_digest(saved, dob or "")


def can_be_checked(draft: Draft) -> bool:
    """Whether a person can prove a draft is theirs: it has a date of birth to check."""
    return bool(_saved_dob(draft))


def rotate_token(draft: Draft) -> str:
    """Give a resumed draft a new token, so an old link or cookie stops working; commits
    (the browser is given the new token next, so it must be stored first).

    The old token's hash is kept (one only) so that its link can say it was replaced.
    """
    token = secrets.token_urlsafe(32)
    draft.replaced_token_hash = draft.token_hash
    draft.token_hash = token_hash(token)
    db.session.commit()
    return token


def replaced(draft: Draft, token: str | None) -> bool:
    """Whether ``token`` is ``draft``'s previous token (its holder moved it on since)."""
    previous = draft.replaced_token_hash
    if not (token and previous):
        return False
    return secrets.compare_digest(previous, token_hash(token))


def was_replaced(token: str | None) -> bool:
    """Whether ``token`` is the previous token of a live draft (resumed elsewhere since)."""
    if not token:
        return False
    found = db.session.scalar(
        select(Draft.id).where(
            Draft.replaced_token_hash == token_hash(token), Draft.expires_at > utcnow()
        )
    )
    return found is not None


def save(
    draft: Draft, answers: dict[str, Any], personal: dict[str, Any], step_id: str | None
) -> None:
    """Store a draft's answers and extend its life; commits before returning.

    The draft keeps the values just written after the commit: the page goes on to work
    out where to send the person from them, and reading back (and decrypting) the row it
    has just written would only cost time.
    """
    now = utcnow()
    draft.answers = answers
    draft.personal = personal
    if step_id and step_id not in draft.steps_done:
        draft.steps_done = [*draft.steps_done, step_id]
    draft.updated_at = now
    draft.expires_at = now + lifetime()
    session = db.session()
    expire = session.expire_on_commit
    session.expire_on_commit = False
    try:
        session.commit()
    finally:
        session.expire_on_commit = expire


def purge_expired(now: datetime | None = None) -> int:
    """Delete every draft past its expiry time and return how many went.

    A job: the deletion and its audit row (``draft.purge``, with the ids) are committed
    here, together.
    """
    from screening import audit

    expired = Draft.expires_at <= (now or utcnow())
    ids = list(db.session.scalars(select(Draft.id).where(expired).order_by(Draft.id)))
    if not ids:
        db.session.rollback()
        return 0
    db.session.execute(delete(Draft).where(Draft.id.in_(ids)))
    audit.record("draft.purge", detail={"ids": ids, "count": len(ids)})
    db.session.commit()
    return len(ids)
