"""The patient blueprint: the questionnaire a patient fills in, and its result.

Its views are imported when the app is built (``bp`` on first use, then ``init_app``), not
when the package is: other modules read the questionnaire's forms and data
(``screening.patient.forms``), and importing them must not pull in every view and,
through them, the staff side (a circular import).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from flask import Flask

__all__ = ["bp", "init_app"]


def __getattr__(name: str) -> Any:
    if name == "bp":
        from screening.patient import sending  # noqa: F401  (adds the email views to bp)
        from screening.patient.views import bp

        return bp
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def init_app(app: Flask) -> None:
    from flask_wtf.csrf import CSRFError

    from screening.patient import sending

    app.register_error_handler(CSRFError, sending.csrf_failed)
