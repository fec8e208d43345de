"""Plain error pages: no stack traces, framework names or patient data.

Each page shows the request's reference (its request id) so staff can find what a person
reports in the log.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from flask import Flask, current_app, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError
from werkzeug.wrappers import Response

from screening import database
from screening.i18n import N_
from screening.observability import current_request_id

log = logging.getLogger(__name__)

MESSAGES = {
    400: (
        N_("We could not read that page"),
        N_("Something in the form was not as we expected. Go back and try again."),
    ),
    404: (N_("Page not found"), N_("Check the address, or start from the first page.")),
    405: (N_("Page not found"), N_("Check the address, or start from the first page.")),
    413: (N_("That was too much to send"), N_("Please make your answers shorter and try again.")),
    429: (N_("Too many tries"), N_("Too many tries. Please wait a minute and try again.")),
    500: (
        N_("Sorry, something went wrong"),
        N_("Your saved answers are safe. Please try again in a few minutes."),
    ),
    503: (
        N_("Sorry, the service is busy"),
        N_("Your saved answers are safe. Please try again in a few minutes."),
    ),
}


#: Key in ``app.extensions`` of the error pages of parts of the site, by path prefix.
SECTION_PAGES = "screening.error_pages"


def register_section_page(
    app: Flask, prefix: str, render: Callable[[int, str], str | Response]
) -> None:
    """Give the paths under ``prefix`` their own error page (the staff side has one, with a
    way back to the queue). ``render`` takes the code and request id and returns HTML."""
    app.extensions.setdefault(SECTION_PAGES, {})[prefix] = render


def render_error(code: int, text: str | None = None) -> tuple[str | Response, int]:
    """Render the error page for ``code``: the section's own, or the patient's.

    :param text: replaces the usual message for that code.
    """
    for prefix, render in current_app.extensions.get(SECTION_PAGES, {}).items():
        if request.path.startswith(prefix):
            try:
                return render(code, current_request_id()), code
            except Exception:
                # The section's page needs more (a signed-in user, the database): the
                # plain page below always works.
                log.exception("Error page of %s failed; using the plain one", prefix)
                database.discard_session()
    title, default_text = MESSAGES.get(code, MESSAGES[400] if code < 500 else MESSAGES[500])
    body = render_template(
        "errors/error.html",
        code=code,
        title=title,
        text=text or default_text,
        request_id=current_request_id(),
    )
    return body, code


def handle_http(error: HTTPException):
    return render_error(error.code or 500)


def expired_page() -> tuple[str, int]:
    """The page for a post whose CSRF token is missing or has expired (400): reload, try again.

    The patient and staff blueprints answer their own posts first (screening/patient,
    screening/staff/csrf_failures.py) and end here when they have nothing better.
    """
    return render_template(
        "errors/error.html",
        code=400,
        title=_("This page has expired"),
        text=_("Go back, reload the page and try again. Answers you saved are safe."),
    ), 400


def handle_csrf(_error: CSRFError):
    """A failed CSRF check on a page no blueprint answers for itself."""
    return expired_page()


def handle_unexpected(error: Exception):
    request_id = current_request_id()
    # The id is in the message as well as in the record so it survives any log format.
    log.exception("Unhandled error, reference %s", request_id)
    # Whatever the view left in the session must never be committed by later code in
    # this request (a teardown, an error page that touches the database).
    database.discard_session()
    return render_error(InternalServerError.code)


def handle_unavailable(error: Exception):
    """The database could not be reached or could not write: 503, "try again", never 500.

    Pages where a person types (the questionnaire) have their own handler that keeps what
    was typed; this one answers every other page.
    """
    log.exception("Database unavailable, reference %s", current_request_id())
    database.discard_session()
    return render_error(503)


def init_app(app: Flask) -> None:
    app.register_error_handler(HTTPException, handle_http)
    # Blueprints register their own handler (it comes first); this one answers the rest.
    app.register_error_handler(CSRFError, handle_csrf)
    for error in database.UNAVAILABLE:
        app.register_error_handler(error, handle_unavailable)
    app.register_error_handler(Exception, handle_unexpected)
