"""Adding, rotating and retiring data keys: ``flask --app screening keys ...``.

Rotating while the app keeps serving:

1. ``keys add`` puts a new data key in the key set and makes it the one new values use.
   With a key file, running workers read it within a second; with ``SCREENING_DATA_KEYS``
   the command prints the new key set, to be installed in every worker (restart them).
2. ``keys rotate`` re-encrypts every value still under an older key, one column at a
   time, in batches of ``--batch-size`` rows, each batch its own short transaction. It
   can be stopped at any point and run again: it picks up the values still to do. A row
   that a worker changes between the read and the write of its batch is left alone (the
   update only applies to the exact value read) and is looked at again in the next pass,
   so nothing a patient or a colleague saves meanwhile is lost.
3. ``keys status`` counts the values under each key; ``keys retire KEY_ID`` removes a key
   from the key set once no value uses it (it refuses otherwise).

The search index key is not rotated by these commands (see screening.search_index).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import click
from flask.cli import AppGroup
from sqlalchemy import Column, LargeBinary, Table, Text, bindparam, cast, func, select, update
from sqlalchemy.sql.expression import type_coerce

from screening.crypto import (
    ENCRYPTED_TYPES,
    FORMAT,
    DecryptionError,
    EncryptedBytes,
    EncryptedJSON,
    EncryptedText,
    Keyring,
    KeysError,
    key_id_of,
    key_store,
    open_bytes,
    seal,
    seal_bytes,
    unseal,
)
from screening.extensions import db

#: Rows per transaction of ``keys rotate``.
BATCH_SIZE = 200
#: Characters of a stored value enough to read its key id.
HEAD = len(FORMAT) + 36


def encrypted_columns() -> list[tuple[Table, Column]]:
    """Every encrypted column of the schema, as (table, column)."""
    return [
        (table, column)
        for table in db.metadata.sorted_tables
        for column in table.columns
        if isinstance(column.type, ENCRYPTED_TYPES)
    ]


def _encrypted(column: Column) -> EncryptedJSON | EncryptedText | EncryptedBytes:
    """The type of a column of :func:`encrypted_columns`."""
    if not isinstance(column.type, ENCRYPTED_TYPES):
        raise TypeError(f"{column} is not an encrypted column")
    return column.type


def _binary(column: Column) -> bool:
    return isinstance(_encrypted(column).impl_instance, LargeBinary)


def _stored(column: Column) -> Any:
    """The column's stored form, without decrypting: text (JSON text too) or bytes."""
    if _binary(column):
        return type_coerce(column, LargeBinary)
    return cast(type_coerce(column, Text), Text)


def _token(column: Column, stored: Any) -> str | bytes:
    """The ``enc1:...`` value inside a stored one (a JSON column holds it as a JSON string)."""
    if _binary(column):
        return bytes(stored)
    return json.loads(stored) if isinstance(column.type, EncryptedJSON) else stored


def _key_of(column: Column, head: Any) -> str:
    if not _binary(column) and isinstance(column.type, EncryptedJSON):
        head = head.lstrip('"')
    try:
        return key_id_of(bytes(head) if _binary(column) else head)
    except DecryptionError:
        return "(not encrypted)"


def _present(column: Column) -> Any:
    condition = column.is_not(None)
    if isinstance(column.type, EncryptedJSON):
        condition &= _stored(column) != "null"
    return condition


def usage() -> dict[str, Counter[str]]:
    """For every encrypted column (``table.column``), how many values use each key id."""
    found: dict[str, Counter[str]] = {}
    with db.engine.connect() as conn:
        for table, column in encrypted_columns():
            counts: Counter[str] = Counter()
            heads = conn.execution_options(yield_per=5000).execute(
                select(func.substr(_stored(column), 1, HEAD)).where(_present(column))
            )
            for (head,) in heads:
                counts[_key_of(column, head)] += 1
            found[f"{table.name}.{column.name}"] = counts
    return found


def _reseal(column: Column, label: str, stored: Any, ring: Keyring) -> Any | None:
    """The value re-encrypted under the current key, as stored; None if it already is."""
    token = _token(column, stored)
    key_id = key_id_of(token)
    if key_id == ring.current:
        return None
    if isinstance(token, bytes):
        head = len(FORMAT) + len(key_id) + 2
        plain = open_bytes(label, key_id, token[head:], ring)
        new_id, sealed = seal_bytes(label, plain, ring)
        return f"{FORMAT}:{new_id}:".encode() + sealed
    return seal(label, unseal(label, token, ring), ring)


@dataclass
class Progress:
    """What ``rotate`` did."""

    rewritten: Counter[str] = field(default_factory=Counter)
    #: Rows changed by someone else between the read and the write (done in a later pass).
    skipped: Counter[str] = field(default_factory=Counter)
    passes: int = 0


def _batches(table: Table, column: Column, ring: Keyring, size: int) -> Iterator[Sequence[Any]]:
    """Batches of (id, stored value) not yet under the current key, in id order."""
    (key,) = table.primary_key.columns
    stored = _stored(column)
    after = None
    while True:
        query = select(key, stored).where(_present(column)).order_by(key).limit(size)
        if not _binary(column):
            # Text values name their key up front: only the ones still to do are read.
            prefix = f"{FORMAT}:{ring.current}:"
            if isinstance(column.type, EncryptedJSON):
                prefix = '"' + prefix
            query = query.where(func.substr(stored, 1, len(prefix)) != prefix)
        if after is not None:
            query = query.where(key > after)
        with db.engine.connect() as conn:
            rows = conn.execute(query).all()
        if not rows:
            return
        after = rows[-1][0]
        yield rows


def rotate(
    batch_size: int = BATCH_SIZE,
    max_passes: int = 5,
    report: Callable[[str], None] | None = None,
    between: Callable[[str], None] | None = None,
) -> Progress:
    """Re-encrypt every value that is not under the current key (see the module).

    :param between: called with the column's label after each batch is read and before
        it is written (tests use it to change a row at the worst moment).
    :return: what was rewritten and skipped, by column.
    """
    ring = key_store().ring(force=True)
    progress = Progress()
    for _pass in range(max_passes):
        progress.passes += 1
        skipped_before = sum(progress.skipped.values())
        rewritten_before = sum(progress.rewritten.values())
        for table, column in encrypted_columns():
            label = _encrypted(column).label
            (key,) = table.primary_key.columns
            for rows in _batches(table, column, ring, batch_size):
                if between:
                    between(label)
                with db.engine.begin() as conn:
                    for row_id, stored in rows:
                        new = _reseal(column, label, stored, ring)
                        if new is None:
                            continue
                        done = conn.execute(
                            update(table)
                            .where(key == row_id, _stored(column) == stored)
                            .values(
                                {
                                    column.name: bindparam(
                                        "new", new, type_=_encrypted(column).impl_instance
                                    )
                                }
                            )
                        ).rowcount
                        counter = progress.rewritten if done == 1 else progress.skipped
                        counter[label] += 1
                if report:
                    report(f"{label}: {progress.rewritten[label]} re-encrypted")
        if (
            sum(progress.skipped.values()) == skipped_before
            and sum(progress.rewritten.values()) == rewritten_before
        ):
            break
    return progress


keys_cli = AppGroup("keys", help="The data keys (health data encrypted at rest).")


def _install(ring: Keyring, what: str) -> None:
    store = key_store()
    if store.from_file:
        store.replace(ring)
        click.echo(f"{what} Saved to {store.path}; running workers read it within a second.")
        return
    click.echo(f"{what} The keys come from SCREENING_DATA_KEYS: install this key set in every")
    click.echo("worker's environment and restart them (keep it as secret as the old one):")
    click.echo(json.dumps(ring.to_dict(), sort_keys=True))


@keys_cli.command("status")
def status_command() -> None:
    """Count the stored values under each key, column by column."""
    ring = key_store().ring(force=True)
    click.echo(f"current key: {ring.current}; keys in the key set: {', '.join(sorted(ring.keys))}")
    for label, counts in usage().items():
        shown = ", ".join(f"{key_id} {count}" for key_id, count in sorted(counts.items()))
        click.echo(f"{label}: {shown or 'no values'}")


@keys_cli.command("add")
def add_command() -> None:
    """Add a new data key and make it the one new values use (then run `keys rotate`)."""
    try:
        ring = key_store().ring(force=True).with_new_key()
    except KeysError as error:
        raise click.ClickException(str(error)) from error
    _install(ring, f"Added key {ring.current}; new values use it.")


@keys_cli.command("rotate")
@click.option("--batch-size", type=click.IntRange(min=1), default=BATCH_SIZE, show_default=True)
def rotate_command(batch_size: int) -> None:
    """Re-encrypt every value under an older key with the current one (resumable)."""
    try:
        progress = rotate(batch_size, report=click.echo)
    except KeysError as error:
        raise click.ClickException(str(error)) from error
    total = sum(progress.rewritten.values())
    click.echo(f"Re-encrypted {total} value(s) in {progress.passes} pass(es).")
    left = {
        label: sum(n for key_id, n in counts.items() if key_id != key_store().ring().current)
        for label, counts in usage().items()
    }
    left = {label: n for label, n in left.items() if n}
    if left:
        click.echo(
            "Still under older keys (written meanwhile; run again): "
            + ", ".join(f"{label} {n}" for label, n in left.items())
        )
        raise SystemExit(1)
    click.echo("Every value is under the current key; older keys can be retired.")


@keys_cli.command("retire")
@click.argument("key_id")
def retire_command(key_id: str) -> None:
    """Remove KEY_ID from the key set; refused while any value still uses it."""
    in_use = {label: counts[key_id] for label, counts in usage().items() if counts.get(key_id)}
    if in_use:
        shown = ", ".join(f"{label} {n}" for label, n in in_use.items())
        raise click.ClickException(f"Key {key_id} still encrypts {shown}. Run `keys rotate` first.")
    try:
        ring = key_store().ring(force=True).without(key_id)
    except KeysError as error:
        raise click.ClickException(str(error)) from error
    _install(ring, f"Retired key {key_id}.")
    click.echo("Backups made before the rotation still need it: keep the old key set with them.")
