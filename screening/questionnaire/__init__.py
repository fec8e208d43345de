"""The patient questionnaire blueprint."""

from flask import Flask
from flask_wtf.csrf import CSRFError

from screening.questionnaire.views import bp, csrf_expired

__all__ = ["bp", "init_app"]


def init_app(app: Flask) -> None:
    app.register_error_handler(CSRFError, csrf_expired)
