"""Engine settings that make SQLite safe for several worker processes."""

from __future__ import annotations

import logging
import os
import sqlite3
import stat
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url

log = logging.getLogger(__name__)


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
