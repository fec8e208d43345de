"""Sign-in throttling: growing delays, counted in the database so every worker sees them.

Failures (wrong password, wrong code) are kept in ``login_attempt`` and counted over the
last ``LOGIN_THROTTLE_MINUTES`` (60) in two ways:

- **Per account**, from any address, since the account's last successful sign-in: after
  ``LOGIN_MAX_FAILURES`` (5) failures each further try for that username must wait,
  counted from the last failure, ``LOGIN_FIRST_DELAY_SECONDS`` (15), then twice as long
  after each further failure, up to ``LOGIN_MAX_DELAY_SECONDS`` (900). A try refused while
  waiting is not checked and not counted, so the wait always ends, and the person who owns
  the account gets in with the right password once it has. It holds an attacker to about
  10 to 15 guesses an hour per account.
- **Per address**, for any username: after ``LOGIN_MAX_FAILURES_PER_ADDRESS`` (20)
  failures from one address, a password alone from that address waits in the same way.
  That address is often a whole clinic's network, so it never keeps a colleague out: with
  the password, the 6-digit code from their authenticator app lets them sign in at once.
  Both are checked together and any mistake gets the same answer, so guessing passwords
  from that address learns nothing without the code. (An account without a code set up
  yet, at its first sign-in, waits with the others.)

Failures for other accounts therefore never keep anyone out, and the page says how long
to wait. Counted in the database: every worker and instance sees the same
numbers; nothing here needs a table of its own.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from flask import current_app, request
from sqlalchemy import func, select

from screening.extensions import db
from screening.models import LoginAttempt, utcnow

#: A general message, for pages that do not say how long (the wait is on the sign-in page).
TOO_MANY = "Too many failed sign-ins. Wait a few minutes, then try again."


def _window() -> timedelta:
    return timedelta(minutes=current_app.config["LOGIN_THROTTLE_MINUTES"])


def client_address() -> str:
    return request.remote_addr or "-"


def delay_after(failures: int, free: int) -> float:
    """Seconds a try must wait after the last of ``failures``, when ``free`` are allowed."""
    over = failures - free
    if over < 0:
        return 0.0
    config = current_app.config
    first = float(config["LOGIN_FIRST_DELAY_SECONDS"])
    return min(float(config["LOGIN_MAX_DELAY_SECONDS"]), first * 2 ** min(over, 32))


def _wait(failures: int, last: datetime | None, free: int, now: datetime) -> int:
    if last is None:
        return 0
    left = delay_after(failures, free) - (now - last).total_seconds()
    return max(0, math.ceil(left))


def account_wait(username: str) -> int:
    """Seconds before the next try for ``username`` is checked (0: now)."""
    now = utcnow()
    since = now - _window()
    last_ok = db.session.scalar(
        select(func.max(LoginAttempt.at)).where(
            LoginAttempt.username == username[:64], LoginAttempt.success
        )
    )
    count, last = db.session.execute(
        select(func.count(), func.max(LoginAttempt.at)).where(
            LoginAttempt.username == username[:64],
            ~LoginAttempt.success,
            LoginAttempt.at > (max(since, last_ok) if last_ok else since),
        )
    ).one()
    return _wait(count, last, current_app.config["LOGIN_MAX_FAILURES"], now)


def address_wait(ip: str) -> int:
    """Seconds before a password alone from ``ip`` is checked (0: now)."""
    now = utcnow()
    count, last = db.session.execute(
        select(func.count(), func.max(LoginAttempt.at)).where(
            LoginAttempt.ip == ip, ~LoginAttempt.success, LoginAttempt.at > now - _window()
        )
    ).one()
    return _wait(count, last, current_app.config["LOGIN_MAX_FAILURES_PER_ADDRESS"], now)


def throttled(username: str, ip: str | None = None) -> bool:
    """Whether tries for this account must wait now (the per-account delay only).

    For checks made after the password (the code step, a signed-in person's password or
    code): the address's count is left out there, since a colleague failing from the
    same network must not stop them. ``ip`` is accepted for older callers and unused.
    """
    return account_wait(username) > 0


def duration(seconds: int) -> str:
    """ "15 seconds", "1 minute", "4 minutes": how long to wait, rounded up."""
    if seconds < 60:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = math.ceil(seconds / 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def account_message(seconds: int) -> str:
    return f"Too many failed sign-ins for this account. Wait {duration(seconds)}, then try again."


def address_message(seconds: int) -> str:
    return (
        f"Too many failed sign-ins from this network. Wait {duration(seconds)}, or sign in "
        "now with your password and the 6-digit code from your authenticator app."
    )


def record_attempt(username: str, success: bool) -> None:
    """Count a sign-in attempt from this request's address, in the caller's transaction
    (the view commits it: a failed one before its audit row, so it counts even when the
    audit write fails)."""
    db.session.add(LoginAttempt(username=username[:64], ip=client_address(), success=success))
