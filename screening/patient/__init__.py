"""The patient blueprint: the questionnaire a patient fills in, and its result.

Its views are imported when the app is built (``bp`` on first use), not when the package
is: other modules read the questionnaire's forms and data
(``screening.patient.forms``), and importing them must not pull in every view and,
through them, the staff side (a circular import).
"""

from __future__ import annotations

from typing import Any

__all__ = ["bp"]


def __getattr__(name: str) -> Any:
    if name == "bp":
        from screening.patient import sending  # noqa: F401  (adds the email views and the CSRF handler to bp)
        from screening.patient.views import bp

        return bp
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
