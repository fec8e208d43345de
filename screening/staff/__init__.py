"""Staff side: sign-in, roles and clinics, submissions, administration."""

import contextlib
import logging
from typing import Any

from flask import Flask, render_template, request

from screening import audit, errors, integrity
from screening.crypto import DecryptionError
from screening.database import UNAVAILABLE
from screening.extensions import db
from screening.staff import access

log = logging.getLogger(__name__)

__all__ = ["bp", "init_app"]


def __getattr__(name: str) -> Any:
    """``bp``, imported on first use: modules of the package (accounts, throttle...) are
    read by others, and importing them must not pull in every staff view (a circular
    import through the API token pages)."""
    if name == "bp":
        from screening.staff import api_tokens  # noqa: F401  (adds its pages to bp)
        from screening.staff.views import bp

        return bp
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def init_app(app: Flask) -> None:
    access.init_app(app)
    from screening.staff import bp

    app.register_blueprint(bp)
    errors.register_section_page(app, bp.url_prefix + "/", _error_page)
    # No audit, no patient data: a failed audit write shows a 503 page, never the record.
    app.register_error_handler(audit.AuditError, lambda error: errors.render_error(503))
    app.register_error_handler(DecryptionError, _undecryptable)


def _undecryptable(error: DecryptionError):
    """Stored data that does not decrypt: altered in the database, or its key is gone.

    Nothing of it is shown; the failure is logged (the column, never a value) and audited.
    """
    db.session.rollback()
    log.error("stored data could not be decrypted: %s", error)
    with contextlib.suppress(audit.AuditError, *UNAVAILABLE):
        audit.record("submission.tamper", outcome="error", detail={"kind": "unreadable"})
        db.session.commit()  # nothing else is written
    from screening.staff.views import bp

    if request.path.startswith(f"{bp.url_prefix}/"):
        page = render_template(
            "staff/error.html",
            code=500,
            title="This record cannot be read",
            text=integrity.UNREADABLE,
            request_id=None,
        )
        return page, 500
    return errors.render_error(500)


#: What a staff error page says, by status code.
STAFF_ERRORS = {
    400: ("Something in the request was not right", "Go back and try again."),
    403: (
        "You do not have access to this page",
        "Your role does not include it. Ask an administrator if you need it.",
    ),
    404: ("Not found", "There is no such page, or no submission with that link in your clinics."),
    409: (
        "Someone else changed this",
        "Go back, reload the page to see the latest state, and try again.",
    ),
    429: ("Too many tries", "Wait a minute, then try again."),
    503: ("The service is busy", "Nothing you had saved was lost. Try again in a minute."),
}


def _error_page(code: int, request_id: str | None) -> str:
    title, text = STAFF_ERRORS.get(code, STAFF_ERRORS[503] if code >= 500 else STAFF_ERRORS[400])
    if code == 500:
        title = "Sorry, something went wrong"
    return render_template(
        "staff/error.html", code=code, title=title, text=text, request_id=request_id
    )
