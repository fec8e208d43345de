"""Request ids, log hygiene and the trusted proxy hop."""

from __future__ import annotations

import io
import logging
import re
import secrets
import threading
import urllib.error
import urllib.request

import pytest
from flask import Flask, request
from werkzeug.serving import make_server

from screening import observability
from screening.observability import (
    LOG_FORMAT,
    RequestIdFilter,
    SanitizeFilter,
    UTCFormatter,
)
from screening.patient import views
from tests.test_security import check_headers

REQUEST_ID = re.compile(r"^[0-9a-f]{16}$")
LEAKS = ("Traceback", "sqlalchemy", "SELECT", "Werkzeug", "Flask", "secret stack detail")


@pytest.fixture()
def wired(make_app):
    """Build apps (keyword arguments are config); the factory wires both modules."""
    return make_app


@pytest.fixture()
def app(wired):
    return wired()


@pytest.fixture()
def boom_app(wired, monkeypatch):
    """An app whose first page fails with an unexpected error."""

    def fail():
        raise RuntimeError("secret stack detail")

    # A public page, so the test does not depend on which pages need a sign-in.
    monkeypatch.setattr(views, "current_draft", fail)
    return wired()


@pytest.mark.parametrize(
    ("method", "url", "status"),
    [
        ("GET", "/", 200),
        ("GET", "/resume", 200),
        ("GET", "/static/css/app.css", 200),
        ("GET", "/no-such-page", 404),
        ("PUT", "/", 405),
        ("POST", "/submit", 400),  # no CSRF token
        ("GET", "/r/not-a-token", 303),
    ],
)
def test_every_response_has_a_request_id(client, method, url, status):
    response = client.open(url, method=method)
    response.close()
    assert response.status_code == status
    assert REQUEST_ID.match(response.headers["X-Request-ID"])


def test_request_ids_are_random_and_never_taken_from_the_client(client):
    ids = {
        client.get("/", headers={"X-Request-ID": "0000000000000000"}).headers["X-Request-ID"]
        for _ in range(5)
    }
    assert len(ids) == 5
    assert all(REQUEST_ID.match(i) for i in ids)
    assert "0000000000000000" not in ids


@pytest.mark.parametrize(
    ("method", "url", "kwargs", "status"),
    [
        ("POST", "/submit", {}, 400),
        ("GET", "/no-such-page", {}, 404),
        ("PUT", "/resume", {}, 405),
        ("POST", "/resume", {"data": {"code": "x" * 300_000}}, 413),
    ],
)
def test_error_pages_show_the_reference_and_nothing_else(client, method, url, kwargs, status):
    response = client.open(url, method=method, **kwargs)
    body = response.get_data(as_text=True)
    assert response.status_code == status
    request_id = response.headers["X-Request-ID"]
    assert f"Reference: {request_id}" in body
    for leak in LEAKS:
        assert leak not in body
    check_headers(response)


def test_forced_500_shows_an_id_that_is_in_the_log_with_the_exception(boom_app, caplog):
    caplog.set_level(logging.INFO)
    response = boom_app.test_client().get("/")
    body = response.get_data(as_text=True)
    assert response.status_code == 500
    request_id = response.headers["X-Request-ID"]
    assert f"Reference: {request_id}" in body
    for leak in LEAKS:
        assert leak not in body
    check_headers(response)

    [record] = [r for r in caplog.records if r.exc_info and request_id in r.getMessage()]
    assert record.levelno == logging.ERROR
    assert record.exc_info[0] is RuntimeError
    assert record.request_id == request_id
    assert "secret stack detail" in caplog.text  # the detail goes to the log, not the page


def test_500_handler_rolls_back_so_later_code_cannot_commit_a_half_done_write(wired, monkeypatch):
    from screening.extensions import db
    from screening.ratelimit import RateLimitCounter

    def half_done():
        db.session.add(RateLimitCounter(key="half-done", count=1, expiry=0.0))
        db.session.flush()
        raise RuntimeError("after a write")

    monkeypatch.setattr(views, "current_draft", half_done)
    app = wired()

    @app.after_request
    def commit_later(response):
        db.session.commit()  # code that runs after the error page
        return response

    assert app.test_client().get("/").status_code == 500
    with app.app_context():
        assert db.session.get(RateLimitCounter, "half-done") is None


def test_log_lines_carry_the_request_id_and_utc_time(app):
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(UTCFormatter(LOG_FORMAT))
    handler.addFilter(RequestIdFilter())
    handler.addFilter(SanitizeFilter())
    logger = logging.getLogger("screening.test_observability")
    logger.addHandler(handler)
    try:
        with app.test_request_context("/"):
            observability.assign_request_id()
            request_id = observability.current_request_id()
            logger.warning("inside a request")
        logger.warning("outside a request")
    finally:
        logger.removeHandler(handler)
    inside, outside = stream.getvalue().splitlines()
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z WARNING ", inside)
    assert f"[{request_id}] screening.test_observability: inside a request" in inside
    assert "[-] screening.test_observability: outside a request" in outside


def test_the_app_logger_has_one_sanitising_handler(wired):
    wired()
    wired()  # a second app in the process must not add a second handler
    handlers = [
        h
        for h in logging.getLogger("screening").handlers
        if isinstance(h, observability.AppLogHandler)
    ]
    assert len(handlers) == 1
    kinds = {type(f) for f in handlers[0].filters}
    assert {RequestIdFilter, SanitizeFilter} <= kinds
    for name in ("werkzeug", "gunicorn.access"):
        assert any(isinstance(f, SanitizeFilter) for f in logging.getLogger(name).filters)


def test_line_breaks_in_logged_values_are_escaped(app, caplog):
    stream = io.StringIO()
    [handler] = [
        h
        for h in logging.getLogger("screening").handlers
        if isinstance(h, observability.AppLogHandler)
    ]
    original, handler.stream = handler.stream, stream
    try:
        with app.test_request_context("/"):
            logging.getLogger("screening.staff").warning(
                "sign-in failed for %s", "bob\r\nINFO forged\u2028INFO forged too"
            )
    finally:
        handler.stream = original
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1
    assert "sign-in failed for bob\\r\\nINFO forged\\u2028INFO forged too" in lines[0]
    [record] = [r for r in caplog.records if r.name == "screening.staff"]
    assert "\n" not in record.getMessage() and "\r" not in record.getMessage()


def werkzeug_shaped_record(request_line: str) -> logging.LogRecord:
    """A record as werkzeug.serving.WSGIRequestHandler.log_request makes it."""
    return logging.LogRecord(
        "werkzeug",
        logging.INFO,
        __file__,
        0,
        '127.0.0.1 - - [01/Jan/2026 10:00:00] "%s" %s %s',
        (request_line, "303", "-"),
        None,
    )


def test_resume_token_is_redacted_from_request_lines():
    token = secrets.token_urlsafe(32)
    record = werkzeug_shaped_record(f"GET /r/{token}?utm=x&next=/r/{token} HTTP/1.1")
    assert SanitizeFilter().filter(record)
    message = record.getMessage()
    assert token not in message
    assert message.endswith('"GET /r/[redacted] HTTP/1.1" 303 -')

    gunicorn = logging.LogRecord(
        "gunicorn.access",
        logging.INFO,
        __file__,
        0,
        '%(h)s "%(r)s" %(s)s "%(f)s"',
        ({"h": "10.0.0.1", "r": f"GET /r/{token} HTTP/1.1", "s": "303", "f": "-"},),
        None,
    )
    SanitizeFilter().filter(gunicorn)
    assert gunicorn.getMessage() == '10.0.0.1 "GET /r/[redacted] HTTP/1.1" 303 "-"'


def test_query_strings_are_dropped_from_request_lines():
    record = werkzeug_shaped_record("GET /step/pain?return_to=review HTTP/1.1")
    SanitizeFilter().filter(record)
    assert '"GET /step/pain HTTP/1.1"' in record.getMessage()


def test_the_development_server_never_logs_the_resume_token(app, caplog):
    """A real request through werkzeug's server and its ``werkzeug`` logger."""
    caplog.set_level(logging.INFO, logger="werkzeug")
    token = secrets.token_urlsafe(32)
    server = make_server("127.0.0.1", 0, app)
    thread = threading.Thread(target=server.serve_forever)
    thread.start()
    try:
        opener = urllib.request.build_opener(NoRedirect)
        url = f"http://127.0.0.1:{server.server_port}/r/{token}?from=email"
        with pytest.raises(urllib.error.HTTPError) as answer:
            opener.open(urllib.request.Request(url, headers={"Host": "localhost"}))
        answer.value.close()
        assert answer.value.code == 303
    finally:
        server.shutdown()
        thread.join()
        server.server_close()
    lines = [r.getMessage() for r in caplog.records if r.name == "werkzeug"]
    # The line may be coloured for a terminal; the request line itself is plain.
    assert any("GET /r/[redacted] HTTP/1.1" in line for line in lines), lines
    assert token not in caplog.text
    assert "from=email" not in caplog.text


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def test_sql_parameters_are_hidden_from_error_messages():
    app = Flask(__name__)
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {"pool_pre_ping": True}
    observability.hide_sql_parameters(app)
    assert app.config["SQLALCHEMY_ENGINE_OPTIONS"] == {
        "pool_pre_ping": True,
        "hide_parameters": True,
    }


@pytest.fixture()
def whoami(wired):
    """Return a function that requests a page and says whom the app believed it served."""

    def make(**config):
        app = wired(**config)
        seen = []

        @app.after_request
        def record(response):
            seen.append(f"{request.remote_addr} {request.scheme}")
            return response

        def ask(**kwargs):
            app.test_client().get("/", **kwargs).close()
            return seen[-1]

        return ask

    return make


def test_forwarded_headers_are_ignored_by_default(whoami):
    ask = whoami()
    seen = ask(
        headers={"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"},
        environ_base={"REMOTE_ADDR": "198.51.100.7"},
    )
    assert seen == "198.51.100.7 http"


def test_forwarded_headers_are_believed_from_the_configured_hop_only(whoami):
    ask = whoami(TRUSTED_PROXY_COUNT=1)
    seen = ask(
        # The client forged the first address; the proxy appended the real one.
        headers={"X-Forwarded-For": "192.0.2.66, 203.0.113.9", "X-Forwarded-Proto": "https"},
        environ_base={"REMOTE_ADDR": "127.0.0.1"},
    )
    assert seen == "203.0.113.9 https"
