"""Shared fixtures: a real database (SQLite file, or PostgreSQL when DATABASE_URL is set).

Under pytest-xdist (``make test`` runs ``-n auto``) each worker gets a database of its own
on the DATABASE_URL server, ``<name>_gw0``, ``<name>_gw1``..., since every test creates and
drops its tables in the one database it is given. SQLite needs nothing: its file is per test.
"""

from __future__ import annotations

import gc
import os
from pathlib import Path

import jinja2
import psycopg
import pytest
from argon2 import PasswordHasher
from flask import Flask
from psycopg import sql
from sqlalchemy.engine import URL, make_url

from screening import create_app
from screening.config import database_url_from_env
from screening.extensions import db
from screening.staff import accounts, credentials
from tests.patient_client import Patient

TEST_SECRET = "test-secret-key-that-is-long-enough-0123456789"

# Temporary files (each test's SQLite database among them) in memory when the machine has
# a RAM disk: the app commits with synchronous=FULL, and every commit's fsync on a real
# disk made the database tests wait on it (a few milliseconds each, thousands of commits).
# What SQLite does is the same; only the wait for the disk goes. PYTEST_DEBUG_TEMPROOT is
# pytest's own setting for where tmp_path lives (it makes a pytest-of-<user> directory of
# mode 0700 there, as under /tmp); one set outside is left alone.
_RAM_DISK = "/dev/shm"  # noqa: S108 (see above: pytest's private directory inside)
if os.path.isdir(_RAM_DISK) and os.access(_RAM_DISK, os.W_OK | os.X_OK):
    os.environ.setdefault("PYTEST_DEBUG_TEMPROOT", _RAM_DISK)


# Python's cycle collector runs after every 700 new objects by default; laying out a PDF
# or building an app makes millions, and each run walks every object still young. Running
# it less often took about a fifth off the PDF tests. Nothing here depends on when garbage
# is collected.
gc.set_threshold(50_000, 20, 20)


class _TemplateCache(jinja2.BytecodeCache):
    """Compiled templates kept in memory for the whole run, shared by every app.

    Each test builds apps of its own, and each app's Jinja environment would parse and
    compile every template it renders again (about a tenth of the time of a test that
    opens a dozen pages).
    The cache is keyed by the template's name and its source's checksum (Jinja's own
    scheme), so an edited template is compiled afresh; the code run is what Jinja's
    compiler makes of the same source, and production compiles it the same way.
    """

    def __init__(self) -> None:
        self.store: dict[str, bytes] = {}

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        code = self.store.get(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        self.store[bucket.key] = bucket.bytecode_to_string()


Flask.jinja_options = {**Flask.jinja_options, "bytecode_cache": _TemplateCache()}

# Staff passwords are argon2id at the library's recommended costs: about 0.17 s of CPU for
# each hash and each check, and the suite creates and signs in staff hundreds of times (a
# third of the staff tests' time). Tests hash with argon2id at its smallest costs, through
# the same functions; test_auth.py's test_passwords_use_the_recommended_costs checks the
# production costs with the production hasher (the fixture production_password_hashing).
PRODUCTION_PASSWORD_HASHING = (credentials._hasher, credentials._DUMMY_HASH)
_QUICK_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
credentials._hasher = _QUICK_HASHER
credentials._DUMMY_HASH = _QUICK_HASHER.hash("not a real password, only for timing")


@pytest.fixture()
def production_password_hashing(monkeypatch):
    """The password hasher (and the unknown-user hash) the app really uses."""
    hasher, dummy = PRODUCTION_PASSWORD_HASHING
    monkeypatch.setattr(credentials, "_hasher", hasher)
    monkeypatch.setattr(credentials, "_DUMMY_HASH", dummy)
    return hasher


def database_url(tmp_path) -> str:
    return database_url_from_env() or f"sqlite:///{tmp_path / 'test.sqlite3'}"


#: The clinic every test app starts with: patients cannot send a form while no clinic is
#: active, and with one clinic they are not asked to choose.
CLINIC = "North Clinic"


@pytest.fixture()
def make_app(tmp_path):
    """Build apps on the test database; drops its tables afterwards.

    The first app adds :data:`CLINIC` unless made with ``clinic=None``.
    """
    built = []

    def make(clinic: str | None = CLINIC, **overrides):
        config = {
            "TESTING": True,
            "SECRET_KEY": TEST_SECRET,
            "SQLALCHEMY_DATABASE_URI": database_url(tmp_path),
            "SERVER_NAME": "localhost",
            "SESSION_COOKIE_SECURE": False,
        }
        config.update(overrides)
        app = create_app(config)
        with app.app_context():
            db.create_all()
            if clinic and not built and not accounts.clinic_by_name(clinic):
                accounts.create_clinic(clinic)
                db.session.commit()
        built.append(app)
        return app

    yield make
    for index, app in enumerate(built):
        with app.app_context():
            db.session.remove()
            # Every app here shares one database. A SQLite file is the test's own and goes
            # with its tmp_path; a PostgreSQL database is the worker's, for the next test.
            if index == 0 and db.engine.dialect.name != "sqlite":
                db.drop_all()
            db.engine.dispose()


@pytest.fixture()
def app(make_app):
    return make_app()


@pytest.fixture()
def client(app):
    return app.test_client()


@pytest.fixture()
def patient(app):
    return Patient(app.test_client())


@pytest.fixture()
def runner(app):
    return app.test_cli_runner()


# ------------------------------------------------------------------ one database per xdist worker

WORKER_DATABASE = pytest.StashKey[tuple[str, URL, str]]()


def _server(url: URL) -> str:
    """The libpq URI of ``url``'s server and database, for psycopg itself."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def _recreate(url: URL, name: str, *, create: bool) -> None:
    """Drop database ``name`` (and create it afresh) from a connection to ``url``'s database.

    Autocommit: CREATE/DROP DATABASE cannot run in a transaction. FORCE ends connections a
    killed earlier run may have left behind.
    """
    with psycopg.connect(_server(url), autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        if create:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def pytest_configure(config):
    """On an xdist worker with DATABASE_URL set, point DATABASE_URL at the worker's database.

    Plain ``pytest`` (no worker) is left exactly as it was. The environment variable, not
    just the fixture, is changed so that everything reading it (create_app, the tests that
    check the engine, subprocesses) sees the same database.
    """
    original = os.environ.get("DATABASE_URL")
    if not original:
        return
    base = make_url(original)
    distributed = getattr(config.option, "dist", "no") != "no"
    if distributed and not (base.drivername.startswith("postgres") and base.database):
        # Checked once, in the xdist controller: workers sharing one SQLite file (or an
        # unnamed database) would collide.
        raise pytest.UsageError(
            "with pytest-xdist (-n), DATABASE_URL must name a PostgreSQL database "
            "(each worker gets <name>_gwN beside it); run without -n otherwise"
        )
    worker = getattr(config, "workerinput", {}).get("workerid")
    if worker is None:
        return
    name = f"{base.database}_{worker}"
    _recreate(base, name, create=True)
    config.stash[WORKER_DATABASE] = (original, base, name)
    os.environ["DATABASE_URL"] = base.set(database=name).render_as_string(hide_password=False)


def pytest_unconfigure(config):
    if WORKER_DATABASE not in config.stash:
        return
    original, base, name = config.stash[WORKER_DATABASE]
    os.environ["DATABASE_URL"] = original
    _recreate(base, name, create=False)


def pytest_report_header(config):
    url = os.environ.get("DATABASE_URL")
    return f"database: {'PostgreSQL ' + url.split('@')[-1] if url else 'SQLite (temporary file)'}"


BROWSER_TESTS = Path(__file__).parent / "browser"


@pytest.hookimpl(tryfirst=True)  # before -m selects by marker
def pytest_collection_modifyitems(config, items):
    """Every test under tests/browser/ is marked ``browser`` (one file once was not, and
    its Chromium journey ran on the PostgreSQL pass too) and ``slow`` (a journey takes
    seconds). Then the order the workers get them in: see :func:`schedule`."""
    for item in items:
        if BROWSER_TESTS in item.path.parents:
            item.add_marker(pytest.mark.browser)
            item.add_marker(pytest.mark.slow)
    workers = int(getattr(config, "workerinput", {}).get("workercount", 1))
    items[:] = schedule(items, workers)


def schedule(items: list, workers: int) -> list:
    """Slow tests first, shared out so that every worker starts with its part of them.

    pytest-xdist's worksteal (``make test``) gives each of the ``workers`` an equal run of
    the list, in order, then moves tests from a busy worker to an idle one. So the list is
    cut into that many runs, each starting with its share of the slow tests (browser
    journeys dealt out apart from the others, one of each in turn: a browser test mostly
    waits for Chromium, and the other worker's heavy test fills that time), then the
    rest in their usual order. A long test started last would keep one worker busy while
    the other had nothing left; and all the browser journeys on one worker left a core
    mostly idle for minutes. Tests of a module that share a module-scoped fixture stay
    together (the fixture is made once).
    """
    slow = [item for item in items if item.get_closest_marker("slow")]
    rest = [item for item in items if not item.get_closest_marker("slow")]
    if workers <= 1:
        return slow + rest
    units: dict = {}
    for item in slow:
        units.setdefault(_unit(item), []).append(item)
    browser = [unit for unit in units.values() if unit[0].get_closest_marker("browser")]
    heavy = [unit for unit in units.values() if not unit[0].get_closest_marker("browser")]
    runs: list[list] = [[] for _ in range(workers)]
    for k in range(workers):
        mine = browser[k::workers], heavy[k::workers]
        for index in range(max(map(len, mine))):
            for kind in mine:
                runs[k].extend(kind[index] if index < len(kind) else [])
    # Then the rest, so that the runs are as long as the ones worksteal cuts.
    remaining = len(items)
    for k in range(workers):
        take = max(0, remaining // (workers - k) - len(runs[k]))
        runs[k].extend(rest[:take])
        del rest[:take]
        remaining -= len(runs[k])
    runs[-1].extend(rest)
    return [item for run in runs for item in run]


def _unit(item) -> object:
    """What a test is scheduled with: its module when it uses a module-scoped fixture."""
    definitions = getattr(item, "_fixtureinfo", None)
    shared = definitions is not None and any(
        found and found[-1].scope == "module" for found in definitions.name2fixturedefs.values()
    )
    return item.path if shared else item.nodeid
