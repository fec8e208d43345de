"""Engine settings that make SQLite safe for several worker processes, and what happens
when the database cannot be reached (a restart, a dropped connection, a full disk, a lock
held too long)."""

from __future__ import annotations

import logging
import sqlite3
from typing import Any

from flask import Flask, g
from sqlalchemy import event
from sqlalchemy.engine import Engine
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
    # concurrent read-then-write into "database is locked" failures (security.md 3.1).
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
