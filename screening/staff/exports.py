"""CSV export of submissions: one row each, for people (Excel) and for analysis.

The file is UTF-8 with a byte-order mark, so Excel reads accented names right. Two header
rows: labels for people, then field names and question ids for programs (skip the first
row, or the second, as needed). Values are in words, as the staff pages show them
(:mod:`screening.presentation`), or the stored codes; times are on the clinic's clock.
Every cell is neutralised so no spreadsheet runs it as a formula.
"""

from __future__ import annotations

import csv
import io
import unicodedata
from collections.abc import Iterable, Mapping

from screening.models import Submission
from screening.presentation import QUESTION_IDS, csv_header, csv_values

__all__ = ["BOM", "DEFAULT_DAYS", "FORMULA_STARTS", "QUESTION_IDS", "neutralise", "to_csv"]

#: The UTF-8 byte-order mark, which tells Excel the file is UTF-8.
BOM = "\ufeff"
#: The export form's default range: the last 30 days on the clinic's calendar.
DEFAULT_DAYS = 30
#: A cell starting with one of these is read as a formula by spreadsheet programs (a
#: pipe starts the old DDE calls; tab, CR and LF shift what a program sees as the start).
FORMULA_STARTS = ("=", "+", "-", "@", "|", "\t", "\r", "\n")
#: Signs no compatibility mapping folds to ``-`` or ``+`` that still read as one: the
#: minus sign (what NFKC makes of the superscript and subscript minus), and the heavy
#: plus and minus. Every dash (Unicode category Pd) counts as a minus too.
LOOK_ALIKES = frozenset("\u2212\u2795\u2796")


def _formula_like(char: str) -> bool:
    """Whether ``char`` is, or looks like, a character that starts a formula.

    NFKC folds every compatibility form to its plain character ("＝" U+FF1D, "﹦" U+FE66,
    "＋" U+FF0B, "﹢" U+FE62, "－" U+FF0D, "﹣" U+FE63, "＠" U+FF20, "｜" U+FF5C, "⁼"...), so
    any one a spreadsheet program folds the same way is caught.
    """
    folded = unicodedata.normalize("NFKC", char)[:1]
    return (
        folded in FORMULA_STARTS
        or folded in LOOK_ALIKES
        or (folded != "" and unicodedata.category(folded) == "Pd")
    )


def neutralise(value: object) -> str:
    """Return a cell that a spreadsheet shows as text, never runs (OWASP CSV injection).

    A cell is prefixed with ``'`` when its first character, or its first one after any
    spaces and invisible formatting characters (which some programs trim on import),
    starts a formula or looks like one (:func:`_formula_like`).
    """
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        value = ";".join(str(v) for v in value)
    text = str(value)
    visible = next(
        (c for c in text if not (c.isspace() or unicodedata.category(c) in ("Cf", "Zs"))), ""
    )
    risky = any(_formula_like(char) for char in (text[:1], visible) if char)
    return "'" + text if risky else text


def to_csv(
    rows: Iterable[Submission],
    zone: str,
    words: bool = True,
    warnings: Mapping[int, str] | None = None,
) -> str:
    """Render submissions as RFC 4180 CSV (every field quoted), starting with a BOM.

    :param zone: the IANA zone whose clock the times are on (named in the header).
    :param words: values in words (the default); False gives the stored codes.
    :param warnings: integrity warnings by submission id (screening.integrity.check); the
        last column says "sound", or the warning, so a changed row is never read as sound.
    """
    warnings = warnings or {}
    out = io.StringIO()
    out.write(BOM)
    writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    labels, fields = csv_header(zone)
    writer.writerow([*labels, "Integrity check"])
    writer.writerow([*fields, "integrity"])
    for row in rows:
        values = [*csv_values(row, zone, words), warnings.get(row.id, "sound")]
        writer.writerow([neutralise(value) for value in values])
    return out.getvalue()
