"""CSV export of submissions: one row each, answers by question id."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

from screening.models import Submission
from screening.scoring import questionnaire

FIXED = [
    "reference",
    "submitted_at_utc",
    "clinic",
    "status",
    "assigned_to",
    "outcome",
    "care_level",
    "blocking_contraindication",
    "support_score",
    "peg_score",
    "fired_rules",
    "ruleset_version",
    "full_name",
    "date_of_birth",
    "phone",
    "email",
    "best_time",
    "language",
]
QUESTION_IDS = ["age", *[qid for qid in questionnaire.QUESTIONS if qid != "age"]]
#: A cell starting with one of these is read as a formula by spreadsheet programs.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: object) -> str:
    """Return a cell that a spreadsheet shows as text, never runs (OWASP CSV injection)."""
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        value = ";".join(str(v) for v in value)
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def to_csv(rows: Iterable[Submission]) -> str:
    """Render submissions as RFC 4180 CSV (every field quoted)."""
    out = io.StringIO()
    writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    writer.writerow(FIXED + QUESTION_IDS)
    for row in rows:
        personal = row.personal or {}
        fixed = [
            row.reference,
            row.submitted_at.strftime("%Y-%m-%d %H:%M:%S"),
            row.clinic.name if row.clinic else "",
            row.status,
            row.assigned_to.username if row.assigned_to else "",
            row.outcome,
            row.care_level,
            row.blocking_contraindication,
            row.support_score,
            row.peg_score,
            row.fired_rules,
            row.ruleset_version,
            personal.get("full_name"),
            personal.get("dob"),
            personal.get("phone"),
            personal.get("email"),
            personal.get("best_time"),
            row.language,
        ]
        writer.writerow([neutralise(v) for v in fixed + [row.answers.get(q) for q in QUESTION_IDS]])
    return out.getvalue()
