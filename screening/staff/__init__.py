"""Staff side: sign-in, roles and clinics, submissions, administration."""

from flask import Flask

from screening import audit, errors
from screening.staff import access
from screening.staff.views import bp

__all__ = ["bp", "init_app"]


def init_app(app: Flask) -> None:
    app.config.setdefault("LOGIN_THROTTLE_MINUTES", 15)
    app.config.setdefault("LOGIN_MAX_FAILURES", 5)
    app.config.setdefault("LOGIN_MAX_FAILURES_PER_ADDRESS", 20)
    #: Paper for the clinician summary: "letter" (default) or "a4".
    app.config.setdefault("SUMMARY_PAPER", "letter")
    #: How long emergency ("break glass") access to all clinics lasts.
    app.config.setdefault("BREAK_GLASS_MINUTES", 60)
    access.init_app(app)
    app.register_blueprint(bp)
    # No audit, no patient data (security L03): a failed audit write shows a 503 page.
    app.register_error_handler(audit.AuditError, lambda error: errors.render_error(503))
