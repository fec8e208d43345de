"""Request ids, log hygiene and the trusted proxy hop.

Every request gets a random id. It is sent back in the ``X-Request-ID`` header, shown on
error pages ("Reference: ...") and added to every log line written during the request, so
staff can match what a person reports to the log.

Log hygiene (no patient data or secrets in logs): resume links carry a bearer token in their path
(``/r/<token>``), so request lines are rewritten to ``/r/[redacted]`` and query strings
are dropped before they reach any handler; line breaks inside a message are escaped so a
value such as ``bob\\r\\nINFO forged`` cannot forge a second log line; SQL parameters (which
hold what people typed) are left out of database error messages.
"""

from __future__ import annotations

import logging
import re
import secrets
import sys
import time
from collections.abc import Callable
from typing import Any

from flask import Flask, g, has_request_context, request
from flask.logging import default_handler
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.wrappers import Response

#: Loggers that write request lines; the sanitiser sits on the logger itself because
#: their handlers are set up by the server (the development server or gunicorn).
REQUEST_LINE_LOGGERS = ("werkzeug", "gunicorn.access")

#: Third-party loggers whose records should go through the app's handler.
EXTRA_APP_LOGGERS = ("flask-limiter",)

LOG_FORMAT = "%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s"

HEADER = "X-Request-ID"
#: Where the id is kept in the WSGI environment: the outermost layer (security.py) reads it
#: for a response made after Flask has given up on the request.
ENVIRON_KEY = "screening.request_id"

_RESUME_PATH = re.compile(r"/r/[^/\s?#\"'<>]+")
# A query string after a path: from "?" up to the next space or quote.
_QUERY = re.compile(r"(/[^\s?#\"']*)\?[^\s\"']*")
# Everything str.splitlines() treats as a line boundary, so no log reader or terminal
# can be made to show one record as two.
_LINE_BREAKS = re.compile("[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]")


def current_request_id() -> str:
    """Return this request's id, creating it on first use; ``"-"`` outside requests.

    The id is made here as well as in :func:`assign_request_id` because some code runs
    before the app's own ``before_request`` functions (another extension's hook, or an
    error raised while the request is being matched) and must still log with an id.
    """
    if not has_request_context():
        return "-"
    request_id = g.get("request_id")
    if request_id is None:
        request_id = g.request_id = request_id_of(request.environ)
    return request_id


def request_id_of(environ: dict[str, Any]) -> str:
    """Return the id of the request with this WSGI environment, making it on first use."""
    return environ.setdefault(ENVIRON_KEY, secrets.token_hex(8))


def assign_request_id() -> None:
    """Give the request a fresh random id.

    An ``X-Request-ID`` sent by the client is never used: it would let anyone write
    chosen text into the log and point staff at someone else's request.
    """
    current_request_id()


def add_request_id_header(response: Response) -> Response:
    response.headers[HEADER] = current_request_id()
    return response


def request_id_context() -> dict[str, str]:
    """Let every template, including error pages rendered by views, show the reference."""
    return {"request_id": current_request_id()}


def escape_line_breaks(text: str) -> str:
    """Return ``text`` with every line-breaking character written as an escape."""
    return _LINE_BREAKS.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def redact(text: str) -> str:
    """Return ``text`` with resume tokens and query strings removed."""
    return _QUERY.sub(r"\1", _RESUME_PATH.sub("/r/[redacted]", text))


class RequestIdFilter(logging.Filter):
    """Add ``request_id`` to every record (``"-"`` outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = current_request_id()
        return True


class SanitizeFilter(logging.Filter):
    """Redact resume tokens and query strings and escape line breaks in the message.

    The message is formatted once here and stored without arguments: a token or a line
    break can arrive in the format string or in any argument (werkzeug passes the request
    line as an argument, gunicorn a mapping of fields).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "sanitized", False):
            return True
        try:
            message = record.getMessage()
        except Exception:  # a malformed call; keep the record rather than lose it
            message = f"{record.msg!r} {record.args!r}"
        record.msg = escape_line_breaks(redact(message))
        record.args = ()
        record.sanitized = True
        return True


class UTCFormatter(logging.Formatter):
    """Timestamps in UTC, ISO 8601, whatever the server's time zone."""

    converter: Callable[[float | None], time.struct_time] = time.gmtime
    default_time_format = "%Y-%m-%dT%H:%M:%S"
    default_msec_format = "%s.%03dZ"


class AppLogHandler(logging.StreamHandler):
    """The app's log handler: standard error, which gunicorn and systemd collect."""


def _add_filter_once(target: logging.Filterer, filter_class: type[logging.Filter]) -> None:
    if not any(isinstance(f, filter_class) for f in target.filters):
        target.addFilter(filter_class())


def configure_logging(app: Flask) -> None:
    """Send the app's log records through one sanitising handler with request ids.

    The loggers are process-wide, so this is safe to call for several apps: the handler
    and filters are added once. Set ``LOG_HANDLER = False`` when logging is configured
    elsewhere (``logging.config``); the request-line filters are added either way.
    """
    for name in REQUEST_LINE_LOGGERS:
        _add_filter_once(logging.getLogger(name), SanitizeFilter)
    if not app.config["LOG_HANDLER"]:
        return
    logger = app.logger
    logger.removeHandler(default_handler)
    handler = next((h for h in logger.handlers if isinstance(h, AppLogHandler)), None)
    if handler is None:
        handler = AppLogHandler(sys.stderr)
        handler.setFormatter(UTCFormatter(LOG_FORMAT))
        handler.addFilter(RequestIdFilter())
        handler.addFilter(SanitizeFilter())
        logger.addHandler(handler)
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.INFO)
    for name in EXTRA_APP_LOGGERS:
        extra = logging.getLogger(name)
        if handler not in extra.handlers:
            extra.addHandler(handler)


def hide_sql_parameters(app: Flask) -> None:
    """Keep typed values out of database error messages, and so out of the log.

    Only takes effect when called before ``db.init_app``, which builds the engine.
    """
    options: dict[str, Any] = dict(app.config["SQLALCHEMY_ENGINE_OPTIONS"])
    options.setdefault("hide_parameters", True)
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options


def trust_proxy(app: Flask) -> None:
    """Believe ``X-Forwarded-For``/``-Proto`` only from the configured number of proxies.

    With the default of 0 the peer address is used as it is, so a client cannot choose the
    address its rate limits and audit rows are recorded under.
    """
    hops = int(app.config["TRUSTED_PROXY_COUNT"])
    if hops > 0 and not isinstance(app.wsgi_app, ProxyFix):
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)


#: Logged once per app (so once per worker process) by :func:`warn_forwarded_ignored`.
FORWARDED_IGNORED = (
    "A request came with X-Forwarded-For while TRUSTED_PROXY_COUNT is 0, so the header "
    "was ignored. Behind a proxy every client then has the proxy's address: one rate "
    "limit for everyone, and the proxy's address in the audit trail. If a proxy is in "
    "front, set TRUSTED_PROXY_COUNT to the number of proxies (1 behind nginx)."
)


def warn_forwarded_ignored(app: Flask) -> None:
    """With no trusted proxy, log once when a request carries ``X-Forwarded-For``.

    It usually means a proxy was put in front and the setting forgotten. The header's
    value (an address) is not logged.
    """
    if int(app.config["TRUSTED_PROXY_COUNT"]) > 0:
        return
    warned = False

    def check_forwarded() -> None:
        nonlocal warned
        if not warned and "X-Forwarded-For" in request.headers:
            warned = True
            app.logger.warning(FORWARDED_IGNORED)

    app.before_request(check_forwarded)


def init_app(app: Flask) -> None:
    """Set up request ids, log hygiene and the proxy hop for ``app``.

    Call it first in the factory, before ``db.init_app`` (so SQL parameters are hidden)
    and before other extensions (so their ``before_request`` work is logged with an id).
    """
    hide_sql_parameters(app)
    configure_logging(app)
    trust_proxy(app)
    app.before_request(assign_request_id)
    warn_forwarded_ignored(app)  # after the id, which stays the first hook
    app.after_request(add_request_id_header)
    app.context_processor(request_id_context)
