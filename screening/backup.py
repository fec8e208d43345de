"""Backups that restore: ``flask --app screening backup create PATH`` / ``restore PATH``.

``create`` copies the whole database while the app keeps serving, then encrypts the copy
with the key set's backup key:

- SQLite: SQLite's online backup API (``sqlite3.Connection.backup``), which copies a
  consistent snapshot page by page while other connections keep writing;
- PostgreSQL: ``pg_dump --format=custom`` (one consistent snapshot, without owners or
  grants), which must be installed on the machine that runs the command, of the
  server's major version or newer.

The file is ``SCREENING-BACKUP 1``, a JSON header line (engine, time, schema revision),
then AES-256-GCM of the copy with a random 96-bit nonce, streamed by ``cryptography``'s
GCM mode, the header as associated data and the 16-byte tag at the end. Nothing of the
copy is used before the tag has been checked. The values inside stay encrypted with the
data keys too: restoring needs the backup key and the data keys of the time of the
backup (keep the key set of a retired key with the backups made before).

``restore`` decrypts into a temporary file (mode 0600, deleted afterwards) and loads it
into the app's database, which must be empty (no tables): ``sqlite3`` backup API into
the SQLite file, or ``pg_restore --single-transaction`` on PostgreSQL. Then run
``audit verify`` and ``submissions verify``.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import subprocess  # pg_dump/pg_restore, list arguments, no shell  # nosec B404
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime

import click
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from flask.cli import AppGroup
from sqlalchemy import inspect, text
from sqlalchemy.engine import URL

from screening.crypto import NONCE_BYTES, key_store
from screening.extensions import db

MAGIC = b"SCREENING-BACKUP 1\n"
TAG_BYTES = 16
CHUNK = 1 << 20
FORMAT = 1


class BackupError(RuntimeError):
    """The backup or restore could not be done; nothing was changed."""


@contextlib.contextmanager
def _scratch(directory: str) -> Iterator[str]:
    """A temporary file of mode 0600 in ``directory``, deleted afterwards."""
    descriptor, path = tempfile.mkstemp(prefix=".screening-backup-", dir=directory)
    os.close(descriptor)
    os.chmod(path, 0o600)
    try:
        yield path
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


def _libpq(url: URL) -> tuple[str, dict[str, str]]:
    """A libpq URI for ``url`` without its password, and the environment carrying it."""
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    return url.set(drivername="postgresql", password=None).render_as_string(), env


def _run(command: list[str], env: dict[str, str]) -> None:
    try:
        done = subprocess.run(  # noqa: S603  our fixed PostgreSQL tool commands, no shell  # nosec B603
            command, env=env, capture_output=True, text=True, check=False
        )
    except FileNotFoundError:
        raise BackupError(f"{command[0]} is not installed (PostgreSQL client tools)") from None
    if done.returncode != 0:
        # pg_dump/pg_restore errors name objects and options, not row values.
        raise BackupError(f"{command[0]} failed: {done.stderr.strip()[-500:]}")


def _revision() -> str | None:
    with db.engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def _encrypt(source: str, destination: str, header: dict) -> None:
    """Write ``source`` to ``destination`` (0600, created anew) as an encrypted backup."""
    ring = key_store().ring()
    head = json.dumps(header, sort_keys=True).encode() + b"\n"
    nonce = os.urandom(NONCE_BYTES)
    encryptor = Cipher(algorithms.AES(ring.backup_key), modes.GCM(nonce)).encryptor()
    encryptor.authenticate_additional_data(MAGIC + head)
    directory = os.path.dirname(os.path.abspath(destination))
    with _scratch(directory) as partial:
        with open(source, "rb") as plain, open(partial, "wb") as out:
            out.write(MAGIC + head + nonce)
            while chunk := plain.read(CHUNK):
                out.write(encryptor.update(chunk))
            out.write(encryptor.finalize())
            out.write(encryptor.tag)
            out.flush()
            os.fsync(out.fileno())
        if os.path.exists(destination):
            raise BackupError(f"{destination} exists; choose a new file name")
        os.replace(partial, destination)


def read_header(path: str) -> dict:
    """The header of a backup file (not authenticated until the whole file is read)."""
    with open(path, "rb") as handle:
        if handle.read(len(MAGIC)) != MAGIC:
            raise BackupError(f"{path} is not a screening backup")
        try:
            return json.loads(handle.readline())
        except ValueError:
            raise BackupError(f"{path} is damaged (its header)") from None


def _decrypt(source: str, destination: str) -> dict:
    """Decrypt a backup into ``destination``; raise unless every byte is authentic."""
    ring = key_store().ring()
    size = os.path.getsize(source)
    with open(source, "rb") as handle:
        if handle.read(len(MAGIC)) != MAGIC:
            raise BackupError(f"{source} is not a screening backup")
        head = handle.readline()
        nonce = handle.read(NONCE_BYTES)
        body = size - handle.tell() - TAG_BYTES
        if body < 0:
            raise BackupError(f"{source} is cut short")
        handle.seek(size - TAG_BYTES)
        tag = handle.read(TAG_BYTES)
        handle.seek(len(MAGIC) + len(head) + NONCE_BYTES)
        decryptor = Cipher(algorithms.AES(ring.backup_key), modes.GCM(nonce, tag)).decryptor()
        decryptor.authenticate_additional_data(MAGIC + head)
        with open(destination, "wb") as out:
            left = body
            while left:
                chunk = handle.read(min(CHUNK, left))
                if not chunk:
                    raise BackupError(f"{source} is cut short")
                left -= len(chunk)
                out.write(decryptor.update(chunk))
            try:
                out.write(decryptor.finalize())
            except InvalidTag:
                raise BackupError(
                    f"{source} is damaged, or was made with another backup key"
                ) from None
    return json.loads(head)


def _sqlite_file(url: URL) -> str:
    """The file of a SQLite database (an in-memory one has none to copy)."""
    if not url.database:
        raise BackupError("the SQLite database is in memory: there is no file to copy")
    return url.database


def create(path: str) -> dict:
    """Back the app's database up to ``path`` (a new file); return its header.

    :raise BackupError: the copy failed, or ``path`` exists.
    """
    if os.path.exists(path):
        raise BackupError(f"{path} exists; choose a new file name")
    url = db.engine.url
    engine = url.get_backend_name()
    header = {
        "format": FORMAT,
        "engine": engine,
        "created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "revision": _revision(),
    }
    directory = os.path.dirname(os.path.abspath(path))
    with _scratch(directory) as copy:
        if engine == "sqlite":
            with (
                contextlib.closing(sqlite3.connect(_sqlite_file(url))) as source,
                contextlib.closing(sqlite3.connect(copy)) as target,
            ):
                source.backup(target)  # a consistent snapshot; writers go on meanwhile
        elif engine == "postgresql":
            conninfo, env = _libpq(url)
            command = ["pg_dump", "--format=custom", "--no-owner", "--no-privileges"]
            _run([*command, f"--file={copy}", f"--dbname={conninfo}"], env)
        else:
            raise BackupError(f"no backup for {engine}")
        _encrypt(copy, path, header)
    return header


def restore(path: str) -> dict:
    """Restore the backup at ``path`` into the app's database, which must be empty.

    :raise BackupError: not a backup, damaged, another key, another engine, or a
        database that is not empty. Nothing is loaded then.
    """
    url = db.engine.url
    engine = url.get_backend_name()
    header = read_header(path)
    if header.get("engine") != engine:
        raise BackupError(f"the backup is of a {header.get('engine')} database, not {engine}")
    with db.engine.connect() as conn:
        tables = inspect(conn).get_table_names()
    if tables:
        raise BackupError(
            f"the database is not empty ({len(tables)} tables): restore into a new one"
        )
    directory = (
        tempfile.gettempdir()
        if engine == "postgresql"
        else os.path.dirname(os.path.abspath(_sqlite_file(url)))
    )
    with _scratch(directory) as copy:
        _decrypt(path, copy)
        db.session.remove()
        db.engine.dispose()
        if engine == "sqlite":
            with (
                contextlib.closing(sqlite3.connect(copy)) as source,
                contextlib.closing(sqlite3.connect(_sqlite_file(url))) as target,
            ):
                source.backup(target)
        else:
            conninfo, env = _libpq(url)
            command = ["pg_restore", "--no-owner", "--no-privileges", "--exit-on-error"]
            _run([*command, "--single-transaction", f"--dbname={conninfo}", copy], env)
    db.engine.dispose()
    return header


backup_cli = AppGroup("backup", help="Encrypted backups of the whole database.")


@backup_cli.command("create")
@click.argument("path", type=click.Path(dir_okay=False))
def create_command(path: str) -> None:
    """Back the database up to PATH, encrypted with the backup key (the app keeps serving)."""
    try:
        header = create(path)
    except BackupError as error:
        raise click.ClickException(str(error)) from error
    size = os.path.getsize(path)
    click.echo(f"Wrote {path} ({size:,} bytes, {header['engine']}, {header['created']}).")
    click.echo("Restoring it needs this key set too: keep a copy of it apart from the backups.")


@backup_cli.command("restore")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
def restore_command(path: str) -> None:
    """Restore PATH into the app's database, which must be empty (a new database)."""
    try:
        header = restore(path)
    except BackupError as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"Restored the backup of {header['created']} (revision {header['revision']}).")
    click.echo("Now run `audit verify` and `submissions verify`.")
