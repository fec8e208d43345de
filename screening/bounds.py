"""Numbers and dates from requests, held to the ranges the app can store and compute with.

Everything a request carries is text, and ``int()`` or ``strptime`` accept far more than
the app can use: a 23-digit id overflowed the database driver, and ``9999-12-31`` plus one
day overflowed ``datetime``; both were 500s. This module is the one place that turns such
text into an id or a day:

- ids are whole numbers from 1 to :data:`ID_MAX`, the largest value of an INTEGER column
  on PostgreSQL (SQLite's are 64-bit, so the same bound holds there). A larger number
  cannot name a row. :func:`record_id` reads one from a query string or a form,
  :func:`coerce_id` is the same for a WTForms choice (a bad value becomes the field's
  message), and :func:`init_app` makes every ``<int:...>`` in a URL refuse one, so the
  answer is "not found", as for any id that names nothing.
- days are ``YYYY-MM-DD`` from :data:`FIRST_DAY` to :data:`LAST_DAY`: every date a staff
  member filters or exports by falls in it, and every day in it can be turned into the
  start of that day in any time zone, and the day after. :func:`parse_day` reads one
  from a query string; :class:`DayField` is the form field, whose message says the range.
- text with a NUL character cannot be stored or even looked up on PostgreSQL (the driver
  refuses it). No keyboard types one, so :func:`refuse_nul` answers a staff request that
  carries one anywhere (path, query, form) with 400 before any view reads it. The patient
  pages instead name the field, like any other character they cannot keep.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from flask import Flask, abort, request
from werkzeug.routing import IntegerConverter
from wtforms import DateField

#: Largest id: PostgreSQL's INTEGER (signed 32-bit).
ID_MAX = 2**31 - 1
#: Digits of ID_MAX: longer text is not an id, and is never handed to ``int()``.
ID_DIGITS = len(str(ID_MAX))
#: The days a staff member can ask for, inclusive.
FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(2100, 12, 31)
DAY_FORMAT = "%Y-%m-%d"
#: What a staff page says next to a day it cannot use.
DAY_MESSAGE = (
    f"Enter a day from {FIRST_DAY.isoformat()} to {LAST_DAY.isoformat()}, like 2026-11-30."
)


def record_id(value: Any) -> int | None:
    """Return ``value`` as an id (1 to :data:`ID_MAX`), or None when it cannot be one.

    Accepts an int, or text of ASCII digits only (no sign, space or other script's digits).
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    elif (
        isinstance(value, str)
        and 0 < len(value) <= ID_DIGITS
        and value.isascii()
        and value.isdigit()
    ):
        number = int(value)
    else:
        return None
    return number if 1 <= number <= ID_MAX else None


def coerce_id(value: Any) -> int:
    """:func:`record_id` for a WTForms ``coerce``: a value that is no id raises ValueError."""
    number = record_id(value)
    if number is None:
        raise ValueError("not an id")
    return number


def parse_day(text: Any) -> date | None:
    """Return the day ``text`` names (``YYYY-MM-DD``) if it is in the range, else None."""
    if not isinstance(text, str) or len(text) != len("2026-11-30") or not text.isascii():
        return None
    try:
        day = datetime.strptime(text, DAY_FORMAT).date()
    except ValueError:
        return None
    return day if FIRST_DAY <= day <= LAST_DAY else None


class DayField(DateField):
    """A day typed as ``YYYY-MM-DD``, from :data:`FIRST_DAY` to :data:`LAST_DAY`.

    Anything else leaves ``data`` None and puts :data:`DAY_MESSAGE` on the field. Use
    ``InputRequired`` with it, not ``DataRequired``: the latter would replace the message.
    """

    def __init__(self, label: str | None = None, validators: Any = None, **kwargs: Any) -> None:
        super().__init__(
            label, validators, format=DAY_FORMAT, invalid_value_message=DAY_MESSAGE, **kwargs
        )

    def process_formdata(self, valuelist: list[str]) -> None:
        if not valuelist:
            return
        self.data = parse_day(valuelist[0]) if len(valuelist) == 1 else None
        if self.data is None:
            raise ValueError(DAY_MESSAGE)


def refuse_nul() -> None:
    """A ``before_request`` hook: 400 for a request with a NUL in its path, query or form."""
    pairs = list(request.args.items(multi=True))
    if request.method == "POST":
        pairs += request.form.items(multi=True)
    if "\x00" in request.path or any("\x00" in k or "\x00" in v for k, v in pairs):
        abort(400)


class RecordIdConverter(IntegerConverter):
    """``<int:...>`` in this app's URLs: ASCII digits naming an id from 1 to ID_MAX."""

    regex = r"[0-9]+"

    def __init__(
        self,
        map: Any,  # noqa: A002 (Werkzeug's argument names)
        fixed_digits: int = 0,
        min: int = 1,  # noqa: A002
        max: int = ID_MAX,  # noqa: A002
        signed: bool = False,
    ) -> None:
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


def init_app(app: Flask) -> None:
    """Bound every ``<int:...>`` of ``app``'s routes (call before registering blueprints)."""
    app.url_map.converters["int"] = RecordIdConverter
