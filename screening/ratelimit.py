"""Rate limits on the public form posts, counted in the database every worker shares.

This module is the mechanism: the storage, the counting and the check. Which post is
limited, by which setting and how it is counted is declared on each view, where the
views are, with :func:`limit_posts` (the patient's pages in
``screening/patient/views.py``, the staff sign-in in ``screening/staff/views.py``):

- ``address=SETTING``: the view's ``POST`` is counted per client address; every view
  naming the same setting shares one count;
- ``form=SETTING`` (with ``form_session_key``, the session key of the form's token):
  counted per form, that is per draft in the session, a count of its own for each view.
  Patients' posts are counted by what identifies one person's work, the form (the draft
  whose token is in the session, which also becomes the submission), with a separate
  ceiling per client address.

Only ``POST`` is limited (pages people read stay unlimited). :func:`declared_limits` lists
what the app's views declared.

A post with no form in its session yet (the first page of a new form) is counted only by
its address. How the patient defaults were sized, for 100 people behind one address (a
clinic's guest Wi-Fi, a hospital's NAT), each working at a normal pace:

- One journey is at most 16 pages. People go back to change an answer, send a page with a
  mistake and send it again, switch language: count half as many posts again, 24, plus a
  submit or two, so about 26 posts; we size for 30.
- The start page says about 15 minutes (``tests/benchmarks/bench_journey.py``). The
  fastest pace a person keeps up is one short page every 10 seconds: 6 posts a minute.
- Per form: 30 a minute is 5 times that fastest pace (a double click is 2 posts); 300 an
  hour is 10 whole journeys. A person sends once; 10 submits a minute and 30 an hour
  leave room for pressing again after a busy page.
- Per address: 100 people at once, all at the fastest pace, post 100 x 6 = 600 times a
  minute; the ceiling is twice that, 1,200. 100 people all the time, each starting a new
  form every 15 minutes, post 100 x 30 x 4 = 12,000 times an hour; the ceiling is 15,000.
  ``tests/test_limits.py`` runs 100 patients from one address to the end with these
  defaults.
- Resuming (the code or a link, with the date of birth): 100 people opening saved
  answers once or twice a day, with a mistyped date now and then, is about 300 a day.

Wrong dates of birth given for one saved form, with its code or its link, are counted by
the view (:func:`wait_for_form`): ``RATELIMIT_RESUME_FORM`` (``5 per hour;10 per day``).
There are about 30,000 adult birthdays, so 10 a day over a form's 30 days is about one
chance in a hundred, wherever the tries come from; once it is reached even the right date
waits, and the person's own browser goes on as before (its cookie needs no date).

Emails a patient asks for (``screening/patient/sending.py``) are counted by the view
itself with :func:`hit_send_limits`, so that over the limit it can still show the code:
``RATELIMIT_SEND`` (``20 per hour;50 per day``) per client address and
``RATELIMIT_SEND_DRAFT`` (``5 per day``) per form, in the same storage.

The defaults live in :class:`screening.config.DefaultConfig`; under
``TESTING`` every one is ``TESTING_LIMIT`` (:class:`screening.config.TestingConfig`):
limits stay on, but high enough that the suite is never throttled; tests that check a
limit set it.

Counters live in the ``rate_limit_counter`` table (:class:`DatabaseStorage`, URI
``screening-db://``, the default) so a limit holds across gunicorn workers and machines.
A deployment with Redis may set ``RATELIMIT_STORAGE_URI = "redis://host:6379/0"`` instead.
``memory://`` counts per process: N workers would allow N times the rate.
A form's counters are keyed by a hash of its token, never the token itself.

Over a limit, the answer is the generic error page with status 429 and ``Retry-After``.
If the counter store fails, the request goes through (patients are never locked out by
our own fault) and the failure is logged by the ``flask-limiter`` logger.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Callable
from typing import Any, TypeVar

import click
from flask import Flask, current_app, has_request_context, make_response, request, session
from flask.cli import AppGroup
from flask_limiter import Limit, Limiter, RateLimitExceeded
from flask_limiter.util import get_remote_address
from limits import RateLimitItem, parse_many
from limits.storage import Storage
from limits.strategies import FixedWindowRateLimiter
from sqlalchemy import Double, Integer, String, case, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Mapped, mapped_column
from werkzeug.wrappers import Response

from screening import errors, observability
from screening.config import DefaultConfig
from screening.extensions import Model, db
from screening.i18n import N_

log = logging.getLogger(__name__)

#: The storage scheme of :class:`DatabaseStorage` (``RATELIMIT_STORAGE_URI``'s default).
SCHEME = "screening-db"


def _defaults(*settings: str) -> dict[str, str]:
    return {setting: getattr(DefaultConfig, setting) for setting in settings}


#: Production defaults, one setting per kind of post (sized in the module's docstring;
#: the values live in screening/config.py with every other default).
DEFAULT_LIMITS = _defaults(
    "RATELIMIT_PAGE",
    "RATELIMIT_SUBMIT",
    "RATELIMIT_PATIENT_ADDRESS",
    "RATELIMIT_RESUME",
    "RATELIMIT_LOGIN",
)

#: Limits the email views check themselves (see :func:`hit_send_limits`).
SEND_LIMITS = _defaults("RATELIMIT_SEND", "RATELIMIT_SEND_DRAFT")

#: Wrong dates of birth for one saved form, counted by the views (see :func:`wait_for_form`).
FORM_CHECK_LIMITS = _defaults("RATELIMIT_RESUME_FORM")

#: Attributes a view carries when :func:`limit_posts` marked it: the setting of its
#: address limit, of its per-form limit, and the session key of the form's token.
VIEW_ATTRIBUTE = "rate_limit_setting"
FORM_ATTRIBUTE = "rate_limit_form_setting"
FORM_SESSION_ATTRIBUTE = "rate_limit_form_session_key"

#: Above this many seconds the page no longer says "wait a minute".
LONG_WAIT = 120
LONG_WAIT_TEXT = N_("Too many tries. Please try again later.")

MAX_KEY_LENGTH = 255

F = TypeVar("F", bound=Callable[..., Any])


# ------------------------------------------------------------------ storage


class RateLimitCounter(Model):
    """One fixed window of one limit for one address."""

    __tablename__ = "rate_limit_counter"

    key: Mapped[str] = mapped_column(String(MAX_KEY_LENGTH), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, nullable=False)
    #: End of the window, seconds since the epoch (UTC), as ``limits`` counts time.
    expiry: Mapped[float] = mapped_column(Double, nullable=False, index=True)


#: Each dialect's own INSERT construct (both have on_conflict_do_update and excluded).
_INSERTS: dict[str, Callable[..., Any]] = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}


def _engine() -> Engine:
    # Always the app's engine and its own short transaction, never ``db.session``: the
    # session's transaction belongs to the view, which may roll it back (undoing the
    # count) or commit it long after (holding the row lock for the whole request).
    return db.engine


def _stored_key(key: str) -> str:
    if len(key) <= MAX_KEY_LENGTH:
        return key
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()


class DatabaseStorage(Storage):
    """A ``limits`` storage backed by the app's database (SQLite or PostgreSQL).

    It supports the fixed-window strategy only: a counter per key that an atomic UPSERT
    increments, or restarts when its window has ended. Registered for the URI scheme
    ``screening-db://``; the database is the app's (``SQLALCHEMY_DATABASE_URI``), used in
    an app context.
    """

    STORAGE_SCHEME = [SCHEME]

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options: Any):
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        return SQLAlchemyError

    def incr(self, key: str, expiry: int | float, amount: int = 1) -> int:
        """Add ``amount`` to the counter for ``key`` and return the new count.

        A missing counter, or one whose window has ended, starts again at ``amount`` with
        a window ending ``expiry`` seconds from now.
        """
        counted = _take_counted(key, amount)
        if counted is not None:
            return counted
        return self.incr_many([(key, expiry, amount)])[key]

    def incr_many(self, hits: list[tuple[str, int | float, int]]) -> dict[str, int]:
        """Count several hits at once: one statement in one short transaction.

        Each ``(key, expiry, amount)`` is counted as :meth:`incr` counts it (a fixed
        window per key, restarted when it has ended). The rows are written in key order,
        so two requests counting the same keys at once never wait for each other in a
        circle (PostgreSQL locks each row as it writes it).

        :return: the new count of each key. A key given twice is counted once.
        """
        engine = _engine()
        insert = _INSERTS.get(engine.dialect.name)
        if insert is None:
            raise NotImplementedError(f"no rate limit UPSERT for {engine.dialect.name}")
        now = time.time()
        stored: dict[str, tuple[str, int | float, int]] = {}
        for key, expiry, amount in hits:
            stored.setdefault(_stored_key(key), (key, expiry, amount))
        table = RateLimitCounter.__table__
        statement = insert(table).values(
            [
                {"key": name, "count": amount, "expiry": now + expiry}
                for name, (_key, expiry, amount) in sorted(stored.items())
            ]
        )
        ended = table.c.expiry <= now
        new = statement.excluded
        statement = statement.on_conflict_do_update(
            index_elements=[table.c.key],
            set_={
                "count": case((ended, new["count"]), else_=table.c.count + new["count"]),
                "expiry": case((ended, new["expiry"]), else_=table.c.expiry),
            },
        ).returning(table.c.key, table.c.count)
        with engine.begin() as conn:
            rows = conn.execute(statement).all()
        return {stored[name][0]: int(count) for name, count in rows}

    def _live(self, column: Any, key: str) -> Any:
        table = RateLimitCounter.__table__
        query = select(column).where(table.c.key == _stored_key(key), table.c.expiry > time.time())
        with _engine().connect() as conn:
            return conn.execute(query).scalar()

    def get(self, key: str) -> int:
        """Return the count in the current window of ``key`` (0 when none)."""
        return int(self._live(RateLimitCounter.__table__.c.count, key) or 0)

    def get_expiry(self, key: str) -> float:
        """Return when the current window of ``key`` ends (now when there is none)."""
        expiry = self._live(RateLimitCounter.__table__.c.expiry, key)
        return float(expiry) if expiry is not None else time.time()

    def check(self) -> bool:
        """Return whether the counter table can be read."""
        try:
            with _engine().connect() as conn:
                conn.execute(select(func.count()).select_from(RateLimitCounter.__table__))
        except SQLAlchemyError:
            return False
        return True

    def reset(self) -> int | None:
        """Delete every counter; return how many there were."""
        with _engine().begin() as conn:
            return conn.execute(delete(RateLimitCounter.__table__)).rowcount

    def clear(self, key: str) -> None:
        with _engine().begin() as conn:
            conn.execute(
                delete(RateLimitCounter.__table__).where(
                    RateLimitCounter.__table__.c.key == _stored_key(key)
                )
            )

    def purge_expired(self) -> int:
        """Delete counters whose window has ended; return how many.

        Expired counters are harmless (the next hit restarts them) but addresses that
        never come back would leave their rows behind.
        """
        table = RateLimitCounter.__table__
        with _engine().begin() as conn:
            return conn.execute(delete(table).where(table.c.expiry <= time.time())).rowcount


#: Where :func:`count_request_hits` leaves this request's counts for
#: :meth:`DatabaseStorage.incr`: in the request's own environ, never shared with another.
_COUNTED = "screening.rate_limit_counted"


def _take_counted(key: str, amount: int) -> int | None:
    """The count of ``key`` already written for this request by :func:`count_request_hits`.

    Each is handed out once; a key it did not count (or counted with another amount)
    gives None, and the storage then counts it on its own. When that one statement
    failed, its error is raised here, so the limiter fails open and logs as usual.
    """
    if not has_request_context():
        return None
    counted = request.environ.get(_COUNTED)
    if not counted or key not in counted:
        return None
    wanted, result = counted.pop(key)
    if isinstance(result, Exception):
        counted.clear()  # one failure is reported once: the limiter stops at it
        raise result
    return result if wanted == amount else None


# ------------------------------------------------------------------ limits


def limit_posts(
    *, address: str | None = None, form: str | None = None, form_session_key: str | None = None
) -> Callable[[F], F]:
    """Limit the view's ``POST``: by ``app.config[address]`` per client address, and by
    ``app.config[form]`` per form, the form being the token in ``session[form_session_key]``.

    Views that name the same ``address`` setting share one count per address; each view
    has its own count per form. A post with no form in its session yet is counted by its
    address only. The limits are checked before the view and before any other
    ``before_request`` function (:func:`init_app`).
    """
    if form is not None and not form_session_key:
        raise ValueError("a per-form limit needs the session key of the form's token")
    if address is None and form is None:
        raise ValueError("name at least one setting")

    def decorator(view: F) -> F:
        if address is not None:
            setattr(view, VIEW_ATTRIBUTE, address)
        if form is not None:
            setattr(view, FORM_ATTRIBUTE, form)
            setattr(view, FORM_SESSION_ATTRIBUTE, form_session_key)
        return view

    return decorator


def declared_limits(app: Flask) -> dict[str, dict[str, str]]:
    """Each limited endpoint of ``app`` and what its view declared (:func:`limit_posts`):
    ``{"address": setting, "form": setting}``, the keys it declared."""
    found: dict[str, dict[str, str]] = {}
    for endpoint, view in app.view_functions.items():
        declared = {
            kind: getattr(view, attribute)
            for kind, attribute in (("address", VIEW_ATTRIBUTE), ("form", FORM_ATTRIBUTE))
            if getattr(view, attribute, None)
        }
        if declared:
            found[endpoint] = declared
    return found


def _view_attribute(attribute: str) -> Any:
    """What this request's view declared with :func:`limit_posts` (None on other methods)."""
    if request.method != "POST" or request.endpoint is None:
        return None
    return getattr(current_app.view_functions.get(request.endpoint), attribute, None)


def setting_for_request() -> str | None:
    """Return the name of the setting that limits this request per address, or None."""
    return _view_attribute(VIEW_ATTRIBUTE)


def limit_for_request() -> str:
    """Return the limit string for this request; an empty string means none.

    One provider for every limited endpoint (rather than a Flask-Limiter decorator per
    view) lets Flask-Limiter check them all in its ``before_request`` hook, which
    :func:`init_app` moves to the front.
    """
    setting = setting_for_request()
    return str(current_app.config[setting]) if setting else ""


def address_scope(endpoint: str) -> str:
    """The count an address limit is kept in: its setting, so endpoints can share one."""
    return setting_for_request() or endpoint


def form_token() -> str | None:
    """The token of the form (draft) in this request's session, if any (where the view's
    :func:`limit_posts` said it is)."""
    key = _view_attribute(FORM_SESSION_ATTRIBUTE)
    token = session.get(key) if key else None
    return token if isinstance(token, str) and token else None


def form_limit_for_request() -> str:
    """Return the per-form limit string for this request; empty when there is none.

    A post with no form in its session yet (the first page of a new form) has no per-form
    limit: the address ceiling counts it.
    """
    setting = _view_attribute(FORM_ATTRIBUTE)
    if not setting or form_token() is None:
        return ""
    return str(current_app.config[setting])


def form_key() -> str:
    """What a per-form limit counts by: a hash of the form's token (never the token)."""
    token = form_token() or ""
    return "form:" + hashlib.sha256(f"rate-limit:{token}".encode()).hexdigest()[:40]


#: The extension; one per process, shared by every app built in it. Per-app settings
#: (limits, storage URI) are read from ``app.config``.
limiter = Limiter(
    key_func=get_remote_address,
    default_limits=[
        Limit(limit_for_request, scope=address_scope, shared=True),
        Limit(form_limit_for_request, key_function=form_key),
    ],
    headers_enabled=False,  # Retry-After is set on the 429 page; no extra reads per request
    swallow_errors=True,  # fail open, and log, when the counter store is down
)


def request_hits() -> list[tuple[str, RateLimitItem]]:
    """The counters the limiter is about to hit for this request, with their limits.

    The keys Flask-Limiter builds for :data:`limiter`'s two default limits (the app
    declares no others): the address limit, shared by its setting, and the per-form
    limit, scoped by the endpoint. A key that came out different from the limiter's would
    only be counted by the storage on its own (see :func:`_take_counted`), never skipped.
    """
    endpoint = request.endpoint
    if not endpoint or request.method != "POST":
        return []
    prefix = [p for p in [current_app.config["RATELIMIT_KEY_PREFIX"]] if p]
    hits = []
    for limit_string, args in (
        (limit_for_request(), (get_remote_address(), address_scope(endpoint))),
        (form_limit_for_request(), (form_key(), endpoint)),
    ):
        if not limit_string or not all(args):
            continue
        for item in parse_many(limit_string):
            hits.append((item.key_for(*prefix, *args), item))
    return hits


def count_request_hits() -> None:
    """Count every rate-limit hit of this request in one statement, before the limiter.

    A patient's post hits four counters (address and form, two windows each); written
    one by one, each was a transaction of its own (on SQLite, a wait for the write lock
    each time). The limiter then takes the counts from here (:meth:`DatabaseStorage.incr`)
    and decides as before: the same fixed windows, 429 with ``Retry-After`` over a limit,
    and when the storage fails the request goes through and the limiter logs it.
    """
    if not (limiter.initialized and isinstance(limiter.storage, DatabaseStorage)):
        return
    if not isinstance(limiter.limiter, FixedWindowRateLimiter):
        return
    hits = request_hits()
    if len(hits) < 2:
        return  # nothing to gather: the storage counts a single hit itself
    counts: dict[str, Any]
    try:
        counts = limiter.storage.incr_many([(key, item.get_expiry(), 1) for key, item in hits])
    except SQLAlchemyError as error:
        counts = dict.fromkeys((key for key, _item in hits), error)
    request.environ[_COUNTED] = {key: (1, count) for key, count in counts.items()}


def retry_after(error: Exception) -> int:
    """Return whole seconds until the breached limit's window ends (at least 1)."""
    current = limiter.current_limit
    # Someone's abort(429) has no window: a minute, as the page says.
    fallback = error.limit.limit.get_expiry() if isinstance(error, RateLimitExceeded) else 60
    try:
        seconds = current.window[0] - time.time() if current and current.breached else fallback
    except Exception:  # the store failed after counting; the window length is a safe bound
        log.warning("Could not read when the rate limit window ends", exc_info=True)
        seconds = fallback
    return max(1, math.ceil(seconds))


def too_many_requests(error: Exception) -> Response:
    """The generic error page, status 429, with ``Retry-After``; never a 5xx."""
    return wait_page(retry_after(error))


def wait_page(seconds: int) -> Response:
    """The generic error page, status 429, saying to wait ``seconds`` (``Retry-After``)."""
    text = LONG_WAIT_TEXT if seconds > LONG_WAIT else None
    response = make_response(errors.render_error(429, text))
    response.headers["Retry-After"] = str(seconds)
    return response


def _check_limits_first(app: Flask) -> None:
    """Run the limiter's ``before_request`` hook before any other but the request id.

    Every try then counts (also those CSRF refuses), and the counter's short write
    transaction happens before anything in the request opens one: on SQLite a request
    that already holds the write lock would wait for itself until the busy timeout.
    """
    funcs = app.before_request_funcs.setdefault(None, [])
    hooks = [f for f in funcs if getattr(f, "__self__", None) is limiter]
    for hook in [*hooks, count_request_hits]:
        if hook in funcs:
            funcs.remove(hook)
    position = 1 if funcs and funcs[0] is observability.assign_request_id else 0
    # Every counter of the request in one statement first, then the limiter's decision.
    funcs[position:position] = [count_request_hits, *hooks]


def hit_send_limits(draft_key: str) -> int | None:
    """Count one email for this address and this form; None if allowed.

    :param draft_key: the form's stable random key (never its token or code).
    :return: seconds until another email may be sent, when a limit is reached. The
        address is checked first and a refused email does not count against the form.
        If the counter store fails, the email is allowed (and the failure logged).
    """
    if not current_app.config["RATELIMIT_ENABLED"]:
        return None
    checks = (
        ("RATELIMIT_SEND", ("send-email", get_remote_address())),
        ("RATELIMIT_SEND_DRAFT", ("send-email-form", draft_key)),
    )
    try:
        strategy = limiter.limiter
        for setting, identifiers in checks:
            for item in parse_many(str(current_app.config[setting])):
                if not strategy.hit(item, *identifiers):
                    reset = strategy.get_window_stats(item, *identifiers).reset_time
                    return max(1, math.ceil(reset - time.time()))
    except Exception:  # fail open, as the limiter does (swallow_errors)
        log.warning("Could not count an email against its rate limits", exc_info=True)
    return None


def wait_for_form(setting: str, draft_key: str, *, count: bool) -> int | None:
    """Check, or count, one try against a per-form limit the view keeps itself.

    Used for wrong dates of birth given for one saved form (``RATELIMIT_RESUME_FORM``):
    check with ``count=False`` before looking at the date, count with ``count=True`` when
    it was wrong.

    :param draft_key: the form's stable random key (never its token or code).
    :return: seconds until another try is allowed, when the limit is already reached;
        None otherwise, also when the counter store fails (logged).
    """
    if not current_app.config["RATELIMIT_ENABLED"]:
        return None
    identifiers = ("form-check", setting, draft_key)
    try:
        strategy = limiter.limiter
        for item in parse_many(str(current_app.config[setting])):
            allowed = (
                strategy.hit(item, *identifiers) if count else strategy.test(item, *identifiers)
            )
            if not allowed:
                reset = strategy.get_window_stats(item, *identifiers).reset_time
                return max(1, math.ceil(reset - time.time()))
    except Exception:  # fail open, as the limiter does (swallow_errors)
        log.warning("Could not check a per-form limit", exc_info=True)
    return None


ratelimit_cli = AppGroup("ratelimit", help="Rate limit counters.")


@ratelimit_cli.command("purge")
def purge_command() -> None:
    """Delete rate limit counters whose window has ended (run daily)."""
    if not current_app.config["RATELIMIT_STORAGE_URI"].startswith(SCHEME):
        click.echo("Rate limit counters are not stored in the database; nothing to do.")
        return
    click.echo(f"Deleted {DatabaseStorage().purge_expired()} expired rate limit counter(s).")


def init_app(app: Flask) -> None:
    """Apply the rate limits to ``app``.

    Call it after the blueprints are registered and after the other ``before_request``
    functions (it moves its own hook to the front). With ``RATELIMIT_ENABLED = False``
    nothing is limited.
    """
    config = app.config
    app.cli.add_command(ratelimit_cli)
    if not config["RATELIMIT_ENABLED"]:
        # Flask-Limiter would record "disabled" on the shared extension, switching it off
        # for every app in the process; leaving this app out has the intended effect.
        log.warning("Rate limits are off (RATELIMIT_ENABLED = False).")
        return
    if config["RATELIMIT_STORAGE_URI"].startswith(SCHEME) and (
        config["RATELIMIT_STRATEGY"] != "fixed-window"
    ):
        raise ValueError("The database rate limit storage supports only fixed-window.")
    limiter.init_app(app)
    _check_limits_first(app)
    app.register_error_handler(429, too_many_requests)
