"""Configuration: every setting's default is here; secrets and deployment values come from
outside.

Order of precedence (later wins): :class:`DefaultConfig` -> ``instance/config.py`` ->
environment (``SECRET_KEY``, ``DATABASE_URL`` and any ``SCREENING_<NAME>``) -> the
mapping passed to ``create_app`` by tests. Under ``TESTING``, :class:`TestingConfig`
replaces the defaults of the settings none of those layers gave. The other modules read
``app.config["NAME"]`` and keep no defaults of their own (``tests/test_config.py`` checks
it, and that the README's configuration table lists every setting).
"""

from __future__ import annotations

import copy
import logging
import os
import secrets
from collections.abc import Collection
from datetime import timedelta

from flask import Config, Flask

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

    # Request size limits: no uploads anywhere, so a form body is small; anything larger is
    # refused with 413.
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

    # Health data at rest (screening/crypto.py).
    #: The key set as JSON (``python -m screening.crypto`` prints one); None: read the file.
    DATA_KEYS: str | None = None
    #: The key file read when DATA_KEYS is unset. None here: ``load_config`` puts
    #: ``instance/keys.json`` (in the app's instance folder) unless a layer set it.
    DATA_KEYS_FILE: str | None = None

    # The audit trail (screening/audit.py).
    #: Key of the audit chain, 32+ characters; None: derived from SECRET_KEY (warned about).
    AUDIT_HMAC_KEY: str | None = None
    #: A file each day's first event appends the previous day's head to; None: no file.
    AUDIT_CHECKPOINT_FILE: str | None = None

    # Requests and logs (screening/observability.py).
    #: Reverse proxies in front that add X-Forwarded-For. 0 is used in development and
    #: tests; production refuses to start until a layer sets it (see check_proxy_count).
    TRUSTED_PROXY_COUNT = 0
    #: False when logging is set up elsewhere (logging.config): no handler of our own.
    LOG_HANDLER = True

    # Staff sessions (screening/staff/access.py).
    #: Signed out after this long without a request.
    STAFF_IDLE_MINUTES = 15
    #: Signed out after this long in all.
    STAFF_ABSOLUTE_HOURS = 12
    #: Password and code are asked again for account changes after this long.
    STAFF_FRESH_MINUTES = 10
    #: The page warns this long before the idle sign-out.
    STAFF_IDLE_WARNING_SECONDS = 120
    # Sign-in failures slow down, never lock out (screening/staff/throttle.py).
    #: Failures are counted over this window, since the account's last sign-in.
    LOGIN_THROTTLE_MINUTES = 60
    #: Failures per account before each further try waits.
    LOGIN_MAX_FAILURES = 5
    #: Failures per address (a password alone) before each further try waits.
    LOGIN_MAX_FAILURES_PER_ADDRESS = 20
    #: The first wait; it doubles with each further failure...
    LOGIN_FIRST_DELAY_SECONDS = 15
    #: ...up to this.
    LOGIN_MAX_DELAY_SECONDS = 900
    #: Paper of the clinician summary: "letter" or "a4".
    SUMMARY_PAPER = "letter"
    #: How long emergency ("break glass") access to all clinics lasts.
    BREAK_GLASS_MINUTES = 60
    #: How long each emergency access stays listed on administrators' queue page.
    BREAK_GLASS_NOTICE_HOURS = 24
    #: Failed CSRF checks audited one by one per address and hour from people not signed
    #: in; past it one summary row, then only a count (screening/staff/csrf_failures.py).
    CSRF_AUDIT_PER_HOUR = 10

    # The record systems' API (screening/fhir).
    #: The API's public address; None: each request's own.
    FHIR_BASE_URL: str | None = None
    #: Submissions reach the search this many seconds after they are sent or moved: by
    #: then every transaction that stamped an earlier time has committed (fhir/feed.py).
    FHIR_FEED_DELAY_SECONDS = 60
    FHIR_PAGE_DEFAULT = 50
    FHIR_PAGE_MAX = 200

    # Rate limits (screening/ratelimit.py explains how the patient limits were sized).
    #: False: nothing is limited (also Flask-Limiter's own setting).
    RATELIMIT_ENABLED = True
    #: Where counters live: the database every worker shares ("screening-db://", the
    #: scheme screening/ratelimit.py registers) or "redis://...". Never "memory://" with
    #: several workers. Flask-Limiter's own setting.
    RATELIMIT_STORAGE_URI = "screening-db://"
    #: Flask-Limiter's; the database storage supports only "fixed-window".
    RATELIMIT_STRATEGY = "fixed-window"
    #: Flask-Limiter's: put before every counter's key (several apps sharing one store).
    RATELIMIT_KEY_PREFIX = ""
    # Per form (the draft in the session): one person's pace, so a waiting room behind
    # one address never shares them.
    RATELIMIT_PAGE = "30 per minute;300 per hour"
    RATELIMIT_SUBMIT = "10 per minute;30 per hour"
    #: Per address, page posts and submits together: 100 patients at a normal pace.
    RATELIMIT_PATIENT_ADDRESS = "1200 per minute;15000 per hour"
    #: Resuming with the code or a link, per address.
    RATELIMIT_RESUME = "30 per minute;300 per day"
    #: Staff sign-in per address. A clinic's staff often share one address: generous
    #: here; the per-account throttle of the sign-in itself stops password guessing.
    RATELIMIT_LOGIN = "30 per minute;300 per hour"
    #: Emails patients ask for, per address: a waiting room shares one, yet it caps using
    #: the form to send mail to strangers...
    RATELIMIT_SEND = "20 per hour;50 per day"
    #: ...and per form: a person needs the link once or twice.
    RATELIMIT_SEND_DRAFT = "5 per day"
    #: Wrong dates of birth for one saved form, from anywhere.
    RATELIMIT_RESUME_FORM = "5 per hour;10 per day"
    #: Per API token: a Bundle renders the summary PDF (screening/fhir/views.py).
    RATELIMIT_API = "60 per minute;1800 per hour"
    #: Per address, API requests without a valid token.
    RATELIMIT_API_FAILURES = "30 per minute;300 per hour"


#: Every rate limit's default under ``TESTING``: limits stay on, but high enough that the
#: suite is never throttled; tests that check a limit set it.
TESTING_LIMIT = "10000 per minute"


class TestingConfig:
    """Defaults under ``TESTING``, for the settings that no layer gave."""

    RATELIMIT_PAGE = TESTING_LIMIT
    RATELIMIT_SUBMIT = TESTING_LIMIT
    RATELIMIT_PATIENT_ADDRESS = TESTING_LIMIT
    RATELIMIT_RESUME = TESTING_LIMIT
    RATELIMIT_LOGIN = TESTING_LIMIT
    RATELIMIT_SEND = TESTING_LIMIT
    RATELIMIT_SEND_DRAFT = TESTING_LIMIT
    RATELIMIT_RESUME_FORM = TESTING_LIMIT
    RATELIMIT_API = TESTING_LIMIT
    RATELIMIT_API_FAILURES = TESTING_LIMIT
    #: Tests that check it set it; the others post without tokens on purpose.
    CSRF_AUDIT_PER_HOUR = 10_000


def settings_of(config_class: type) -> dict[str, object]:
    """The settings a config class holds: its upper-case attributes."""
    return {name: getattr(config_class, name) for name in dir(config_class) if name.isupper()}


def database_url_from_env() -> str | None:
    """Return ``DATABASE_URL`` with the psycopg 3 driver made explicit."""
    url = os.environ.get("DATABASE_URL")
    if not url:
        return None
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


#: Prefix of the environment variables read as settings (``SCREENING_<NAME>``).
ENV_PREFIX = "SCREENING"


def load_config(app: Flask, test_config: dict | None) -> None:
    """Apply the configuration layers to ``app`` in order, then the defaults that depend on
    the app (its instance folder, ``TESTING``), then :func:`check_config`."""
    # A copy: a layer that changes a key within a mapping default (the environment's
    # SCREENING_QUEUE_TARGETS__emergency__hours) changes this app's, not every app's.
    app.config.from_mapping(copy.deepcopy(settings_of(DefaultConfig)))
    given = _apply_layers(app, test_config)
    if app.testing:
        for name, value in settings_of(TestingConfig).items():
            if name not in given:
                app.config[name] = value
    if "DATA_KEYS_FILE" not in given:
        app.config["DATA_KEYS_FILE"] = os.path.join(app.instance_path, "keys.json")
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
        options = dict(app.config["SQLALCHEMY_ENGINE_OPTIONS"] or {})
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {**options, "pool_pre_ping": True}
    check_config(app, given)


def _apply_layers(app: Flask, test_config: dict | None) -> set[str]:
    """Apply ``instance/config.py``, the environment and ``test_config`` over the defaults.

    :return: the names of the settings these layers gave, whatever their values: a default
        that depends on the app is applied only to the others, and production insists on
        some settings being given (:func:`check_proxy_count`).
    """
    given: set[str] = set()
    instance = Config(app.config.root_path)
    instance.from_pyfile("config.py", silent=True)
    app.config.update(instance)
    given.update(instance)
    if os.environ.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = os.environ["SECRET_KEY"]
        given.add("SECRET_KEY")
    if url := database_url_from_env():
        app.config["SQLALCHEMY_DATABASE_URI"] = url
        given.add("SQLALCHEMY_DATABASE_URI")
    app.config.from_prefixed_env(ENV_PREFIX)
    # The setting each SCREENING_<NAME> (or SCREENING_<NAME>__<KEY>, a key within a
    # mapping) gives, as Flask's from_prefixed_env reads them.
    prefix = ENV_PREFIX + "_"
    given.update(
        name.removeprefix(prefix).split("__", 1)[0]
        for name in os.environ
        if name.startswith(prefix)
    )
    if test_config:
        app.config.update(test_config)
        given.update(test_config)
    return given


class ConfigError(RuntimeError):
    """The configuration is unsafe or incomplete; the app must not start."""


def check_config(app: Flask, given: Collection[str]) -> None:
    """Refuse to start with a missing or weak secret outside development and tests, or in
    production without ``TRUSTED_PROXY_COUNT`` (see :func:`check_proxy_count`).

    :param given: the settings a layer gave (not left at their default).
    :raise ConfigError: when ``SECRET_KEY`` is missing, a known value or too short.
    """
    key = app.config["SECRET_KEY"]
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
    check_proxy_count(app, required=not development and "TRUSTED_PROXY_COUNT" not in given)


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

    :param required: the setting was left at its default where it must be given.
    :raise ConfigError: when it is required, or set to something other than a whole number
        of 0 or more.
    """
    if required:
        raise ConfigError("TRUSTED_PROXY_COUNT is not set. " + PROXY_COUNT_HELP)
    value = app.config["TRUSTED_PROXY_COUNT"]
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(
            "TRUSTED_PROXY_COUNT must be a whole number, 0 or more. " + PROXY_COUNT_HELP
        )
    app.config["TRUSTED_PROXY_COUNT"] = value
