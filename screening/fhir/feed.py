"""The record systems' feed: a clinic's submissions in the order they were offered.

Each submission has a position, ``(feed_updated_at, public_id)``: the time it was sent (or
moved to its clinic), ties broken by its id. A page lists the submissions after a position,
in that order; the next page starts after the last one listed. A record system that keeps
the position of the last submission it stored and asks for what comes after it gets every
submission once, however many share a time.

Two rules make that hold while submissions are being sent:

- a submission stamped at time *t* may commit a little after a later one (two workers, two
  transactions). The feed only lists submissions stamped at least ``FHIR_FEED_DELAY_SECONDS``
  ago (60 by default), long after any such transaction has committed, so nothing can later
  appear before a position already handed out;
- a move to another clinic stamps the submission again (screening/staff/workflow.py), so the
  new clinic's record system meets it after its current position.

A position is written ``<instant>,<id>``: the ``meta.lastUpdated`` and ``id`` of the
``QuestionnaireResponse`` (``2026-03-02T15:04:05.123456Z,3f2c...``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import joinedload

from screening.extensions import db
from screening.fhir.resources import instant
from screening.models import Submission

#: An instant as FHIR writes it: a time with seconds and a zone (fraction up to microseconds).
INSTANT_RE = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?(Z|[+-][0-9]{2}:[0-9]{2})"
)
#: A submission's public id (32 lower-case hex digits).
ID_RE = re.compile(r"[0-9a-f]{32}")
#: ``_lastUpdated`` prefixes understood.
PREFIXES = ("gt", "ge", "lt", "le")
#: Instants accepted (outside them a date cannot be stored or compared everywhere).
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)


class BadQuery(ValueError):
    """A search parameter the feed cannot use (the message says which and why)."""


@dataclass(frozen=True, order=True)
class Position:
    """Where a submission sits in the feed."""

    at: datetime
    id: str

    def __str__(self) -> str:
        return f"{instant(self.at)},{self.id}"

    @classmethod
    def of(cls, submission: Submission) -> Position:
        return cls(submission.feed_updated_at, submission.public_id)


def parse_instant(text: str, name: str = "_lastUpdated") -> datetime:
    """An aware datetime from a FHIR instant; :class:`BadQuery` otherwise."""
    if not isinstance(text, str) or not INSTANT_RE.fullmatch(text):
        raise BadQuery(f"{name}: give an instant with a time zone, like 2026-03-02T15:04:05Z.")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise BadQuery(f"{name}: {text} is not a real time.") from None
    if not EARLIEST <= moment <= LATEST:
        raise BadQuery(f"{name}: the instant is out of range.")
    return moment.astimezone(UTC)


def parse_position(text: str) -> Position:
    """A position from ``<instant>,<id>`` (``_cursor``); :class:`BadQuery` otherwise."""
    moment, _, public_id = (text or "").partition(",")
    if not ID_RE.fullmatch(public_id):
        raise BadQuery(
            "_cursor: give the lastUpdated and id of a QuestionnaireResponse, joined by a comma."
        )
    return Position(parse_instant(moment, "_cursor"), public_id)


@dataclass(frozen=True)
class Bounds:
    """Which part of the feed a search asks for."""

    after: Position | None = None
    #: Lower bound on the time: (instant, inclusive).
    since: tuple[datetime, bool] | None = None
    #: Upper bound on the time, inclusive (the settled part of the feed, or less).
    until: datetime | None = None
    until_inclusive: bool = True


def bounds_from(last_updated: Sequence[str], cursor: str | None, settled: datetime) -> Bounds:
    """Read ``_lastUpdated`` (each ``gt``, ``ge``, ``lt`` or ``le`` and an instant) and
    ``_cursor`` into :class:`Bounds`, never past ``settled``.

    :raise BadQuery: on an unknown prefix or a malformed instant or cursor.
    """
    since: tuple[datetime, bool] | None = None
    until, inclusive = settled, True
    for value in last_updated:
        prefix, moment = value[:2], value[2:]
        if prefix not in PREFIXES:
            raise BadQuery(
                "_lastUpdated: start with gt, ge, lt or le, like gt2026-03-02T15:04:05Z."
            )
        when = parse_instant(moment)
        if prefix in ("gt", "ge"):
            candidate = (when, prefix == "ge")
            if (
                since is None
                or candidate[0] > since[0]
                or (candidate[0] == since[0] and not candidate[1])
            ):
                since = candidate
        elif when < until or (when == until and prefix == "lt"):
            until, inclusive = when, prefix == "le"
    after = parse_position(cursor) if cursor is not None else None
    return Bounds(after=after, since=since, until=until, until_inclusive=inclusive)


def page(clinic_ids: Sequence[int], bounds: Bounds, count: int) -> tuple[list[Submission], bool]:
    """The first ``count`` submissions of the clinics within ``bounds``, in feed order.

    :return: the submissions and whether more follow. Each clinic is read along its own
        index (clinic, time, id) and the lists are merged, so a page costs about
        ``count`` rows per clinic however long the feed is.
    """
    found: list[Submission] = []
    column, public_id = Submission.feed_updated_at, Submission.public_id
    for clinic_id in sorted(set(clinic_ids)):
        query = select(Submission).where(Submission.clinic_id == clinic_id)
        if bounds.until is not None:
            query = query.where(
                column <= bounds.until if bounds.until_inclusive else column < bounds.until
            )
        if bounds.since is not None:
            moment, inclusive = bounds.since
            query = query.where(column >= moment if inclusive else column > moment)
        if bounds.after is not None:
            after = bounds.after
            query = query.where(
                or_(column > after.at, and_(column == after.at, public_id > after.id))
            )
        query = (
            query.options(joinedload(Submission.clinic))
            .order_by(column, public_id)
            .limit(count + 1)
        )
        found.extend(db.session.scalars(query))
    found.sort(key=Position.of)
    return found[:count], len(found) > count
