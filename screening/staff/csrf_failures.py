"""Staff posts without a valid CSRF token: recorded, without letting anyone flood the trail.

:func:`csrf_failed` answers every staff post that fails the check (the staff blueprint's
error handler, screening/staff/views.py).

A staff post that fails the CSRF check may be a forged request riding someone's session,
so it is audited (``authz.csrf_failed``), like every failed authorization. When a
signed-in staff member's post fails, every one is audited: the row names them, and a flood
of them is theirs.

Posts from someone not signed in name nobody, and each one used to write a row: anyone
could grow the trail without limit. They are now counted per client address in fixed
windows of an hour, in the rate-limit storage every worker shares:

- the first ``CSRF_AUDIT_PER_HOUR`` (10) in a window are each audited, as before, and
  answered with the usual "page expired" page (400);
- the next one writes a single ``authz.csrf_flood`` row (detail: the threshold and the
  window) and every one after it in that window writes nothing; all of them are answered
  429 with ``Retry-After`` until the window ends. A page reloaded has a fresh token, so
  nobody who uses the site is held up by this.

If the counter cannot be read or written, each failure is audited (the old behaviour).
"""

from __future__ import annotations

import contextlib
import logging
import math
import time

from flask import current_app, make_response, request
from flask_limiter.util import get_remote_address
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from werkzeug.wrappers import Response

from screening import audit, errors
from screening.database import UNAVAILABLE
from screening.extensions import db
from screening.ratelimit import limiter

log = logging.getLogger(__name__)

#: Length of a counting window, in seconds.
WINDOW_SECONDS = 3600
KEY_PREFIX = "staff-csrf-failed"


def _count() -> int | None:
    """Count this failure against the client's address; the count in this window, or None."""
    if not current_app.config["RATELIMIT_ENABLED"]:
        return None
    try:
        return limiter.storage.incr(f"{KEY_PREFIX}/{get_remote_address()}", WINDOW_SECONDS)
    except Exception:  # the counter store is down: audit every one rather than none
        log.warning("Could not count a failed CSRF check", exc_info=True)
        return None


def _seconds_left() -> int:
    try:
        ends = limiter.storage.get_expiry(f"{KEY_PREFIX}/{get_remote_address()}")
    except Exception:
        log.warning("Could not read when the CSRF failure window ends", exc_info=True)
        return WINDOW_SECONDS
    return max(1, math.ceil(ends - time.time()))


def refused() -> Response | None:
    """Record this request's failed CSRF check (a staff endpoint).

    :return: a 429 response once the client's address is over the threshold, else None
        (the caller shows its usual page).
    """
    count = None if current_user.is_authenticated else _count()
    threshold = current_app.config["CSRF_AUDIT_PER_HOUR"]
    # A failed audit write must not turn a refused post into a 503: the refusal stands.
    # Nothing else is written: the row is committed here.
    with contextlib.suppress(audit.AuditError, *UNAVAILABLE):
        if count is None or count <= threshold:
            audit.record(
                "authz.csrf_failed", outcome="denied", detail={"endpoint": request.endpoint}
            )
        elif count == threshold + 1:
            audit.record(
                "authz.csrf_flood",
                outcome="denied",
                detail={
                    "endpoint": request.endpoint,
                    "audited": threshold,
                    "window_seconds": WINDOW_SECONDS,
                },
            )
        db.session.commit()
    if count is None or count <= threshold:
        return None
    seconds = _seconds_left()
    response = make_response(errors.render_error(429))
    response.headers["Retry-After"] = str(seconds)
    return response


def csrf_failed(_error: CSRFError) -> Response | tuple[str, int]:
    """The staff blueprint's answer to a post that failed the CSRF check: recorded
    (:func:`refused`), then the usual "page expired" page, or 429 over the threshold."""
    too_many = refused()
    if too_many is not None:
        return too_many
    return errors.expired_page()
