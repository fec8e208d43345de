"""Configuration: safe defaults here, secrets and deployment values from outside.

Order of precedence (later wins): :class:`DefaultConfig` -> ``instance/config.py`` ->
environment (``SECRET_KEY``, ``DATABASE_URL`` and any ``SCREENING_<NAME>``) -> the
mapping passed to ``create_app`` by tests.
"""

from __future__ import annotations

import logging
import os
import secrets
from datetime import timedelta

from flask import Flask

log = logging.getLogger(__name__)

#: Values that must never be accepted as a production secret.
KNOWN_WEAK_SECRETS = frozenset({"dev", "development", "secret", "changeme", "change-me", "test"})
MIN_SECRET_LENGTH = 32


class DefaultConfig:
    #: "production" unless told otherwise; "development" relaxes cookie and secret rules.
    ENVIRONMENT = "production"
    SECRET_KEY: str | None = None
    #: Filled in by the factory: SQLite in the instance folder when DATABASE_URL is unset.
    SQLALCHEMY_DATABASE_URI: str | None = None
    #: hide_parameters: database error messages never carry the values (patient data).
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True, "hide_parameters": True}

    #: How long a saved, unfinished questionnaire can be resumed (days since last save).
    DRAFT_LIFETIME_DAYS = 30
    #: How long a submission is kept after it was closed or marked not proceeding, when
    #: its clinic sets no period of its own: 7 years (README, "Retention"). Then
    #: `flask --app screening submissions purge` deletes it.
    SUBMISSION_RETENTION_DAYS = 7 * 365 + 2
    #: Used to work out age from the date of birth on the clinic's calendar day.
    CLINIC_TIMEZONE = "America/New_York"
    CLINIC_NAME = "the clinic"
    #: How long a submission may wait in the queue before it is marked overdue, by
    #: urgency: emergencies in clock hours (they do not wait for opening time), the
    #: others in business days of the clinic's opening hours.
    QUEUE_TARGETS = {
        "emergency": {"hours": 2},
        "prompt": {"business_days": 1},
        "routine": {"business_days": 3},
    }

    # Request size limits: no uploads anywhere, so a form body is small (security C06).
    MAX_CONTENT_LENGTH = 256 * 1024
    MAX_FORM_MEMORY_SIZE = 64 * 1024
    MAX_FORM_PARTS = 400

    # The cookie holds only an opaque draft token and the CSRF secret; it lasts as long
    # as a draft so a closed tab does not lose the way back.
    SESSION_COOKIE_NAME = "screening_session"
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = True
    PERMANENT_SESSION_LIFETIME = timedelta(days=30)
    #: A patient in pain may leave a page open for hours; an expired token re-shows the
    #: page with the answers kept, but it should rarely happen.
    WTF_CSRF_TIME_LIMIT = 12 * 3600
    WTF_CSRF_SSL_STRICT = True

    # Email to patients ("email me the link", the reference code): see screening/mail.py.
    # Flask-Mail's names. With no server or no sender, patients are not offered email.
    #: SMTP host, e.g. "smtp.example.org"; None: no email.
    MAIL_SERVER: str | None = None
    #: 587 for STARTTLS, 465 for implicit TLS (MAIL_USE_SSL), 25 for a local relay.
    MAIL_PORT = 587
    #: STARTTLS after connecting (certificate verified); a server without it is refused.
    MAIL_USE_TLS = True
    #: Implicit TLS from the first byte (port 465) instead of STARTTLS.
    MAIL_USE_SSL = False
    #: Sign-in for the SMTP server; None: no sign-in. Keep the password out of the code:
    #: SCREENING_MAIL_PASSWORD in the environment, or instance/config.py.
    MAIL_USERNAME: str | None = None
    MAIL_PASSWORD: str | None = None
    #: The From address, e.g. "North Clinic <no-reply@clinic.example>". Keep the topic of
    #: the form out of it (a patient's inbox is seen by others).
    MAIL_DEFAULT_SENDER: str | None = None
    #: Seconds for each network step; a patient waits on the page while it sends.
    MAIL_TIMEOUT = 10

    # The queue's "PDF of the selected summaries" (screening/staff/batches.py).
    #: Most summaries in one batch PDF; the queue page says so next to the button.
    SUMMARY_BATCH_MAX = 200
    #: Up to this many are made within the request (about a third of a second each on two
    #: cores); more are made in the background while a page shows the progress.
    SUMMARY_BATCH_INLINE_MAX = 10
    #: Batches being made at once, all workers together (each keeps a core busy).
    SUMMARY_BATCH_RUNNING_MAX = 2
    #: A finished batch PDF (patient data) is kept this long for its requester, then deleted.
    SUMMARY_BATCH_KEEP_MINUTES = 30
    #: A batch with no progress for this long has stopped (its worker restarted).
    SUMMARY_BATCH_STALE_SECONDS = 120


def database_url_from_env() -> str | None:
    """Return ``DATABASE_URL`` with the psycopg 3 driver made explicit."""
    url = os.environ.get("DATABASE_URL")
    if not url:
        return None
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def load_config(app: Flask, test_config: dict | None) -> None:
    """Apply the configuration layers to ``app`` in order."""
    app.config.from_object(DefaultConfig)
    app.config.from_pyfile("config.py", silent=True)
    if os.environ.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = os.environ["SECRET_KEY"]
    if url := database_url_from_env():
        app.config["SQLALCHEMY_DATABASE_URI"] = url
    app.config.from_prefixed_env("SCREENING")
    if test_config:
        app.config.update(test_config)
    if not app.config["SQLALCHEMY_DATABASE_URI"]:
        path = os.path.join(app.instance_path, "screening.sqlite3")
        app.config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{path}"
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        # pool_pre_ping is pointless for a file; a busy writer waits instead of failing.
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {
            "connect_args": {"timeout": 15},
            "hide_parameters": True,
        }
    else:
        # After a database restart every pooled connection is dead: each is tested before
        # use and replaced, even when the options were set elsewhere.
        options = dict(app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {**options, "pool_pre_ping": True}
    check_config(app)


class ConfigError(RuntimeError):
    """The configuration is unsafe or incomplete; the app must not start."""


def check_config(app: Flask) -> None:
    """Refuse to start with a missing or weak secret outside development and tests, or in
    production without ``TRUSTED_PROXY_COUNT`` (see :func:`check_proxy_count`).

    :raise ConfigError: when ``SECRET_KEY`` is missing, a known value or too short.
    """
    key = app.config.get("SECRET_KEY")
    development = app.config["ENVIRONMENT"] == "development"
    if development:
        app.config["SESSION_COOKIE_SECURE"] = False
        app.config["WTF_CSRF_SSL_STRICT"] = False
    name = app.config["SESSION_COOKIE_NAME"]
    if app.config["SESSION_COOKIE_SECURE"] and not name.startswith("__Host-"):
        # The __Host- prefix makes browsers insist on Secure, Path=/ and no Domain.
        app.config["SESSION_COOKIE_NAME"] = "__Host-" + name
    if app.testing:
        return
    weak = not key or str(key).lower() in KNOWN_WEAK_SECRETS or len(str(key)) < MIN_SECRET_LENGTH
    if weak and development and not key:
        # A throwaway key: sessions end when the process stops. `make run` writes a
        # lasting one to instance/config.py so newcomers never meet this.
        app.config["SECRET_KEY"] = secrets.token_urlsafe(48)
        log.warning("No SECRET_KEY set: using a temporary one for this development run.")
    elif weak:
        raise ConfigError(
            "SECRET_KEY is missing or weak. Set a random value of at least "
            f"{MIN_SECRET_LENGTH} characters in the SECRET_KEY environment variable or in "
            "instance/config.py (python -c 'import secrets; print(secrets.token_urlsafe(48))')."
        )
    check_proxy_count(app, required=not development)


#: Said when TRUSTED_PROXY_COUNT is missing or wrong in production.
PROXY_COUNT_HELP = (
    "Set it to the number of reverse proxies in front of the app that add X-Forwarded-For: "
    "1 behind one nginx (the README's recipe), 0 when browsers connect to gunicorn "
    "directly. Use the SCREENING_TRUSTED_PROXY_COUNT environment variable or "
    "TRUSTED_PROXY_COUNT in instance/config.py."
)


def check_proxy_count(app: Flask, required: bool) -> None:
    """Refuse a production start until ``TRUSTED_PROXY_COUNT`` is set on purpose.

    Its default of 0 is right only when browsers reach gunicorn directly. Behind a proxy
    that is left at 0 every patient seems to come from the proxy's address, so every rate
    limit becomes one limit for everyone and the audit trail names the proxy; a number too
    high lets a client choose the address it is recorded under. Neither can be guessed, so
    production asks for the number (0 included) rather than assume one.

    :raise ConfigError: when it is required and missing, or set to something other than a
        whole number of 0 or more.
    """
    if "TRUSTED_PROXY_COUNT" not in app.config:
        if required:
            raise ConfigError("TRUSTED_PROXY_COUNT is not set. " + PROXY_COUNT_HELP)
        return
    value = app.config["TRUSTED_PROXY_COUNT"]
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(
            "TRUSTED_PROXY_COUNT must be a whole number, 0 or more. " + PROXY_COUNT_HELP
        )
    app.config["TRUSTED_PROXY_COUNT"] = value
