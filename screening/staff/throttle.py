"""Sign-in throttling: failures counted in the database, so every worker sees them.

A lock on one account never affects another, and an address limit only affects that
address, so nobody can lock everyone out.
"""

from __future__ import annotations

from datetime import timedelta

from flask import current_app, request
from sqlalchemy import func, select

from screening.extensions import db
from screening.models import LoginAttempt, utcnow

TOO_MANY = "Too many failed sign-ins. Wait 15 minutes, then try again."


def _window() -> timedelta:
    return timedelta(minutes=current_app.config["LOGIN_THROTTLE_MINUTES"])


def client_address() -> str:
    return request.remote_addr or "-"


def throttled(username: str, ip: str) -> bool:
    """Too many recent failures for this account (since its last success), or from ``ip``."""
    since = utcnow() - _window()
    last_ok = db.session.scalar(
        select(func.max(LoginAttempt.at)).where(
            LoginAttempt.username == username, LoginAttempt.success
        )
    )
    account_since = max(since, last_ok) if last_ok else since
    failures = select(func.count()).select_from(LoginAttempt).where(~LoginAttempt.success)
    by_account = db.session.scalar(
        failures.where(LoginAttempt.username == username, LoginAttempt.at > account_since)
    )
    by_address = db.session.scalar(failures.where(LoginAttempt.ip == ip, LoginAttempt.at > since))
    config = current_app.config
    return (
        by_account >= config["LOGIN_MAX_FAILURES"]
        or by_address >= config["LOGIN_MAX_FAILURES_PER_ADDRESS"]
    )


def record_attempt(username: str, success: bool) -> None:
    """Count a sign-in attempt from this request's address (committed at once)."""
    db.session.add(LoginAttempt(username=username[:64], ip=client_address(), success=success))
    db.session.commit()
