"""The staff queue: urgent first, then the longest waiting, with filters and search.

Every query here is served by an index on ``submission`` (see its ``__table_args__``);
tests/benchmarks/bench_queue.py measures it at 1,000 and 100,000 rows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Select, func, select, union

from screening.extensions import db
from screening.models import STATUS_LABELS, StaffUser, Submission, normalise_code

PAGE_SIZE = 25
#: Counts stop at this number ("1,000+"): past it a person needs filters, not a figure,
#: and a capped count reads at most this many index entries however large the table.
COUNT_CAP = 1000
OUTCOMES = ("SEEK_CARE", "NOT_A_FIT", "DISCUSS_WITH_CONCERNS", "DISCUSS")


@dataclass(frozen=True)
class Filters:
    status: str = ""
    outcome: str = ""
    clinic_id: int | None = None
    date_from: datetime | None = None
    #: Exclusive: the day after the "to" date.
    date_to: datetime | None = None
    page: int = 1

    @classmethod
    def from_args(cls, args: Any) -> Filters:
        """Read filters from query arguments, ignoring anything malformed."""

        def day(name: str) -> datetime | None:
            try:
                return datetime.strptime(args.get(name, ""), "%Y-%m-%d").replace(tzinfo=UTC)
            except ValueError:
                return None

        clinic = args.get("clinic", "")
        page = args.get("page", "1")
        to = day("to")
        return cls(
            status=args.get("status", "") if args.get("status") in STATUS_LABELS else "",
            outcome=args.get("outcome", "") if args.get("outcome") in OUTCOMES else "",
            clinic_id=int(clinic) if re.fullmatch(r"[0-9]{1,9}", clinic) else None,
            date_from=day("from"),
            date_to=to + timedelta(days=1) if to else None,
            page=min(int(page), 100_000)
            if re.fullmatch(r"[0-9]{1,6}", page) and int(page) > 0
            else 1,
        )


def visible(user: StaffUser, everywhere: bool = False) -> Select:
    """Submissions ``user`` may see: their clinics', or all with ``everywhere``.

    :param everywhere: administrators and emergency access (see access.sees_every_clinic).
    """
    query = select(Submission)
    if not everywhere:
        query = query.where(Submission.clinic_id.in_([c.id for c in user.clinics]))
    return query


def _filtered(query: Select, filters: Filters) -> Select:
    if filters.status:
        query = query.where(Submission.status == filters.status)
    if filters.outcome:
        query = query.where(Submission.outcome == filters.outcome)
    if filters.clinic_id is not None:
        query = query.where(Submission.clinic_id == filters.clinic_id)
    if filters.date_from:
        query = query.where(Submission.submitted_at >= filters.date_from)
    if filters.date_to:
        query = query.where(Submission.submitted_at < filters.date_to)
    return query


def _prefix(column: Any, text: str) -> Any:
    """``column`` starts with ``text``, written as a range so a B-tree index serves it."""
    return (column >= text) & (column < text + "\uffff")


def search_condition(term: str) -> Any:
    """Match a reference code, the start of a name or last name, or the end of a phone number.

    Runs the lookups now and returns a condition on their ids (at most COUNT_CAP + 1).
    """
    term = " ".join(term.lower().split())[:100]
    conditions = [_prefix(Submission.search_name, term), _prefix(Submission.search_last, term)]
    code = normalise_code(term)
    if len(code.replace("-", "")) == 9:
        conditions.append(Submission.reference == code)
    digits = re.sub(r"[^0-9]", "", term)
    if len(digits) >= 4 and len(digits) >= len(term.replace(" ", "")) - 4:
        # Stored reversed: the end of the number typed matches as a prefix.
        conditions.append(_prefix(Submission.search_phone, digits[::-1]))
    # Each test is its own indexed lookup. The few matching ids are fetched first and then
    # meet the other filters: as one OR, or as a subquery, inside the clinic's ordered
    # query, the planners walked the whole queue index testing every row.
    matches = union(*(select(Submission.id).where(condition) for condition in conditions))
    ids = db.session.scalars(select(matches.subquery().c.id).limit(COUNT_CAP + 1)).all()
    return Submission.id.in_(ids)


def _count(query: Select) -> int:
    """Number of rows of ``query``, up to :data:`COUNT_CAP` + 1 (then shown as "1,000+")."""
    capped = query.with_only_columns(Submission.id).order_by(None).limit(COUNT_CAP + 1).subquery()
    return int(db.session.scalar(select(func.count()).select_from(capped)) or 0)


def page_of(
    user: StaffUser, filters: Filters, search: str = "", everywhere: bool = False
) -> tuple[list[Submission], int]:
    """Return one page of the queue and the number of matches (capped, see ``_count``)."""
    query = _filtered(visible(user, everywhere), filters)
    if search.strip():
        # At most COUNT_CAP + 1 matches: fetch them by id and order them here. Ordered in
        # SQL, both planners walked the queue index testing each row against the ids.
        found = db.session.scalars(query.where(search_condition(search))).all()
        found = sorted(found, key=lambda row: (row.urgency, row.submitted_at, row.id))
        start = (filters.page - 1) * PAGE_SIZE
        return found[start : start + PAGE_SIZE], len(found)
    total = _count(query)
    rows = db.session.scalars(
        query.order_by(Submission.urgency, Submission.submitted_at, Submission.id)
        .offset((filters.page - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE)
    ).all()
    return list(rows), total


def status_counts(user: StaffUser, filters: Filters, everywhere: bool = False) -> dict[str, int]:
    """Number of visible submissions in each status (other filters applied; capped)."""
    blank = Filters(**{**filters.__dict__, "status": "", "page": 1})
    base = _filtered(visible(user, everywhere), blank)
    return {status: _count(base.where(Submission.status == status)) for status in STATUS_LABELS}
