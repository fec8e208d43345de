"""Who may do what: server-side staff sessions, named permissions, deny by default.

Every endpoint needs a fully signed-in staff member unless its blueprint declared it open
(:mod:`screening.public`: the patient pages, the staff sign-in) or declared that it checks
its own credentials (the record systems' API).
Sessions live in the ``staff_session`` table; the browser's cookie holds only a random
id. A session ends after 15 minutes without a request or 12 hours in all (configurable),
at sign-out, and when the account is disabled, its password changed or its second
factor reset.
"""

from __future__ import annotations

import contextlib
import hashlib
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import wraps
from typing import Any

from flask import (
    Flask,
    abort,
    current_app,
    flash,
    g,
    has_app_context,
    redirect,
    request,
    session,
    url_for,
)
from flask_login import LoginManager, current_user
from sqlalchemy import delete, event, select, update
from sqlalchemy.orm import defer, joinedload
from sqlalchemy.orm.attributes import set_committed_value

from screening import audit, public
from screening.extensions import db
from screening.models import BreakGlassGrant, Role, StaffSession, StaffUser, utcnow
from screening.security import safe_next  # the one check of ``next``, patient pages too

SESSION_KEY = "staff_sid"

_EVERYONE = frozenset(Role)
_INTAKE = frozenset({Role.INTAKE, Role.ADMIN})
_ADMIN = frozenset({Role.ADMIN})

#: Named permissions and the roles that hold them (least privilege). The README's role
#: table says the same; tests/staff/test_access.py checks every role on every page.
#: Clinicians read, print and add clinical notes; working the queue (status, assignment)
#: and exporting is intake's; clinics, accounts and the audit trail are the admins'.
PERMISSIONS: dict[str, frozenset[str]] = {
    "submission:list": _EVERYONE,
    "submission:view": _EVERYONE,
    "submission:print": _EVERYONE,
    "submission:note": _EVERYONE,
    "submission:work": _INTAKE,
    "submission:export": _INTAKE,
    "submission:move": _ADMIN,
    "account:manage": _ADMIN,
    "clinic:manage": _ADMIN,
    "audit:read": _ADMIN,
}
ROLES = tuple(role.value for role in Role)

#: Endpoints for someone who has given a password but not yet the second factor.
SECOND_FACTOR = frozenset({"staff.second_factor", "staff.enrol", "staff.logout"})

login_manager = LoginManager()


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def has_permission(user: Any, permission: str) -> bool:
    return bool(getattr(user, "is_authenticated", False)) and user.role in PERMISSIONS[permission]


def permission_required(permission: str) -> Callable:
    """Refuse (403, audited) unless the signed-in user's role holds ``permission``.

    Fails closed: an error while checking is a refusal too.
    """

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            try:
                allowed = has_permission(current_user, permission)
            except Exception:
                current_app.logger.exception("permission check failed")
                db.session.rollback()
                audit.record("authz.error", outcome="error", detail={"endpoint": request.endpoint})
                db.session.commit()
                abort(403)
            if not allowed:
                audit.record(
                    "authz.denied", outcome="denied", detail={"endpoint": request.endpoint}
                )
                db.session.commit()
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator


def fresh_required(view: Callable) -> Callable:
    """Ask for the password and code again before a sensitive action (ASVS V7.5.1)."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        staff_session = g.get("staff_session")
        window = timedelta(minutes=current_app.config["STAFF_FRESH_MINUTES"])
        if staff_session is None or utcnow() - staff_session.authenticated_at > window:
            return redirect(url_for("staff.reauthenticate", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)

    return wrapped


def start_session(user: StaffUser, stage: str) -> StaffSession:
    """Begin a new server-side session with a new id (never reuse the old one).

    In the caller's transaction, like the rest of this module: the view commits.
    """
    end_current_session()
    token = secrets.token_urlsafe(32)
    now = utcnow()
    staff_session = StaffSession(
        id=_hash(token),
        user_id=user.id,
        stage=stage,
        created_at=now,
        last_seen=now,
        authenticated_at=now,
    )
    db.session.add(staff_session)
    session[SESSION_KEY] = token
    session.permanent = True
    return staff_session


def promote_session(staff_session: StaffSession) -> StaffSession:
    """After the second factor: a fresh id at the new privilege level."""
    user = staff_session.user
    return start_session(user, "full")


def end_current_session() -> None:
    """Forget this browser's session; its row is deleted in the caller's transaction."""
    token = session.pop(SESSION_KEY, None)
    if token:
        db.session.execute(delete(StaffSession).where(StaffSession.id == _hash(token)))


def end_user_sessions(user: StaffUser, keep: StaffSession | None = None) -> None:
    """End every session of ``user`` (disable, password change, second-factor reset)."""
    query = delete(StaffSession).where(StaffSession.user_id == user.id)
    if keep is not None:
        query = query.where(StaffSession.id != keep.id)
    db.session.execute(query)


def _expired(staff_session: StaffSession, now: datetime) -> bool:
    config = current_app.config
    idle = timedelta(minutes=config["STAFF_IDLE_MINUTES"])
    absolute = timedelta(hours=config["STAFF_ABSOLUTE_HOURS"])
    return now - staff_session.last_seen > idle or now - staff_session.created_at > absolute


_WITH_USER = (
    joinedload(StaffSession.user).options(
        defer(StaffUser.password_hash), defer(StaffUser.totp_secret), defer(StaffUser.totp_pending)
    ),
)


def _touch(staff_session: StaffSession, now: datetime) -> None:
    """Save ``now`` as the session's last activity, in the request's transaction.

    The page's own commit (its audit row, most often) commits it too: one transaction a
    request instead of two, and the session and user just read are not expired and read
    again. A request that commits nothing, or rolls back, has it written at its end
    (:func:`_save_activity`), so every request but the session-status poll still counts
    as activity, to the moment it began, as before.
    """
    db.session.execute(
        update(StaffSession).where(StaffSession.id == staff_session.id).values(last_seen=now)
    )
    set_committed_value(staff_session, "last_seen", now)
    g.activity = _Activity(staff_session.id, now)


class _Activity:
    """This request's last-activity write: pending in the transaction, saved, or lost."""

    __slots__ = ("session_id", "moment", "state")

    def __init__(self, session_id: str, moment: datetime) -> None:
        self.session_id, self.moment, self.state = session_id, moment, "pending"


def _activity() -> _Activity | None:
    return g.get("activity") if has_app_context() else None


@event.listens_for(db.session, "after_commit")
def _activity_committed(_session: Any) -> None:
    activity = _activity()
    if activity is not None and activity.state == "pending":
        activity.state = "saved"


@event.listens_for(db.session, "after_rollback")
def _activity_rolled_back(_session: Any) -> None:
    activity = _activity()
    if activity is not None and activity.state == "pending":
        activity.state = "lost"


def _save_activity(_error: BaseException | None) -> None:
    """At the end of a request whose transaction did not carry the last-activity write
    (nothing committed, or rolled back): discard what the request left uncommitted, as
    the end of a request always does, then write it in a transaction of its own.

    Its own transaction on purpose (the one exception to "the view commits", README,
    "Transactions"): the view has answered, and what it did not commit must stay
    uncommitted, but the request still counts as activity for the idle sign-out.
    """
    activity = g.pop("activity", None)
    if activity is None or activity.state == "saved":
        return
    try:
        db.session.rollback()
        db.session.execute(
            update(StaffSession)
            .where(StaffSession.id == activity.session_id)
            .values(last_seen=activity.moment)
        )
        db.session.commit()
    except Exception:
        current_app.logger.warning("Could not save a staff session's activity", exc_info=True)
        with contextlib.suppress(Exception):
            db.session.rollback()


def current_staff_session() -> StaffSession | None:
    """Return this request's live staff session (ending it here if it has timed out)."""
    if "staff_session" in g:
        return g.staff_session
    g.staff_session = None
    token = session.get(SESSION_KEY)
    if not token:
        return None
    now = utcnow()
    # The session, its user and the user's running emergency access in one query; the
    # user's sealed secrets (password hash, second-factor keys) are left unread, and
    # undecrypted, until a page needs them.
    found = db.session.execute(
        select(StaffSession, *_running_grant(now))
        .options(*_WITH_USER)
        .where(StaffSession.id == _hash(token))
    ).first()
    staff_session = found[0] if found else None
    if found is None or staff_session is None or not staff_session.user.active:
        session.pop(SESSION_KEY, None)
        return None
    g.staff_grant = (found[1], found[2]) if found[1] is not None else None
    if _expired(staff_session, now):
        user = staff_session.user
        db.session.delete(staff_session)
        audit.record("auth.timeout", actor=user)  # last before the commit (README)
        db.session.commit()
        session.pop(SESSION_KEY, None)
        g.timed_out = True
        return None
    # Count this request as activity (idle logoff is measured from the last request).
    if request.endpoint != "staff.session_status":
        _touch(staff_session, now)
    g.staff_session = staff_session
    return staff_session


@login_manager.request_loader
def _load_from_request(_request: Any) -> StaffUser | None:
    staff_session = current_staff_session()
    if staff_session is None or staff_session.stage != "full":
        return None
    grant = g.get("staff_grant")  # read with the session (current_staff_session)
    if grant is not None:
        g.break_glass_id, g.break_glass_until = grant
    return staff_session.user


def _running_grant(now: datetime) -> tuple[Any, Any]:
    """The id and end of the session user's running emergency access, as two columns of
    the session's query (what :func:`active_grant` finds, without a query of its own)."""
    running = (
        select(BreakGlassGrant)
        .where(BreakGlassGrant.user_id == StaffSession.user_id, BreakGlassGrant.expires_at > now)
        .order_by(BreakGlassGrant.id.desc())
        .limit(1)
    )
    return (
        running.with_only_columns(BreakGlassGrant.id).scalar_subquery(),
        running.with_only_columns(BreakGlassGrant.expires_at).scalar_subquery(),
    )


def active_grant(user: StaffUser) -> BreakGlassGrant | None:
    """The user's emergency access grant, if one is running now."""
    return db.session.scalar(
        select(BreakGlassGrant)
        .where(BreakGlassGrant.user_id == user.id, BreakGlassGrant.expires_at > utcnow())
        .order_by(BreakGlassGrant.id.desc())
    )


def grant_emergency_access(user: StaffUser, reason: str) -> BreakGlassGrant:
    """Break glass: every clinic's submissions for ``BREAK_GLASS_MINUTES``, audited.

    The caller commits the grant and its audit row.
    """
    minutes = current_app.config["BREAK_GLASS_MINUTES"]
    now = utcnow()
    grant = BreakGlassGrant(
        user_id=user.id,
        reason=reason.strip(),
        created_at=now,
        expires_at=now + timedelta(minutes=minutes),
    )
    db.session.add(grant)
    db.session.flush()
    audit.record("access.break_glass", detail={"grant": grant.id, "minutes": minutes})
    return grant


def emergency_grants(start: datetime, end: datetime, limit: int = 200) -> list[BreakGlassGrant]:
    """Emergency access turned on from ``start`` (inclusive) to ``end`` (exclusive).

    Newest first, with who turned it on; at most ``limit``.
    """
    return list(
        db.session.scalars(
            select(BreakGlassGrant)
            .options(joinedload(BreakGlassGrant.user))
            .where(BreakGlassGrant.created_at >= start, BreakGlassGrant.created_at < end)
            .order_by(BreakGlassGrant.created_at.desc(), BreakGlassGrant.id.desc())
            .limit(limit)
        )
    )


#: Most grants listed on an administrator's queue; the audit report lists them all.
NOTICE_LIMIT = 20


def recent_emergency_access() -> list[BreakGlassGrant]:
    """Emergency access of the last ``BREAK_GLASS_NOTICE_HOURS``, for administrators' queue.

    Anyone with ``submission:view`` can turn it on with a reason alone, so administrators
    are shown every use at once, with who, when and why, to check it.
    """
    now = utcnow()
    since = now - timedelta(hours=current_app.config["BREAK_GLASS_NOTICE_HOURS"])
    return emergency_grants(since, now + timedelta(seconds=1), limit=NOTICE_LIMIT)


def end_emergency_access(user: StaffUser) -> None:
    """End ``user``'s running emergency access, audited; the caller commits."""
    grant = active_grant(user)
    if grant is not None:
        grant.expires_at = utcnow()
        audit.record("access.break_glass_end", detail={"grant": grant.id})


def sees_every_clinic(user: StaffUser) -> bool:
    """Administrators, and anyone under emergency access, see all clinics."""
    return user.role == Role.ADMIN or g.get("break_glass_id") is not None


def _gate() -> Any:
    """Deny by default: send anyone without a full staff sign-in to the sign-in page."""
    endpoint = request.endpoint
    if endpoint is None or public.is_public(current_app, endpoint):
        return None
    if public.authenticates_itself(current_app, endpoint):
        return None  # bearer tokens, checked (deny by default) by the blueprint itself
    if current_user.is_authenticated:
        return None
    staff_session = current_staff_session()
    if staff_session is not None and endpoint in SECOND_FACTOR:
        return None
    if g.get("timed_out"):
        flash("You were signed out after a time without activity. Sign in again to go on.")
    next_path = safe_next(request.full_path.rstrip("?"), "")
    return redirect(url_for("staff.login", next=next_path or None))


def init_app(app: Flask) -> None:
    login_manager.init_app(app)
    # No "remember me": a staff sign-in never outlives its server-side session.
    app.config["REMEMBER_COOKIE_DURATION"] = timedelta(seconds=0)
    login_manager.session_protection = None  # the server-side session is the protection
    app.before_request(_gate)
    app.teardown_request(_save_activity)
