"""Passwords (argon2id, ASVS length rules) and the TOTP second factor."""

from __future__ import annotations

import re
import time
from importlib import resources

import pyotp
import segno
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

#: Length rules (ASVS 5.0 V6.2): at least 12 characters, long passphrases welcome, no
#: composition rules, nothing truncated.
MIN_LENGTH = 12
MAX_LENGTH = 256

_hasher = PasswordHasher()  # argon2id with the library's current recommended costs
#: Verified for unknown usernames so a failed sign-in takes the same time either way.
_DUMMY_HASH = _hasher.hash("not a real password, only for timing")


def _common_words() -> frozenset[str]:
    text = resources.files("screening.staff").joinpath("common-passwords.txt").read_text()
    return frozenset(
        line.strip().lower()
        for line in text.splitlines()
        if line.strip() and not line.startswith("#")
    )


COMMON = _common_words()


def password_problem(password: str, username: str = "") -> str | None:
    """Return why a new password is refused, or None when it is acceptable."""
    if len(password) < MIN_LENGTH:
        return f"Use at least {MIN_LENGTH} characters. A few words together are easy to remember."
    if len(password) > MAX_LENGTH:
        return f"Use {MAX_LENGTH} characters or fewer."
    lowered = password.lower()
    # "Password123!" is "password" with decoration: strip digits and symbols before looking
    # it up, so common words with the usual additions are refused too.
    core = re.sub(r"[^a-z]", "", lowered)
    if lowered in COMMON or core in COMMON or len(set(lowered)) <= 2 or _is_run(lowered):
        return "This password is too common. Choose something harder to guess."
    if username and username.lower() in lowered:
        return "Do not use your username in your password."
    return None


_RUNS = ("0123456789" * 4, "qwertyuiopasdfghjklzxcvbnm", "abcdefghijklmnopqrstuvwxyz")


def _is_run(text: str) -> bool:
    """Keyboard or counting runs such as 12345678901234 or qwertyuiopas."""
    return any(text in run or text in run[::-1] for run in _RUNS)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_password(stored_hash: str | None, password: str) -> bool:
    """Verify a password; for an unknown user pass None (same cost, always False)."""
    try:
        return _hasher.verify(stored_hash or _DUMMY_HASH, password) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def new_totp_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, username: str, issuer: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=issuer)


def qr_svg(uri: str) -> str:
    """Return an inline SVG QR code (drawn here: no external service sees the secret)."""
    return segno.make(uri, error="m").svg_inline(
        scale=4, dark="#0b0c0c", light="#ffffff", title="QR code"
    )


def accept_code(secret: str, code: str, last_step: int, now: float | None = None) -> int | None:
    """Check a TOTP code and return its time step, or None when refused.

    Codes from the previous, current or next 30-second step are accepted (clock drift),
    but each step only once: a code at or before ``last_step`` is a replay.
    """
    code = re.sub(r"\s", "", code or "")
    if not re.fullmatch(r"\d{6}", code):
        return None
    totp = pyotp.TOTP(secret)
    now = time.time() if now is None else now
    current = int(now // totp.interval)
    for step in (current - 1, current, current + 1):
        if step > last_step and pyotp.utils.strings_equal(totp.at(step * totp.interval), code):
            return step
    return None
