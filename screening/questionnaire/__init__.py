"""The patient questionnaire blueprint."""

from flask import Flask
from flask_wtf.csrf import CSRFError

from screening.questionnaire import sending  # noqa: F401  (registers the email views on bp)
from screening.questionnaire.views import bp

__all__ = ["bp", "init_app"]


def init_app(app: Flask) -> None:
    app.register_error_handler(CSRFError, sending.csrf_failed)
