"""Field-level encryption of health data, and the keys it uses (README, "Health data at rest").

What is encrypted: the answers, contact details and date of birth of drafts and
submissions, the stored result (which reveals the answers), staff notes and clinic-move
reasons (free text about a patient), the queue's batch PDFs, and staff TOTP seeds. The
columns the queue sorts and filters on (status, outcome, care level, urgency, clinic,
dates) stay plain. Staff search uses keyed blind indexes instead (``search_index``).

The cipher is AES-256-GCM from ``cryptography`` (no cipher code of our own). Each value
is stored as ``enc1:<key id>:<base64url(nonce || ciphertext || tag)>`` with a fresh
random 96-bit nonce, so the same value encrypts differently every time. The associated
data binds a value to its column (``submission.personal``) and to the key id in front of
it: a value copied into another column, or its key id edited, fails to decrypt instead
of being read as something else. The plaintext is padded (PKCS7) to a multiple of 64
bytes, so a value's stored length says less about the name or answer inside.

It does not bind a value to its *row*: swapping whole values between two rows of one
column is caught by the per-submission digest, not here.

Keys
----

A key set (:class:`Keyring`) holds one or more 256-bit data keys by id, which one new
values use (``current``), the key of the search index and digests (``index``) and the
key of backup files (``backup``). It lives outside
the database, in this order:

1. ``DATA_KEYS`` (environment ``SCREENING_DATA_KEYS``): the key set as JSON, for
   production;
2. the file ``DATA_KEYS_FILE`` (default ``instance/keys.json``), mode 0600, written by
   ``make run`` on first use (``python -m screening.crypto instance/keys.json``).

Outside development and tests the app refuses to start without one. The key file is
read again when it changes (checked at most once a second), so ``flask --app screening
keys add`` reaches running workers without a restart; keys from the environment need a
restart. Rotation and retirement are in :mod:`screening.rekey`.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import json
import logging
import os
import re
import secrets
import stat
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from flask import Flask, current_app
from sqlalchemy import JSON, LargeBinary, String, Text, TypeDecorator

from screening.config import ConfigError

log = logging.getLogger(__name__)

#: The stored format's version and prefix.
FORMAT = "enc1"
KEY_BYTES = 32
NONCE_BYTES = 12
#: Values are padded to a multiple of this many bits (64 bytes).
PAD_BITS = 512
KEY_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
#: How often a worker looks at the key file's modification time, in seconds.
RELOAD_SECONDS = 1.0
EXTENSION = "screening_keys"


class KeysError(RuntimeError):
    """No usable key set, or a value cannot be decrypted with it."""


class DecryptionError(KeysError):
    """A stored value is not one of ours, was altered, or its key is not in the key set."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class Keyring:
    """Data keys by id, the id new values use, and the search index key."""

    keys: dict[str, bytes]
    current: str
    index_key: bytes
    #: Encrypts backup files (screening.backup).
    backup_key: bytes
    _ciphers: dict[str, AESGCM] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.current not in self.keys:
            raise KeysError(f"the current key {self.current!r} is not in the key set")
        for key_id, key in self.keys.items():
            if not KEY_ID_RE.match(key_id) or len(key) != KEY_BYTES:
                raise KeysError(f"key {key_id!r}: ids are letters, digits, - or _; keys 32 bytes")
        if len(self.index_key) != KEY_BYTES or len(self.backup_key) != KEY_BYTES:
            raise KeysError("the index and backup keys must be 32 bytes")

    def cipher(self, key_id: str) -> AESGCM:
        found = self._ciphers.get(key_id)
        if found is None:
            if key_id not in self.keys:
                raise DecryptionError(f"key {key_id!r} is not in the key set (retired or lost?)")
            found = self._ciphers[key_id] = AESGCM(self.keys[key_id])
        return found

    # ------------------------------------------------------------------ (de)serialising

    def to_dict(self) -> dict[str, Any]:
        return {
            "current": self.current,
            "keys": {key_id: _b64(key) for key_id, key in self.keys.items()},
            "index": _b64(self.index_key),
            "backup": _b64(self.backup_key),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_data(cls, data: Any) -> Keyring:
        """Read a key set from its JSON text or the parsed mapping.

        :raise KeysError: when it is malformed.
        """
        try:
            if isinstance(data, str | bytes):
                data = json.loads(data)
            return cls(
                keys={str(k): _unb64(v) for k, v in dict(data["keys"]).items()},
                current=str(data["current"]),
                index_key=_unb64(data["index"]),
                backup_key=_unb64(data["backup"]),
            )
        except (KeyError, TypeError, ValueError, binascii.Error) as error:
            raise KeysError(f"the key set is malformed ({type(error).__name__})") from None

    # ------------------------------------------------------------------ changes

    def with_new_key(self) -> Keyring:
        """Return this key set with a fresh data key, which becomes the current one."""
        key_id = _new_key_id(self.keys)
        return Keyring(
            {**self.keys, key_id: AESGCM.generate_key(256)}, key_id, self.index_key, self.backup_key
        )

    def without(self, key_id: str) -> Keyring:
        """Return this key set without ``key_id`` (never the current key)."""
        if key_id == self.current:
            raise KeysError("the current key cannot be retired; add a new key first")
        if key_id not in self.keys:
            raise KeysError(f"there is no key {key_id!r}")
        return Keyring(
            {k: v for k, v in self.keys.items() if k != key_id},
            self.current,
            self.index_key,
            self.backup_key,
        )


def _new_key_id(taken: Any = ()) -> str:
    while True:
        key_id = secrets.token_hex(4)
        if key_id not in taken:
            return key_id


def new_keyring() -> Keyring:
    """Return a fresh key set: one data key, an index key and a backup key."""
    key_id = _new_key_id()
    return Keyring(
        {key_id: AESGCM.generate_key(256)},
        key_id,
        secrets.token_bytes(KEY_BYTES),
        secrets.token_bytes(KEY_BYTES),
    )


def write_key_file(path: str, ring: Keyring, *, replace: bool = True) -> None:
    """Write ``ring`` to ``path`` with mode 0600, atomically (a reader never sees half).

    :param replace: False to refuse when the file exists.
    :raise FileExistsError: when ``replace`` is False and the file exists.
    """
    if not replace and os.path.exists(path):
        raise FileExistsError(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    temporary = os.path.join(directory, f".{os.path.basename(path)}.{secrets.token_hex(4)}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w") as handle:
            handle.write(ring.to_json())
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def _loose(path: str) -> bool:
    """Whether anyone but the owner may read or write the file."""
    return bool(os.stat(path).st_mode & (stat.S_IRWXG | stat.S_IRWXO))


class KeyStore:
    """The app's key set, and where it came from (configuration, a file, or nowhere).

    A file is read again when its modification time changes (looked at no more than once
    every :data:`RELOAD_SECONDS`, and at once when a value names an unknown key).
    """

    def __init__(self, ring: Keyring | None, path: str | None = None) -> None:
        self._ring = ring
        self.path = path
        self._lock = threading.Lock()
        self._mtime = os.stat(path).st_mtime_ns if path and ring else None
        self._checked = time.monotonic()

    @property
    def from_file(self) -> bool:
        return self.path is not None

    def ring(self, *, force: bool = False) -> Keyring:
        """Return the key set, reloaded first when its file changed.

        :raise KeysError: when there is none.
        """
        if self.path and (force or time.monotonic() - self._checked >= RELOAD_SECONDS):
            self._reload(self.path)
        if self._ring is None:
            raise KeysError(
                "No data keys: run `make run` once, or write a key file with "
                "`python -m screening.crypto instance/keys.json` (see README, Keys)."
            )
        return self._ring

    def _reload(self, path: str) -> None:
        with self._lock:
            self._checked = time.monotonic()
            try:
                mtime = os.stat(path).st_mtime_ns
            except FileNotFoundError:
                return  # keep what we have: a missing file must not stop a running app
            if mtime == self._mtime:
                return
            with open(path) as handle:
                ring = Keyring.from_data(handle.read())
            self._ring, self._mtime = ring, mtime

    def replace(self, ring: Keyring) -> None:
        """Use ``ring`` from now on, and write it to the key file when there is one."""
        with self._lock:
            if self.path:
                write_key_file(self.path, ring)
                self._mtime = os.stat(self.path).st_mtime_ns
            self._ring = ring


#: One key set for every app of a test process that configures none, so several apps on
#: one test database agree (tests only: nothing is written anywhere).
_TESTING_RING: Keyring | None = None


def init_app(app: Flask) -> None:
    """Find the app's key set; refuse to start without one outside development and tests.

    :raise screening.config.ConfigError: no key set in production, a malformed one, or a
        key file others may read.
    """
    global _TESTING_RING
    configured = app.config["DATA_KEYS"]
    development = app.config["ENVIRONMENT"] == "development"
    path = app.config["DATA_KEYS_FILE"]
    try:
        if configured:
            store = KeyStore(Keyring.from_data(configured))
        elif path and os.path.exists(path):
            if _loose(path):
                message = f"{path} can be read by other users: chmod 600 it."
                if not (development or app.testing):
                    raise ConfigError(message)
                log.warning(message)
            with open(path) as handle:
                store = KeyStore(Keyring.from_data(handle.read()), path)
        elif app.testing:
            _TESTING_RING = _TESTING_RING or new_keyring()
            store = KeyStore(_TESTING_RING)
        elif development:
            log.warning("No data keys (%s): health data cannot be saved or read.", path)
            store = KeyStore(None, path)
        else:
            raise ConfigError(
                "No data keys. Set SCREENING_DATA_KEYS to a key set "
                "(python -m screening.crypto prints one) or write instance/keys.json; "
                "see the README, Keys."
            )
    except KeysError as error:
        raise ConfigError(f"Data keys: {error}") from None
    app.extensions[EXTENSION] = store


def key_store() -> KeyStore:
    return current_app.extensions[EXTENSION]


# ---------------------------------------------------------------------- the cipher


def _aad(label: str, key_id: str) -> bytes:
    return f"{FORMAT}|{label}|{key_id}".encode()


def _pad(data: bytes) -> bytes:
    padder = padding.PKCS7(PAD_BITS).padder()
    return padder.update(data) + padder.finalize()


def _unpad(data: bytes) -> bytes:
    unpadder = padding.PKCS7(PAD_BITS).unpadder()
    return unpadder.update(data) + unpadder.finalize()


def seal_bytes(label: str, plaintext: bytes, ring: Keyring | None = None) -> tuple[str, bytes]:
    """Encrypt ``plaintext`` for the column ``label``: the key id and nonce || ciphertext."""
    ring = ring or key_store().ring()
    nonce = os.urandom(NONCE_BYTES)
    sealed = ring.cipher(ring.current).encrypt(nonce, _pad(plaintext), _aad(label, ring.current))
    return ring.current, nonce + sealed


def open_bytes(label: str, key_id: str, sealed: bytes, ring: Keyring | None = None) -> bytes:
    """Decrypt what :func:`seal_bytes` returned.

    :raise DecryptionError: altered, moved from another column, or an unknown key.
    """
    store = None
    if not ring:
        store = key_store()
        ring = store.ring()
    if key_id not in ring.keys and store is not None:
        ring = store.ring(force=True)  # a key added since: the key file changed
    try:
        opened = ring.cipher(key_id).decrypt(
            sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], _aad(label, key_id)
        )
        return _unpad(opened)
    except (InvalidTag, ValueError):
        raise DecryptionError(f"a value of {label} does not decrypt (altered or moved)") from None


def seal(label: str, plaintext: bytes, ring: Keyring | None = None) -> str:
    """Return ``enc1:<key id>:<base64url>`` for ``plaintext`` in the column ``label``."""
    key_id, sealed = seal_bytes(label, plaintext, ring)
    return f"{FORMAT}:{key_id}:{_b64(sealed)}"


def key_id_of(token: str | bytes) -> str:
    """The key id of a stored value (text or binary).

    :raise DecryptionError: when it is not an encrypted value.
    """
    if isinstance(token, bytes | bytearray | memoryview):
        head = bytes(token[: len(FORMAT) + 34]).split(b":", 2)
        parts = [part.decode("ascii", "replace") for part in head[:2]]
    else:
        parts = token.split(":", 2)[:2]
    if len(parts) != 2 or parts[0] != FORMAT or not KEY_ID_RE.match(parts[1]):
        raise DecryptionError("not an encrypted value")
    return parts[1]


def unseal(label: str, token: str, ring: Keyring | None = None) -> bytes:
    """Decrypt a value made by :func:`seal`.

    :raise DecryptionError: when it is not ours, was altered or moved, or its key is gone.
    """
    if not isinstance(token, str):
        raise DecryptionError(f"a value of {label} is not encrypted")
    key_id = key_id_of(token)
    try:
        sealed = _unb64(token.split(":", 2)[2])
    except (ValueError, binascii.Error):
        raise DecryptionError(f"a value of {label} is malformed") from None
    return open_bytes(label, key_id, sealed, ring)


def seal_binary(label: str, plaintext: bytes, ring: Keyring | None = None) -> bytes:
    key_id, sealed = seal_bytes(label, plaintext, ring)
    return f"{FORMAT}:{key_id}:".encode() + sealed


def unseal_binary(label: str, token: bytes, ring: Keyring | None = None) -> bytes:
    token = bytes(token)
    key_id = key_id_of(token)
    return open_bytes(label, key_id, token[len(FORMAT) + len(key_id) + 2 :], ring)


def canonical_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


# ---------------------------------------------------------------------- column types


class EncryptedJSON(TypeDecorator):
    """A JSON value stored encrypted: the column holds a JSON string ``"enc1:..."``.

    The column keeps its JSON type in the schema (so no table has to be rebuilt on
    SQLite to encrypt it); only the value inside changes. ``label`` is ``table.column``.
    """

    impl = JSON
    cache_ok = True

    def __init__(self, label: str) -> None:
        super().__init__()
        self.label = label

    def process_bind_param(self, value: Any, dialect: Any) -> str | None:
        return None if value is None else seal(self.label, canonical_json(value))

    def process_result_value(self, value: Any, dialect: Any) -> Any:
        return None if value is None else json.loads(unseal(self.label, value))


class EncryptedText(TypeDecorator):
    """Text stored encrypted (``enc1:...``); ``label`` is ``table.column``."""

    impl: type[String] = Text
    cache_ok = True

    def __init__(self, label: str) -> None:
        super().__init__()
        self.label = label

    def process_bind_param(self, value: str | None, dialect: Any) -> str | None:
        return None if value is None else seal(self.label, value.encode())

    def process_result_value(self, value: str | None, dialect: Any) -> str | None:
        return None if value is None else unseal(self.label, value).decode()


class EncryptedString(EncryptedText):
    """Like :class:`EncryptedText` in a ``VARCHAR(length)`` column."""

    impl = String
    cache_ok = True

    def __init__(self, label: str, length: int) -> None:
        TypeDecorator.__init__(self, length)
        self.label = label
        self.length = length


class EncryptedBytes(TypeDecorator):
    """Bytes stored encrypted (``b"enc1:<key id>:" + nonce || ciphertext``)."""

    impl = LargeBinary
    cache_ok = True

    def __init__(self, label: str) -> None:
        super().__init__()
        self.label = label

    def process_bind_param(self, value: bytes | None, dialect: Any) -> bytes | None:
        return None if value is None else seal_binary(self.label, bytes(value))

    def process_result_value(self, value: bytes | None, dialect: Any) -> bytes | None:
        return None if value is None else unseal_binary(self.label, value)


ENCRYPTED_TYPES = (EncryptedJSON, EncryptedText, EncryptedString, EncryptedBytes)


def main(argv: list[str]) -> int:
    """``python -m screening.crypto [PATH]``: print a new key set, or write it to PATH (0600).

    Writing never replaces an existing file: that would make its data unreadable.
    """
    parser = argparse.ArgumentParser(
        prog="python -m screening.crypto",
        description="Print a new set of data keys, or write it to PATH (mode 0600).",
    )
    parser.add_argument("path", nargs="?", help="a key file to create (never replaced)")
    path = parser.parse_args(argv).path
    ring = new_keyring()
    if path is None:
        sys.stdout.write(ring.to_json())
        return 0
    try:
        write_key_file(path, ring, replace=False)
    except FileExistsError:
        sys.stderr.write(f"{path} exists; not replaced (its keys read the stored data).\n")
        return 1
    sys.stdout.write(
        f"Wrote new data keys to {path} (mode 0600). Back it up apart from the database.\n"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
