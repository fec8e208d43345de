"""Staff accounts and a signed-in browser-like client for tests."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pyotp

from screening.extensions import db
from screening.models import StaffUser
from screening.staff import accounts
from tests.patient_client import Patient

PASSWORD = "tulip lantern ocean morning"


@dataclass
class Account:
    id: int
    username: str
    password: str
    secret: str

    def code(self, at: float | None = None) -> str:
        totp = pyotp.TOTP(self.secret)
        return totp.now() if at is None else totp.at(at)


def make_staff(app, username: str, role: str, clinics=(), enrolled: bool = True) -> Account:
    """Create an account (enrolled in TOTP unless told otherwise)."""
    with app.app_context():
        clinic_ids = []
        for name in clinics:
            clinic = accounts.clinic_by_name(name) or accounts.create_clinic(name)
            clinic_ids.append(clinic.id)
        user = accounts.create_user(
            username, role, PASSWORD, full_name=username.title(), clinic_ids=clinic_ids
        )
        secret = pyotp.random_base32()
        if enrolled:
            user.totp_secret = secret
        db.session.commit()
        return Account(user.id, user.username, PASSWORD, secret)


class StaffClient(Patient):
    """A staff member's browser: signs in with password and code, keeps CSRF tokens."""

    def sign_in(self, account: Account, code: str | None = None):
        self.get("/staff/login")
        response = self.post(
            "/staff/login", {"username": account.username, "password": account.password}
        )
        assert response.status_code == 302, response.get_data(as_text=True)[:2000]
        assert response.headers["Location"].endswith("/staff/code")
        self.get("/staff/code")
        return self.post("/staff/code", {"code": code or account.code()})

    def session_token(self) -> str | None:
        cookie = self.client.get_cookie("screening_session")
        return cookie.value if cookie else None


def user(app, account: Account) -> StaffUser:
    with app.app_context():
        return db.session.get(StaffUser, account.id)


def links(html: str) -> list[str]:
    return re.findall(r'href="([^"]+)"', html)
