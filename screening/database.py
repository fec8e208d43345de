"""Engine settings that make SQLite safe for several worker processes, and what happens
when the database cannot be reached (a restart, a dropped connection, a full disk, a lock
held too long)."""

from __future__ import annotations

import logging
import os
import sqlite3
import stat
from typing import Any

import click
from flask import Flask, g
from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from screening.extensions import db

log = logging.getLogger(__name__)

#: Errors that mean "the database did not do it, try again": the driver's operational and
#: interface errors (connection refused or lost, "database is locked", "database or disk
#: is full"...) and the pool's own (no connection free in time). Pages answer them with
#: 503, never 500. Errors of our own making (a broken constraint, bad SQL) stay 500s:
#: trying again would not help, and they must be seen.
UNAVAILABLE: tuple[type[Exception], ...] = (
    OperationalError,
    InterfaceError,
    DisconnectionError,
    PoolTimeoutError,
)


def secure_sqlite_file(url: str) -> None:
    """Create the SQLite database file with mode 0600, or tighten an existing one.

    SQLite would create it following the umask (usually 0644: readable by every user of
    the machine). Its -wal and -shm files take the database file's mode.
    """
    parsed = make_url(url)
    path = parsed.database
    if parsed.get_backend_name() != "sqlite" or not path or path == ":memory:":
        return
    if path.startswith("file:"):
        return  # a URI filename: the deployment chose its own options
    if not os.path.exists(path):
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    for suffix in ("", "-wal", "-shm"):
        name = path + suffix
        if os.path.exists(name) and os.stat(name).st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            os.chmod(name, 0o600)
            log.warning("%s could be read by other users; it is now mode 0600.", name)


#: Hosts where the database traffic never leaves the machine.
LOCAL_HOSTS = frozenset({"", "localhost", "127.0.0.1", "::1"})
#: sslmode values that encrypt the connection: verify-full also checks the server's name.
SAFE_SSLMODES = frozenset({"verify-full", "verify-ca", "require"})


def warn_unencrypted_postgres(url: str) -> bool:
    """Warn when a PostgreSQL server on another machine is reached without TLS.

    libpq's default (``sslmode=prefer``) silently falls back to a plain connection, and
    never checks whose certificate it got: names, answers (encrypted, but still) and the
    staff's password hashes would cross the network readable, or to an impostor.

    :return: whether it warned.
    """
    parsed = make_url(url)
    if not parsed.get_backend_name().startswith("postgresql"):
        return False
    host = (parsed.host or "").lower()
    sslmode = str(parsed.query.get("sslmode", "")).lower()
    if host in LOCAL_HOSTS or host.startswith("/") or sslmode in SAFE_SSLMODES:
        return False
    log.warning(
        "DATABASE_URL reaches PostgreSQL on %s without sslmode=verify-full (or require): the "
        "connection may be unencrypted and the server is not verified. Add "
        "?sslmode=verify-full (README, Deploying).",
        host,
    )
    return True


@event.listens_for(Engine, "connect")
def _sqlite_on_connect(dbapi_connection: Any, connection_record: Any) -> None:
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    # Let SQLAlchemy's "begin" event below open transactions itself.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA busy_timeout=15000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


@event.listens_for(Engine, "begin")
def _sqlite_begin(conn: Any) -> None:
    # BEGIN IMMEDIATE takes the write lock up front: a plain deferred BEGIN turns
    # concurrent read-then-write into "database is locked" failures.
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def discard_session() -> None:
    """Undo whatever this request's session holds, even when its connection is dead.

    A rollback on a connection the server has closed raises in turn; the connection is then
    thrown away (invalidated), so the pool opens a new one for the next request.
    """
    try:
        db.session.rollback()
    except Exception:
        log.warning("Rollback failed (the connection was lost); discarding it", exc_info=True)
        try:
            db.session().invalidate()
        except Exception:
            log.warning("Discarding the lost connection failed", exc_info=True)


def _remove_session(_error: BaseException | None) -> None:
    """End the request's session without letting a dead connection escape Flask.

    Runs before Flask-SQLAlchemy's own teardown (teardowns run last registered first). Its
    ``session.remove()`` rolls back, which raises when the server went away during the
    request; out of Flask, that became the server's bare "Internal Server Error" after the
    response was already made (no security headers, no request id).
    """
    try:
        db.session.remove()
    except Exception:
        log.exception(
            "Closing the database session failed; the connection is discarded",
            extra={"request_id": g.get("request_id", "-")},  # the request itself has ended
        )
        try:
            db.session().invalidate()
        except Exception:
            log.warning("Discarding the lost connection failed", exc_info=True)
        # Forget the broken session, so Flask-SQLAlchemy's teardown has nothing to close.
        db.session.registry.clear()


def init_app(app: Flask) -> None:
    """Call after ``db.init_app(app)``, so this teardown runs before Flask-SQLAlchemy's."""
    app.teardown_appcontext(_remove_session)


# ------------------------------------------------------------------ migrations, loaded on use

#: The Alembic migrations.
MIGRATIONS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "migrations")


def init_migrations(app: Flask) -> None:
    """Give ``app`` Flask-Migrate (``flask db ...``, ``flask_migrate.upgrade()``), loaded
    when a migration is first asked for.

    Flask-Migrate imports Alembic, which takes about as long to import as the rest of the
    app, and a worker that serves pages never migrates. Until then the ``db`` command
    group and ``app.extensions["migrate"]`` are stand-ins that bind Flask-Migrate to the
    app the first time they are used, exactly as ``Migrate(app, db, directory=...)``
    would have at start.
    """
    app.extensions["migrate"] = _PendingMigrate(app)
    app.cli.add_command(_MigrationCommands(app))


def _migrate(app: Flask) -> Any:
    """Bind Flask-Migrate to ``app`` (once); its entry in ``app.extensions``."""
    if isinstance(app.extensions.get("migrate"), _PendingMigrate):
        from flask_migrate import Migrate

        # Sets app.extensions["migrate"] and replaces the "db" group with its own.
        Migrate(app, db, directory=MIGRATIONS)
    return app.extensions["migrate"]


class _PendingMigrate:
    """``app.extensions["migrate"]`` until Flask-Migrate is bound (see above)."""

    def __init__(self, app: Flask) -> None:
        self._app = app

    def __getattr__(self, name: str) -> Any:
        return getattr(_migrate(self._app), name)


class _MigrationCommands(click.Group):
    """``flask db``: Flask-Migrate's command group, loaded when the group is used."""

    def __init__(self, app: Flask) -> None:
        super().__init__("db", help="Perform database migrations.")
        self._app = app

    def _commands(self) -> click.Group:
        _migrate(self._app)
        from flask_migrate.cli import db as commands

        return commands

    def make_context(self, info_name: str | None, args: list[str], parent=None, **extra):
        # The context, and so the options and the commands run, are Flask-Migrate's own.
        return self._commands().make_context(info_name, args, parent=parent, **extra)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return self._commands().list_commands(ctx)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return self._commands().get_command(ctx, cmd_name)
