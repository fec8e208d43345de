"""Staff search over encrypted names and phone numbers: keyed blind indexes.

The name and phone number are encrypted, so the database cannot compare them. Instead
each submission has a few rows in ``search_token``, each the HMAC-SHA256 (key: the key
set's index key, apart from the data keys) of one normalised piece of its contact
details, cut to 16 bytes. A search computes the same digest of what was typed and looks
it up: one index range, however many submissions there are.

Normalising (:func:`fold`): Unicode NFKD, accents and other combining marks dropped,
case folded; then everything that is not a letter or digit is removed. So "Hernández",
"hernandez" and "HERNANDEZ" are one token, and so are "O'Brien", "OBrien" and "o brien",
and "De la Cruz" and "Delacruz".

What is indexed (:func:`tokens`):

- the name: every word, every run of neighbouring words joined ("maria jose", "de la
  cruz", the whole name) and every pair of words joined (first and last name when there
  is a middle name), the first eight words at most;
- the phone number's digits: the whole number and its last 4, 7 and 10 digits (the
  extension, the number without its area code, and without a country code).

A search matches whole tokens: a name, a word of it, or a phone number or its last 4, 7
or 10 digits. It does not match the start of a word ("hern" does not find Hernández),
by choice: see "What the index leaks".

What the index leaks
--------------------

To someone with the database but not the keys: which submissions share a name word, a
name or a phone ending (equal digests), so how often each occurs, which points to the
commonest names by their frequency; and roughly how many words each name has (its
number of rows). Not the names themselves: without the index key a guess cannot be
checked. With the index key every name and number is easy to guess (they are short), so
the index key is kept with the data keys, never in the database.

Indexing every prefix of every word ("h", "he", "her"...) would let staff type part of a
name, but it would also leak each word's length (its number of prefixes) and, across
submissions, the tree of shared beginnings, which makes matching digests to a list of
common names far easier; so prefixes are not indexed. Staff type a whole word, or the
last 4 digits of the phone number.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import re
import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import event, insert, update
from sqlalchemy.orm import Session, attributes, scoped_session

from screening.crypto import Keyring, key_store
from screening.models import SearchToken, Submission

#: Words of a name that are indexed (runs and pairs of them).
MAX_WORDS = 8
#: Phone endings indexed besides the whole number.
PHONE_ENDINGS = (4, 7, 10)
#: Bytes of the HMAC kept.
DIGEST_BYTES = 16

_WORD = re.compile(r"[^\W_]+")


def fold(text: str) -> str:
    """NFKD, accents and combining marks dropped, case folded ("Hernández" -> "hernandez")."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def words(text: str) -> list[str]:
    """The folded words of ``text``: letters and digits, everything else a separator."""
    return _WORD.findall(fold(text))


def squeeze(text: str) -> str:
    """The folded letters and digits of ``text``, nothing between them."""
    return "".join(words(text))


def digest(ring: Keyring, kind: str, value: str) -> str:
    """The stored digest of ``value`` of ``kind`` ("name" or "phone")."""
    mac = hmac.new(ring.index_key, f"{kind}:{value}".encode(), hashlib.sha256)
    return mac.hexdigest()[: DIGEST_BYTES * 2]


def name_pieces(name: str) -> set[str]:
    """Every word, run of neighbouring words and pair of words, joined, of a name."""
    parts = words(name)[:MAX_WORDS]
    pieces = {"".join(parts[i:j]) for i in range(len(parts)) for j in range(i + 1, len(parts) + 1)}
    pieces.update(a + b for a, b in itertools.combinations(parts, 2))
    return {piece for piece in pieces if piece}


def phone_pieces(phone: str) -> set[str]:
    """The whole number's digits and its last 4, 7 and 10 digits."""
    digits = "".join(ch for ch in phone if ch.isdigit())
    if not digits:
        return set()
    return {digits} | {digits[-n:] for n in PHONE_ENDINGS if len(digits) > n}


def tokens(personal: Mapping[str, Any], ring: Keyring | None = None) -> set[str]:
    """The digests stored for a submission's contact details."""
    ring = ring or key_store().ring()
    name = personal.get("full_name") or ""
    phone = personal.get("phone") or ""
    found = {digest(ring, "name", piece) for piece in name_pieces(name)}
    found.update(digest(ring, "phone", piece) for piece in phone_pieces(phone))
    return found


def term_digests(term: str, ring: Keyring | None = None) -> list[str]:
    """The digests to look up for what staff typed: the name, and the digits as a phone.

    The digits count as a phone number when there are at least 4 and the term is mostly
    digits (a few letters or symbols around them, as in "tel 555-0123"). A number typed
    with a country code also matches one stored without it (its last 10 digits).
    """
    ring = ring or key_store().ring()
    found = []
    name = squeeze(term)
    if name and not name.isdigit():  # digits alone are a phone number, not a name
        found.append(digest(ring, "name", name))
    digits = re.sub(r"[^0-9]", "", term)
    if len(digits) >= 4 and len(digits) >= len(term.replace(" ", "")) - 4:
        found.append(digest(ring, "phone", digits))
        if len(digits) > max(PHONE_ENDINGS):
            found.append(digest(ring, "phone", digits[-max(PHONE_ENDINGS) :]))
    return found


def token_rows(
    submission_id: int, clinic_id: int | None, personal: Mapping[str, Any], ring: Keyring
) -> list[dict[str, Any]]:
    """Rows of ``search_token`` for one submission (for bulk inserts)."""
    return [
        {"submission_id": submission_id, "digest": value, "clinic_id": clinic_id}
        for value in sorted(tokens(personal, ring))
    ]


def insert_rows(session: Session | scoped_session[Any], rows: Iterable[dict[str, Any]]) -> None:
    rows = list(rows)
    if rows:
        session.execute(insert(SearchToken), rows)


def move_clinic(
    session: Session | scoped_session[Any], submission_id: int, clinic_id: int | None
) -> None:
    """Keep the tokens' clinic equal to the submission's after a bulk update."""
    session.execute(
        update(SearchToken)
        .where(SearchToken.submission_id == submission_id)
        .values(clinic_id=clinic_id)
    )


@event.listens_for(Session, "before_flush")
def _index_changed_submissions(session: Session, flush_context: Any, instances: Any) -> None:
    """Give a new submission its tokens, and a changed one new tokens.

    Runs for changes made through the ORM (a submit, a corrected name). Bulk statements
    (the demo seeder, a clinic move) call :func:`insert_rows` or :func:`move_clinic`.
    """
    for obj in itertools.chain(session.new, session.dirty):
        if not isinstance(obj, Submission):
            continue
        state = attributes.instance_state(obj)
        new = state.key is None
        personal_changed = attributes.get_history(obj, "personal").has_changes()
        clinic_changed = attributes.get_history(obj, "clinic_id").has_changes()
        if new or personal_changed:
            wanted = tokens(obj.personal or {})
            kept = [t for t in ([] if new else obj.search_tokens) if t.digest in wanted]
            have = {t.digest for t in kept}
            obj.search_tokens = kept + [
                SearchToken(digest=value, clinic_id=obj.clinic_id)
                for value in sorted(wanted - have)
            ]
        if clinic_changed or new or personal_changed:
            for token in obj.search_tokens:
                token.clinic_id = obj.clinic_id
