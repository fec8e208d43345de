"""Account and clinic management, shared by the admin pages and the CLI."""

from __future__ import annotations

import re

from sqlalchemy import func, select

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


def create_clinic(name: str) -> Clinic:
    name = " ".join(name.split())
    if not name or len(name) > 100:
        raise AccountError("name", "Enter a clinic name of up to 100 characters.")
    if db.session.scalar(select(Clinic).where(func.lower(Clinic.name) == name.lower())):
        raise AccountError("name", f"There is already a clinic called {name}.")
    clinic = Clinic(name=name)
    db.session.add(clinic)
    db.session.commit()
    return clinic


def clinic_by_name(name: str) -> Clinic | None:
    return db.session.scalar(select(Clinic).where(func.lower(Clinic.name) == name.strip().lower()))


def create_user(
    username: str, role: str, password: str, *, full_name: str = "", clinic_ids: list[int] = ()
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
    db.session.commit()
    return user


def disable(user: StaffUser) -> None:
    """Disable an account and end all its sessions at once."""
    user.active = False
    end_user_sessions(user)
    db.session.commit()


def reset_second_factor(user: StaffUser) -> None:
    """Make the user enrol a new authenticator at next sign-in; ends their sessions."""
    user.totp_secret = None
    user.totp_pending = None
    user.totp_last_step = 0
    end_user_sessions(user)
    db.session.commit()
