"""Plain error pages: no stack traces, framework names or patient data."""

from __future__ import annotations

import logging

from flask import Flask, render_template
from werkzeug.exceptions import HTTPException, InternalServerError

log = logging.getLogger(__name__)

MESSAGES = {
    400: (
        "We could not read that page",
        "Something in the form was not as we expected. Go back and try again.",
    ),
    404: ("Page not found", "Check the address, or start from the first page."),
    405: ("Page not found", "Check the address, or start from the first page."),
    413: ("That was too much to send", "Please make your answers shorter and try again."),
    500: (
        "Sorry, something went wrong",
        "Your saved answers are safe. Please try again in a few minutes.",
    ),
    503: (
        "Sorry, the service is busy",
        "Your saved answers are safe. Please try again in a few minutes.",
    ),
}


def render_error(code: int):
    title, text = MESSAGES.get(code, MESSAGES[400] if code < 500 else MESSAGES[500])
    return render_template("errors/error.html", code=code, title=title, text=text), code


def handle_http(error: HTTPException):
    return render_error(error.code or 500)


def handle_unexpected(error: Exception):
    log.exception("unhandled error")
    return render_error(InternalServerError.code)


def init_app(app: Flask) -> None:
    app.register_error_handler(HTTPException, handle_http)
    app.register_error_handler(Exception, handle_unexpected)
