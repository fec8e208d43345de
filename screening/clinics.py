"""Clinics: their clock and calendar, opening hours, and the times staff read.

Staff see every time on the clinic's clock (its ``timezone``, or the app's
``CLINIC_TIMEZONE``), and a date filter means the clinic's calendar day. Opening hours
turn the queue's targets ("prompt: 1 business day") into a deadline.

The time functions are pure (no database, no request): they take the zone and hours.
Patients see a clinic's name, phone (a ``tel:`` link), hours and address (:func:`contact`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, available_timezones

from babel.dates import format_time as babel_time
from babel.dates import get_day_names
from babel.lists import format_list
from flask import current_app
from flask_babel import gettext as _

from screening.models import Clinic

#: Weekday names, Monday first (Python's ``weekday()`` order).
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
#: Zones offered when editing a clinic: the US ones first, then every other IANA zone.
US_ZONES = (
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Phoenix",
    "America/Los_Angeles",
    "America/Anchorage",
    "Pacific/Honolulu",
    "America/Puerto_Rico",
)
#: Plain names for the zones above, shown once per staff page.
ZONE_NAMES = {
    "America/New_York": "Eastern time",
    "America/Chicago": "Central time",
    "America/Denver": "Mountain time",
    "America/Phoenix": "Arizona time",
    "America/Los_Angeles": "Pacific time",
    "America/Anchorage": "Alaska time",
    "Pacific/Honolulu": "Hawaii time",
    "America/Puerto_Rico": "Atlantic time",
}


def known_zone(name: str) -> bool:
    return name in US_ZONES or name in available_timezones()


def default_zone() -> str:
    return current_app.config["CLINIC_TIMEZONE"]


def zone_of(clinic: Clinic | None) -> str:
    """The clinic's IANA time zone (the app's default when it has none, or no clinic)."""
    return (clinic.timezone if clinic is not None and clinic.timezone else None) or default_zone()


def page_zone(clinics: Iterable[Clinic]) -> str:
    """The one zone a staff page shows times in: the clinics' zone when they share one.

    Clinics in several zones (rare: an administrator of a group) fall back to the app's
    ``CLINIC_TIMEZONE``; the page names whichever zone it used.
    """
    zones = {zone_of(clinic) for clinic in clinics}
    return zones.pop() if len(zones) == 1 else default_zone()


def zone_name(zone: str) -> str:
    """ "Eastern time"; the IANA name for a zone without a plain name."""
    return ZONE_NAMES.get(zone, zone)


def zone_label(zone: str) -> str:
    """How a page names its zone: "Eastern time (America/New_York)"."""
    plain = zone_name(zone)
    return f"{plain} ({zone})" if plain != zone else zone


def local(moment: datetime, zone: str) -> datetime:
    return moment.astimezone(ZoneInfo(zone))


def format_time(moment: datetime | None, zone: str, with_zone: bool = False) -> str:
    """US style: "Dec 4, 2026, 3:05 PM" on the clinic's clock ("" for None)."""
    if moment is None:
        return ""
    here = local(moment, zone)
    hour = here.hour % 12 or 12
    text = f"{here.strftime('%b')} {here.day}, {here.year}, {hour}:{here.minute:02d} "
    text += "AM" if here.hour < 12 else "PM"
    return f"{text} {here.tzname()}" if with_zone else text


def format_date(day: date) -> str:
    """US style: "December 4, 2026"."""
    return f"{day.strftime('%B')} {day.day}, {day.year}"


def day_start(day: date, zone: str) -> datetime:
    """The UTC instant the clinic's calendar ``day`` begins (a date filter's bound)."""
    return datetime.combine(day, time.min, tzinfo=ZoneInfo(zone)).astimezone(UTC)


def today(zone: str, now: datetime | None = None) -> date:
    return local(now or datetime.now(UTC), zone).date()


# ------------------------------------------------------------------ opening hours


@dataclass(frozen=True)
class Hours:
    """Opening hours: the same times on each open day, on the clinic's clock."""

    days: frozenset[int]
    opens: time
    closes: time
    zone: str

    @classmethod
    def of(cls, clinic: Clinic | None) -> Hours:
        if clinic is None:
            return _hours("01234", None, None, default_zone())
        return _hours(clinic.open_days, clinic.opens_at, clinic.closes_at, zone_of(clinic))

    @property
    def day_length(self) -> timedelta:
        return datetime.combine(date.min, self.closes) - datetime.combine(date.min, self.opens)

    def add_open_time(self, start: datetime, amount: timedelta) -> datetime:
        """The instant ``amount`` of opening time after ``start`` (UTC in, UTC out).

        Time outside opening hours does not count: a form sent on Friday evening with a
        target of one business day is due at Monday's closing time (for Monday to Friday).
        With no open days or an empty day, clock time counts instead.
        """
        if not self.days or self.day_length <= timedelta(0):
            return start + amount
        zone = ZoneInfo(self.zone)
        here = start.astimezone(zone)
        left = amount
        day = here.date()
        for _day in range(3660):  # ten years of days: always enough for a sane target
            if day.weekday() in self.days:
                opens = datetime.combine(day, self.opens, tzinfo=zone)
                closes = datetime.combine(day, self.closes, tzinfo=zone)
                begin = max(opens, here)
                if begin < closes:
                    if begin + left <= closes:
                        return (begin + left).astimezone(UTC)
                    left -= closes - begin
            day += timedelta(days=1)
        return start + amount

    def describe(self) -> str:
        """In words for patients and staff: "Monday to Friday, 8:00 AM to 5:00 PM"."""
        if not self.days:
            return ""
        days = sorted(self.days)
        if days == list(range(days[0], days[-1] + 1)) and len(days) > 2:
            named = f"{WEEKDAYS[days[0]]} to {WEEKDAYS[days[-1]]}"
        else:
            names = [WEEKDAYS[d] for d in days]
            named = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
        return f"{named}, {_clock(self.opens)} to {_clock(self.closes)}"


@lru_cache(maxsize=256)
def _hours(open_days: str, opens_at: str | None, closes_at: str | None, zone: str) -> Hours:
    """Opening hours from a clinic's settings (kept: the queue asks once per row)."""
    return Hours(
        frozenset(int(d) for d in open_days if d.isdigit() and int(d) < 7),
        parse_time(opens_at) or time(8),
        parse_time(closes_at) or time(17),
        zone,
    )


def _clock(moment: time) -> str:
    hour = moment.hour % 12 or 12
    return f"{hour}:{moment.minute:02d} {'AM' if moment.hour < 12 else 'PM'}"


def parse_time(text: str | None) -> time | None:
    """ "HH:MM" (24-hour) to a time, or None when it is not one."""
    try:
        return datetime.strptime((text or "").strip(), "%H:%M").time()
    except ValueError:
        return None


def waiting_label(since: datetime, now: datetime) -> str:
    """How long a submission has waited, in a few characters: "45 min", "3 h", "2 days"."""
    seconds = max(0, int((now - since).total_seconds()))
    if seconds < 3600:
        return f"{seconds // 60} min"
    if seconds < 48 * 3600:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} days"


# ------------------------------------------------------------------ for patients


@dataclass(frozen=True)
class Contact:
    """How a patient reaches their clinic, in the patient's language."""

    name: str
    phone: str
    #: The phone as a ``tel:`` URI ("tel:+15551234567"); "" when it has no digits.
    tel: str
    #: "Monday to Friday, 8:00 AM to 5:00 PM" ("lunes a viernes, 8:00 a 17:00").
    hours: str
    address: str
    note: str


def tel_uri(phone: str) -> str:
    """A US phone number as a ``tel:`` link target: 10 digits get the +1 country code."""
    digits = "".join(c for c in phone if c.isdigit())
    if not digits:
        return ""
    if phone.strip().startswith("+"):
        return f"tel:+{digits}"
    if len(digits) == 10:
        return f"tel:+1{digits}"
    if len(digits) == 11 and digits.startswith("1"):
        return f"tel:+{digits}"
    return f"tel:{digits}"


def hours_words(hours: Hours, locale: str) -> str:
    """Opening hours in the patient's language ("" when the clinic lists no open days)."""
    if not hours.days:
        return ""
    names = get_day_names("wide", locale=locale)  # Monday is 0, as in Python
    days = sorted(hours.days)
    if days == list(range(days[0], days[-1] + 1)) and len(days) > 2:
        named = _("%(first)s to %(last)s", first=names[days[0]], last=names[days[-1]])
    else:
        named = format_list([names[d] for d in days], locale=locale)
    opens = babel_time(hours.opens, "short", locale=locale)
    closes = babel_time(hours.closes, "short", locale=locale)
    text = _("%(days)s, %(opens)s to %(closes)s", days=named, opens=opens, closes=closes)
    return text[:1].upper() + text[1:]


def contact(clinic: Clinic | None, locale: str) -> Contact | None:
    """A clinic's details for patients (None for no clinic)."""
    if clinic is None:
        return None
    return Contact(
        name=clinic.name,
        phone=clinic.phone,
        tel=tel_uri(clinic.phone),
        hours=hours_words(Hours.of(clinic), locale),
        address=clinic.address,
        note=clinic.patient_note,
    )
