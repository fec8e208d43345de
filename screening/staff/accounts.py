"""Account and clinic management, shared by the admin pages and the CLI.

Nothing here commits: the page or command commits the change with its audit row
(README, "Transactions"). New rows are flushed, so their ids can be read at once.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from sqlalchemy import func, select

from screening.clinics import known_zone, parse_time
from screening.extensions import db
from screening.models import Clinic, StaffUser
from screening.staff.access import ROLES, end_user_sessions
from screening.staff.credentials import hash_password, password_problem

USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
#: Generic names that hide who did what; every account belongs to one person.
SHARED_NAMES = frozenset(
    {"admin", "administrator", "root", "test", "user", "staff", "frontdesk", "clinic"}
)


class AccountError(ValueError):
    """A request to create or change an account was refused; ``field`` says where."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def _clinic_name(name: str, clinic: Clinic | None = None) -> str:
    name = " ".join(name.split())
    if not name or len(name) > 100:
        raise AccountError("name", "Enter a clinic name of up to 100 characters.")
    same = db.session.scalar(select(Clinic).where(func.lower(Clinic.name) == name.lower()))
    if same is not None and same is not clinic:
        raise AccountError("name", f"There is already a clinic called {name}.")
    return name


def create_clinic(name: str) -> Clinic:
    clinic = Clinic(name=_clinic_name(name))
    db.session.add(clinic)
    db.session.flush()
    return clinic


#: What an administrator may change about a clinic, with each field's longest length.
CLINIC_FIELDS = {"phone": 40, "address": 300, "patient_note": 500}
PHONE_RE = re.compile(r"^[0-9()+.\- ]{7,40}$")
#: A clinic's own retention period, in days (see screening.retention).
MIN_RETENTION_DAYS = 30
MAX_RETENTION_DAYS = 100 * 365


def update_clinic(clinic: Clinic, **changes: str | None) -> dict[str, tuple]:
    """Change a clinic's name, contact details, opening hours or time zone.

    Everything is checked before anything changes. Nothing is committed: the caller
    records the change (audit) and commits.

    :param changes: any of ``name``, ``phone``, ``address``, ``patient_note``,
        ``open_days`` (digits, Monday 0), ``opens_at`` and ``closes_at`` ("HH:MM"),
        ``timezone`` (IANA name), ``retention_days`` (days, or "default"); None leaves a
        field as it is.
    :return: the fields that changed, as (old, new).
    :raise AccountError: on the first bad value, naming its field.
    """
    wanted: dict[str, str | int | None] = {}
    for field, value in changes.items():
        if value is None:
            continue
        if field == "name":
            wanted["name"] = _clinic_name(value, clinic)
        elif field in CLINIC_FIELDS:
            value = value.strip().replace("\r\n", "\n")
            if len(value) > CLINIC_FIELDS[field]:
                raise AccountError(field, f"Write up to {CLINIC_FIELDS[field]} characters.")
            if field == "phone" and value and not PHONE_RE.fullmatch(value):
                raise AccountError(field, "Enter a phone number, like (555) 123-4567.")
            wanted[field] = value
        elif field == "open_days":
            days = "".join(sorted(set(value)))
            if not re.fullmatch(r"[0-6]*", days):
                raise AccountError(field, "Choose the days the clinic is open.")
            wanted[field] = days
        elif field in ("opens_at", "closes_at"):
            moment = parse_time(value)
            if moment is None:
                raise AccountError(field, "Enter a time like 08:30 or 17:00.")
            wanted[field] = moment.strftime("%H:%M")
        elif field == "timezone":
            if not known_zone(value):
                raise AccountError(field, "Choose a time zone from the list.")
            wanted[field] = value
        elif field == "retention_days":
            text = str(value).strip().lower()
            if text in ("", "default"):
                wanted[field] = None
            elif text.isdigit() and MIN_RETENTION_DAYS <= int(text) <= MAX_RETENTION_DAYS:
                wanted[field] = int(text)
            else:
                raise AccountError(
                    field,
                    f"Enter a number of days from {MIN_RETENTION_DAYS} to {MAX_RETENTION_DAYS}, "
                    "or default.",
                )
        else:
            raise AccountError(field, "This cannot be changed here.")
    opens = wanted.get("opens_at", clinic.opens_at)
    closes = wanted.get("closes_at", clinic.closes_at)
    if isinstance(opens, str) and isinstance(closes, str) and opens and closes <= opens:
        raise AccountError("closes_at", "The closing time must be after the opening time.")
    changed = {}
    for field, new in wanted.items():
        old = getattr(clinic, field)
        if old != new:
            changed[field] = (old, new)
            setattr(clinic, field, new)
    return changed


def set_clinic_active(clinic: Clinic, active: bool) -> bool:
    """Retire a clinic (it takes no new forms; its submissions stay) or reactivate it.

    :return: whether anything changed. The caller audits and commits.
    """
    if clinic.active == active:
        return False
    clinic.active = active
    return True


def clinic_by_name(name: str) -> Clinic | None:
    return db.session.scalar(select(Clinic).where(func.lower(Clinic.name) == name.strip().lower()))


def create_user(
    username: str, role: str, password: str, *, full_name: str = "", clinic_ids: Sequence[int] = ()
) -> StaffUser:
    """Create a named staff account.

    :raise AccountError: for a taken, shared-looking or malformed username, an unknown
        role or clinic, or a password the policy refuses.
    """
    username = username.strip().lower()
    if not USERNAME_RE.match(username):
        raise AccountError("username", "Use 2 to 64 letters, digits, dots, dashes or underscores.")
    if username in SHARED_NAMES:
        raise AccountError(
            "username", "Use the person's own name: shared accounts hide who did what."
        )
    if role not in ROLES:
        raise AccountError("role", f"Role must be one of {', '.join(ROLES)}.")
    if problem := password_problem(password, username):
        raise AccountError("password", problem)
    if db.session.scalar(select(StaffUser).where(StaffUser.username == username)):
        raise AccountError("username", f"The username {username} is taken.")
    clinics = [db.session.get(Clinic, clinic_id) for clinic_id in clinic_ids]
    if any(clinic is None for clinic in clinics):
        raise AccountError("clinics", "Choose clinics from the list.")
    user = StaffUser(
        username=username,
        full_name=full_name.strip(),
        role=role,
        password_hash=hash_password(password),
        clinics=clinics,
    )
    db.session.add(user)
    db.session.flush()
    return user


def disable(user: StaffUser) -> None:
    """Disable an account and end all its sessions at once."""
    user.active = False
    end_user_sessions(user)


def reset_second_factor(user: StaffUser) -> None:
    """Make the user enrol a new authenticator at next sign-in; ends their sessions."""
    user.totp_secret = None
    user.totp_pending = None
    user.totp_last_step = 0
    end_user_sessions(user)
