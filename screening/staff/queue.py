"""The staff queue: urgent first, then the longest waiting, with filters and search.

Every query here is served by an index on ``submission`` (see its ``__table_args__``) and
reads a bounded number of index entries and rows, whatever the size of the table:

- a page reads :data:`PAGE_SIZE` rows in index order, after ``(page - 1) * PAGE_SIZE``
  index entries;
- a count stops after :data:`COUNT_CAP` + 1 index entries;
- a search reads at most :data:`SEARCH_CAP` + 1 matches per kind of match (name, phone,
  reference), each one range of a digest index, and loads whole rows only for the page
  shown.

tests/benchmarks/bench_queue.py measures it at 1,000 and 100,000 rows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Select, false, func, literal, select, union, union_all
from sqlalchemy.orm import defer, joinedload

from screening import search_index
from screening.bounds import DAY_MESSAGE, parse_day, record_id
from screening.clinics import Hours, day_start, waiting_label
from screening.extensions import db
from screening.i18n import ENGLISH_NAMES
from screening.models import (
    STATUS_LABELS,
    SearchToken,
    StaffUser,
    Status,
    Submission,
    normalise_code,
)
from screening.scoring import Outcome

PAGE_SIZE = 25
#: Counts stop at this number ("1,000+"): past it a person needs filters, not a figure,
#: and a capped count reads at most this many index entries however large the table.
COUNT_CAP = 1000
#: A search lists at most this many matches. Past it the term is too broad to pick out a
#: person (a common name, a few letters), so the page asks for more of the name or the
#: phone number instead of listing some of them in an order that would not be the
#: queue's; and a search for a common name reads this many rows at most, not all of them.
SEARCH_CAP = 100
OUTCOMES = tuple(Outcome)
#: Which part of the workflow the list shows; it opens on open work.
VIEWS = {"open": "Open work", "done": "Closed and not proceeding", "all": "Everything"}
#: The clinic filter's value for submissions with no clinic (administrators only).
NO_CLINIC = "none"
#: Large JSON columns the list never shows: not loaded (nor decoded) for a page.
_NOT_LISTED = (Submission.answers, Submission.result, Submission.questions, Submission.fired_rules)


@dataclass(frozen=True)
class Filters:
    #: "open" (not closed or not proceeding), "done", or "all"; a status overrides it.
    view: str = "open"
    status: str = ""
    outcome: str = ""
    clinic_id: int | None = None
    #: Only submissions with no clinic (left by earlier versions; administrators).
    no_clinic: bool = False
    #: A staff member's id, or 0 for nobody ("unassigned").
    assignee: int | None = None
    language: str = ""
    date_from: datetime | None = None
    #: Exclusive: the start of the day after the "to" date.
    date_to: datetime | None = None
    page: int = 1
    #: (argument, message) for each typed date that could not be used: the page shows the
    #: message next to it (status 400) and lists without that filter.
    problems: tuple[tuple[str, str], ...] = ()

    @classmethod
    def from_args(
        cls, args: Any, me: int | None = None, zone: str = "UTC", default_view: str = "open"
    ) -> Filters:
        """Read filters from query arguments.

        A choice that is not one of the page's (a view, status, clinic...) is ignored, as
        if "any" had been chosen. A typed date outside :mod:`screening.bounds`' range is
        ignored too, and named in ``problems`` for the page to say so.

        :param me: the signed-in staff member's id, for "assigned to me".
        :param zone: the clinic's time zone: a date means that calendar day there.
        :param default_view: the view without a "view" argument (a search looks at all).
        """
        problems: list[tuple[str, str]] = []

        def day(name: str) -> date | None:
            text = args.get(name, "")
            found = parse_day(text)
            if text and found is None:
                problems.append((name, DAY_MESSAGE))
            return found

        clinic = args.get("clinic", "")
        page = args.get("page", "1")
        start, end = day("from"), day("to")
        if start and end and end < start:
            problems.append(("to", "The last day must be on or after the first day."))
        assigned = args.get("assigned", "")
        view = args.get("view", "")
        return cls(
            view=view if view in VIEWS else default_view,
            status=args.get("status", "") if args.get("status") in STATUS_LABELS else "",
            outcome=args.get("outcome", "") if args.get("outcome") in OUTCOMES else "",
            clinic_id=record_id(clinic),
            no_clinic=clinic == NO_CLINIC,
            assignee=me if assigned == "me" else 0 if assigned == "none" else None,
            language=args.get("language", "") if args.get("language") in ENGLISH_NAMES else "",
            date_from=day_start(start, zone) if start else None,
            date_to=day_start(end + timedelta(days=1), zone) if end else None,
            page=min(int(page), 100_000)
            if re.fullmatch(r"[0-9]{1,6}", page) and int(page) > 0
            else 1,
            problems=tuple(problems),
        )

    def problem(self, name: str) -> str | None:
        """The message for the typed date ``name`` ("from" or "to") when it was not used."""
        return dict(self.problems).get(name)

    @property
    def assigned(self) -> str:
        """The "assigned" argument these filters came from ("me", "none" or "")."""
        return "none" if self.assignee == 0 else "me" if self.assignee else ""


@dataclass(frozen=True)
class Page:
    """One page of the queue or of a search."""

    rows: list[Submission]
    #: Matches in all: exact up to :data:`COUNT_CAP` (a search: :data:`SEARCH_CAP`), then
    #: the cap + 1.
    total: int
    #: A search matched more than :data:`SEARCH_CAP`: nothing is listed (``rows`` is empty).
    too_many: bool = False


def visible(user: StaffUser, everywhere: bool = False, by_clinic: bool = True) -> Select:
    """Submissions ``user`` may see: their clinics', or all with ``everywhere``.

    :param everywhere: administrators and emergency access (see access.sees_every_clinic).
    :param by_clinic: let an index on the clinic lead the lookup. False when a narrower
        filter should lead (one person's assignments): the clinic is then tested on the
        rows found, as ``clinic_id + 0``, which no planner reads through an index.
    """
    query = select(Submission)
    if not everywhere:
        clinic_ids = [c.id for c in user.clinics]
        column = Submission.clinic_id if by_clinic else Submission.clinic_id + 0
        # No clinic, no rows: a constant false, which the planners check once. An empty
        # IN list is not constant to them, and they walked the whole index testing it.
        query = query.where(column.in_(clinic_ids) if clinic_ids else false())
    return query


def _filtered(query: Select, filters: Filters) -> Select:
    if filters.status:
        query = query.where(Submission.status == filters.status)
    elif filters.view != "all":
        query = query.where(Submission.is_open.is_(filters.view == "open"))
    if filters.outcome:
        query = query.where(Submission.outcome == filters.outcome)
    if filters.clinic_id is not None:
        query = query.where(Submission.clinic_id == filters.clinic_id)
    if filters.no_clinic:
        query = query.where(Submission.clinic_id.is_(None))
    if filters.assignee is not None:
        query = query.where(
            Submission.assigned_to_id == filters.assignee
            if filters.assignee
            else Submission.assigned_to_id.is_(None)
        )
    if filters.language:
        query = query.where(Submission.language == filters.language)
    if filters.date_from:
        query = query.where(Submission.submitted_at >= filters.date_from)
    if filters.date_to:
        query = query.where(Submission.submitted_at < filters.date_to)
    return query


def search_arms(query: Select, term: str, clinic_ids: list[int] | None = None) -> list[Select]:
    """One lookup per kind of match: a reference code, a name, a phone number.

    Names and phone numbers are encrypted, so they are found by their keyed digests in
    ``search_token`` (see :mod:`screening.search_index`): what was typed is normalised
    and hashed the same way, and matched whole (a name, a word of it, a run of its
    words; the phone number or its last 4, 7 or 10 digits).

    :param clinic_ids: the clinics the user may see (None: every clinic). The tokens'
        own copy of the clinic is tested, so the lookup reads one range of
        ``ix_search_token_lookup`` (digest, clinic) and not a clinic's whole queue.
    """
    keys = query.with_only_columns(Submission.id, Submission.urgency, Submission.submitted_at)
    arms = []
    for value in search_index.term_digests(term[:100]):
        arm = keys.join(SearchToken, SearchToken.submission_id == Submission.id).where(
            SearchToken.digest == value
        )
        if clinic_ids is not None:
            arm = arm.where(SearchToken.clinic_id.in_(clinic_ids) if clinic_ids else false())
        arms.append(arm)
    code = normalise_code(term)
    if len(code.replace("-", "")) == 9:
        arms.append(keys.where(Submission.reference == code))
    return arms


def _search(query: Select, term: str, page: int, clinic_ids: list[int] | None) -> Page:
    """One page of the rows of ``query`` that match ``term``, in queue order.

    :param clinic_ids: the clinics the user may see, None for all (see :func:`search_arms`).
    """
    # Each kind of match is its own lookup, led by the digest index, and stopped after
    # SEARCH_CAP + 1 rows; only the order keys are read. As one OR, or ordered in SQL, the
    # planners walked the whole queue index instead, testing every row; so the few
    # matches are ordered here, and whole rows loaded for the page shown only.
    arms = [arm.limit(SEARCH_CAP + 1).subquery() for arm in search_arms(query, term, clinic_ids)]
    if not arms:
        return Page([], 0)
    found = list(db.session.execute(union(*(select(*arm.c) for arm in arms))).all())
    if len(found) > SEARCH_CAP:
        return Page([], SEARCH_CAP + 1, too_many=True)
    found.sort(key=lambda row: (row.urgency, row.submitted_at, row.id))
    start = (page - 1) * PAGE_SIZE
    ids = [row.id for row in found[start : start + PAGE_SIZE]]
    shown = _listed(select(Submission).where(Submission.id.in_(ids)))
    by_id = {row.id: row for row in db.session.scalars(shown)} if ids else {}
    return Page([by_id[i] for i in ids], len(found))


def _listed(query: Select) -> Select:
    return query.options(
        *(defer(column) for column in _NOT_LISTED),
        # Only the name is shown; the account's sealed secrets are not read (nor decrypted).
        joinedload(Submission.assigned_to).load_only(StaffUser.id, StaffUser.username),
        joinedload(Submission.clinic),
    )


def _capped(query: Select) -> Select:
    """How many rows ``query`` has, up to :data:`COUNT_CAP` + 1, as a one-row select."""
    capped = query.with_only_columns(Submission.id).order_by(None).limit(COUNT_CAP + 1).subquery()
    return select(func.count()).select_from(capped)


def _count(query: Select) -> int:
    """Number of rows of ``query``, up to :data:`COUNT_CAP` + 1 (then shown as "1,000+")."""
    return int(db.session.scalar(_capped(query)) or 0)


def _counts(queries: list[Select]) -> list[int]:
    """:func:`_count` of each query, in one statement.

    Each count stays its own capped subquery (a UNION ALL of them), so each reads at
    most :data:`COUNT_CAP` + 1 index entries as before; one GROUP BY status would read
    every visible row. One statement instead of one per count saves a round trip and the
    statement overhead of each.
    """
    arms = [
        _capped(query).add_columns(literal(index).label("arm"))
        for index, query in enumerate(queries)
    ]
    found = dict.fromkeys(range(len(queries)), 0)
    for count, arm in db.session.execute(union_all(*arms)):
        found[int(arm)] = int(count or 0)
    return [found[index] for index in range(len(queries))]


def _queue_query(user: StaffUser, filters: Filters, everywhere: bool) -> Select:
    return _filtered(visible(user, everywhere, filters.assignee is None), filters)


def _status_queries(user: StaffUser, filters: Filters, everywhere: bool) -> list[Select]:
    blank = replace(filters, status="", view="all", page=1)
    base = _filtered(visible(user, everywhere, filters.assignee is None), blank)
    return [base.where(Submission.status == status) for status in STATUS_LABELS]


def _rows(query: Select, page: int) -> list[Submission]:
    return list(
        db.session.scalars(
            _listed(query)
            .order_by(Submission.urgency, Submission.submitted_at, Submission.id)
            .offset((page - 1) * PAGE_SIZE)
            .limit(PAGE_SIZE)
        )
    )


def _search_page(user: StaffUser, filters: Filters, search: str, everywhere: bool) -> Page:
    """A search looks at every status (a caller is found whatever the state of their
    form): the open/finished view does not apply to it, a chosen status does."""
    # The clinic is tested on the search tokens (see search_arms), not by the
    # submission's clinic index, which would walk the clinic's whole queue.
    query = _filtered(visible(user, everywhere, by_clinic=False), replace(filters, view="all"))
    clinic_ids = None if everywhere else [c.id for c in user.clinics]
    return _search(query, search, filters.page, clinic_ids)


def page_of(user: StaffUser, filters: Filters, search: str = "", everywhere: bool = False) -> Page:
    """Return one page of the queue, or of the matches of ``search``, and their number."""
    if search.strip():
        return _search_page(user, filters, search, everywhere)
    query = _queue_query(user, filters, everywhere)
    return Page(_rows(query, filters.page), _count(query))


def status_counts(user: StaffUser, filters: Filters, everywhere: bool = False) -> dict[str, int]:
    """Number of visible submissions in each status (other filters applied; capped)."""
    counts = _counts(_status_queries(user, filters, everywhere))
    return dict(zip(STATUS_LABELS, counts, strict=True))


def page_and_counts(
    user: StaffUser, filters: Filters, search: str = "", everywhere: bool = False
) -> tuple[Page, dict[str, int]]:
    """:func:`page_of` and :func:`status_counts` together, every count in one statement."""
    if search.strip():
        return _search_page(user, filters, search, everywhere), status_counts(
            user, filters, everywhere
        )
    query = _queue_query(user, filters, everywhere)
    total, *counts = _counts([query, *_status_queries(user, filters, everywhere)])
    return Page(_rows(query, filters.page), total), dict(zip(STATUS_LABELS, counts, strict=True))


def unassigned_clinic(limit: int = PAGE_SIZE) -> Page:
    """Submissions with no clinic (from versions before every form needed one).

    Administrators see them above the queue until each is moved to a clinic.
    """
    query = select(Submission).where(Submission.clinic_id.is_(None))
    rows = db.session.scalars(
        _listed(query).order_by(Submission.urgency, Submission.submitted_at).limit(limit)
    ).all()
    return Page(list(rows), _count(query))


#: Queue urgency (``Submission.urgency``) to its name in ``QUEUE_TARGETS``.
URGENCY_NAMES = {0: "emergency", 1: "prompt", 2: "routine"}


@dataclass(frozen=True)
class Waiting:
    """How long an open submission has waited, and whether that is past its target."""

    label: str
    due: datetime
    overdue: bool


def due_at(row: Submission, targets: dict[str, dict[str, float]]) -> datetime:
    """When ``row`` should have been picked up, by its urgency's target.

    ``{"hours": 2}`` counts clock time; ``{"business_days": 1}`` counts the opening
    time of one of the clinic's days (Monday to Friday, 8 to 5 when it has none).
    """
    target = targets[URGENCY_NAMES.get(row.urgency, "routine")]
    if "hours" in target:
        return row.submitted_at + timedelta(hours=target["hours"])
    hours = Hours.of(row.clinic)
    return hours.add_open_time(row.submitted_at, hours.day_length * target["business_days"])


def waiting(row: Submission, now: datetime, targets: dict) -> Waiting | None:
    """The waiting time of an open submission (None once closed or not proceeding).

    Only a submission nobody has picked up yet (status New) can be overdue: the targets
    are for the first action, and work in progress is not late for it.
    """
    if not row.is_open:
        return None
    due = due_at(row, targets)
    return Waiting(
        waiting_label(row.submitted_at, now), due, row.status == Status.NEW and now > due
    )
