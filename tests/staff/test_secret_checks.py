"""Every secret check throttled and audited; CSRF floods bounded; emergency access shown to
administrators at once; CSV cells that look like formulas in any script neutralised.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from screening.audit import AuditEvent
from screening.extensions import db
from screening.models import StaffUser
from screening.staff import credentials
from screening.staff.exports import neutralise
from screening.staff.throttle import TOO_MANY
from tests.staff.helpers import PASSWORD, StaffClient, make_staff
from tests.staff.test_exports import store, table

WRONG = "not my password at all"


def rows(app, action: str) -> list[AuditEvent]:
    with app.app_context():
        return list(
            db.session.scalars(
                select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
            )
        )


def signed_in(app, username: str, role: str, clinics=("North Clinic",)):
    account = make_staff(app, username, role, clinics=list(clinics))
    client = StaffClient(app.test_client())
    client.sign_in(account)
    return client, account


# ------------------------------------------------------------------ the password page


def test_wrong_current_password_is_audited_and_throttled_like_sign_in(app, clock):
    client, account = signed_in(app, "ivy", "intake")
    clock.shift(1)  # failures count from the last success, which was this very second
    client.get("/staff/password")
    new = {"new": "a brand new garden path"}
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        response = client.post("/staff/password", {"current": WRONG, **new})
        assert response.status_code == 401
        assert "Your current password is wrong." in response.get_data(as_text=True)
    failures = rows(app, "account.password_change")
    assert [(r.outcome, r.actor_name, r.target) for r in failures] == [
        ("failure", "ivy", "ivy")
    ] * app.config["LOGIN_MAX_FAILURES"]
    # Now even the right current password is refused, and that is audited too ...
    response = client.post("/staff/password", {"current": PASSWORD, **new})
    assert response.status_code == 429 and TOO_MANY in response.get_data(as_text=True)
    assert rows(app, "account.password_change")[-1].outcome == "denied"
    with app.app_context():
        user = db.session.scalar(select(StaffUser).where(StaffUser.username == "ivy"))
        assert credentials.check_password(user.password_hash, PASSWORD)
    # ... and the count is the sign-in's: the account waits there as well.
    other = StaffClient(app.test_client())
    other.get("/staff/login")
    refused = other.post("/staff/login", {"username": "ivy", "password": PASSWORD})
    assert refused.status_code != 302
    assert "Too many failed sign-ins" in refused.get_data(as_text=True)


def test_the_right_current_password_still_changes_it(app, clock):
    client, _ = signed_in(app, "ivy", "intake")
    client.get("/staff/password")
    assert client.post("/staff/password", {"current": WRONG, "new": "x"}).status_code == 401
    changed = client.post("/staff/password", {"current": PASSWORD, "new": "a brand new path"})
    assert changed.status_code == 302
    assert [r.outcome for r in rows(app, "account.password_change")] == ["failure", "success"]


# ------------------------------------------------------------------ confirm and the TOTP steps


def test_confirm_checks_the_throttle(app, clock):
    client, account = signed_in(app, "ivy", "intake")
    clock.shift(30)  # a new code: the sign-in's cannot be used twice
    client.get("/staff/confirm")
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        wrong = client.post("/staff/confirm", {"password": WRONG, "code": account.code()})
        assert wrong.status_code == 401
    right = client.post("/staff/confirm", {"password": PASSWORD, "code": account.code()})
    assert right.status_code == 429 and TOO_MANY in right.get_data(as_text=True)
    outcomes = [r.outcome for r in rows(app, "auth.reauthenticate")]
    assert outcomes == ["failure"] * app.config["LOGIN_MAX_FAILURES"] + ["denied"]
    # After the window the right password and code confirm again.
    for _ in range(4):  # sixteen minutes with activity (no idle sign-out)
        clock.shift(timedelta(minutes=4))
        assert client.get("/staff/").status_code == 200
    ok = client.post("/staff/confirm", {"password": PASSWORD, "code": account.code()})
    assert ok.status_code == 302
    assert rows(app, "auth.reauthenticate")[-1].outcome == "success"


def test_the_code_step_is_throttled_and_audited(app, clock):
    account = make_staff(app, "ivy", "intake", clinics=["North Clinic"])
    client = StaffClient(app.test_client())
    client.get("/staff/login")
    client.post("/staff/login", {"username": "ivy", "password": PASSWORD})
    client.get("/staff/code")
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        assert client.post("/staff/code", {"code": "000000"}).status_code == 401
    response = client.post("/staff/code", {"code": account.code()})
    assert response.status_code == 302 and response.headers["Location"] == "/staff/login"
    outcomes = [r.outcome for r in rows(app, "auth.mfa_failed")]
    assert outcomes == ["failure"] * app.config["LOGIN_MAX_FAILURES"] + ["denied"]


def test_enrolment_codes_are_counted_and_throttled(app, clock):
    make_staff(app, "nia", "intake", clinics=["North Clinic"], enrolled=False)
    client = StaffClient(app.test_client())
    client.get("/staff/login")
    assert (
        client.post("/staff/login", {"username": "nia", "password": PASSWORD})
        .headers["Location"]
        .endswith("/staff/enrol")
    )
    client.get("/staff/enrol")
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        assert "That code did not work" in client.post("/staff/enrol", {"code": "000000"}).get_data(
            as_text=True
        )
    response = client.post("/staff/enrol", {"code": "000000"})
    assert response.status_code == 302 and response.headers["Location"] == "/staff/login"
    assert [r.detail for r in rows(app, "auth.mfa_failed")][-1] == {
        "stage": "enrol",
        "reason": "throttled",
    }
    # The session was ended: the enrolment page is out of reach until a new sign-in.
    assert client.get("/staff/enrol").headers["Location"].startswith("/staff/login")


# ------------------------------------------------------------------ CSRF floods


def test_anonymous_csrf_failures_are_audited_up_to_a_threshold_then_counted(make_app, clock):
    app = make_app(CSRF_AUDIT_PER_HOUR=3)
    flood = app.test_client()
    for _ in range(3):
        assert flood.post("/staff/login", data={"username": "x"}).status_code == 400
    assert len(rows(app, "authz.csrf_failed")) == 3
    # Past the threshold: one summary row, then only the count; every post gets a 429.
    for _ in range(20):
        refused = flood.post("/staff/login", data={"username": "x"})
        assert refused.status_code == 429
        assert 0 < int(refused.headers["Retry-After"]) <= 3600
    assert len(rows(app, "authz.csrf_failed")) == 3
    summary = rows(app, "authz.csrf_flood")
    assert len(summary) == 1 and summary[0].detail == {
        "endpoint": "staff.login",
        "audited": 3,
        "window_seconds": 3600,
    }
    # Another address is audited as before.
    elsewhere = app.test_client()
    answer = elsewhere.post(
        "/staff/login", data={"username": "x"}, environ_base={"REMOTE_ADDR": "192.0.2.7"}
    )
    assert answer.status_code == 400 and len(rows(app, "authz.csrf_failed")) == 4
    # The page still works from the flooded address: a reloaded page has a fresh token.
    assert flood.get("/staff/login").status_code == 200
    # The next hour starts a new count.
    clock.shift(timedelta(minutes=61))
    assert flood.post("/staff/login", data={"username": "x"}).status_code == 400
    assert len(rows(app, "authz.csrf_failed")) == 5


def test_signed_in_csrf_failures_are_each_audited(make_app, clock):
    app = make_app(CSRF_AUDIT_PER_HOUR=2)
    client, _ = signed_in(app, "cal", "intake")
    for _ in range(4):
        assert client.client.post("/staff/keepalive").status_code == 400
    assert [(r.actor_name, r.outcome) for r in rows(app, "authz.csrf_failed")] == [
        ("cal", "denied")
    ] * 4


# ------------------------------------------------------------------ emergency access


REASON = "Covering South Clinic <b>today</b> while their nurse is away"


def test_admins_see_emergency_access_at_once_on_their_queue(app, clock):
    nurse, _ = signed_in(app, "nora", "intake")
    boss, _ = signed_in(app, "bea", "admin", clinics=())
    colleague, _ = signed_in(app, "ivy", "intake")
    assert "Emergency access in the last" not in boss.get("/staff/").get_data(as_text=True)
    nurse.get("/staff/emergency-access")
    assert nurse.post("/staff/emergency-access", {"reason": REASON}).status_code == 303
    page = boss.get("/staff/").get_data(as_text=True)
    notice = page.split('class="break-glass-notice"', 1)[1].split("</section>", 1)[0]
    assert "<strong>nora</strong>" in notice and "(still on)" in notice
    # The reason as typed, escaped; when, on the clinic's clock.
    assert "Covering South Clinic &lt;b&gt;today&lt;/b&gt; while their nurse is away" in notice
    assert "<b>today</b>" not in page
    assert "Nov 23, 2026, 10:00 AM to Nov 23, 2026, 11:00 AM" in notice
    assert "/staff/admin/audit/activity?start=2026-11-22&amp;end=2026-11-23" in notice
    # Only administrators get it.
    assert "break-glass-notice" not in colleague.get("/staff/").get_data(as_text=True)
    # An hour later it is over, and still listed for the rest of the day.
    for _ in range(7):
        clock.shift(timedelta(minutes=10))
        assert boss.get("/staff/").status_code == 200
    later = boss.get("/staff/").get_data(as_text=True)
    assert "<strong>nora</strong>" in later and "(still on)" not in later
    # After a day it leaves the queue (the audit report keeps it).
    clock.shift(timedelta(hours=23))
    boss.sign_in(make_staff(app, "bob", "admin"))
    assert "break-glass-notice" not in boss.get("/staff/").get_data(as_text=True)


def test_the_audit_activity_report_lists_emergency_access_of_the_day(app, clock):
    nurse, _ = signed_in(app, "nora", "intake")
    boss, _ = signed_in(app, "bea", "admin", clinics=())
    nurse.get("/staff/emergency-access")
    nurse.post("/staff/emergency-access", {"reason": REASON})
    # The day's report, with no one chosen: the emergency access of the day, with why.
    report = boss.get("/staff/admin/audit/activity?user=&start=2026-11-23&end=2026-11-23")
    page = report.get_data(as_text=True)
    assert report.status_code == 200
    grants = page.split("Emergency access on these days", 1)[1].split("</table>", 1)[0]
    assert "<td>nora</td>" in grants and "&lt;b&gt;today&lt;/b&gt;" in grants
    assert "What " not in page.split("</table>", 1)[1]  # no one chosen, no activity table
    # The day before had none.
    before = boss.get("/staff/admin/audit/activity?start=2026-11-22&end=2026-11-22")
    assert "No emergency access was turned on." in before.get_data(as_text=True)
    # With the nurse chosen, what she did is listed under it too.
    with app.app_context():
        nora = db.session.scalar(select(StaffUser.id).where(StaffUser.username == "nora"))
    chosen = boss.get(f"/staff/admin/audit/activity?user={nora}&start=2026-11-23&end=2026-11-23")
    assert "What nora touched" in chosen.get_data(as_text=True)
    assert "access.break_glass" in chosen.get_data(as_text=True)


# ------------------------------------------------------------------ CSV look-alikes


LOOK_ALIKES = {
    "\uff1d": "FULLWIDTH EQUALS SIGN",
    "\uff0b": "FULLWIDTH PLUS SIGN",
    "\uff0d": "FULLWIDTH HYPHEN-MINUS",
    "\uff20": "FULLWIDTH COMMERCIAL AT",
    "\u2212": "MINUS SIGN",
    "\ufe62": "SMALL PLUS SIGN",
    "\ufe63": "SMALL HYPHEN-MINUS",
    "\ufe66": "SMALL EQUALS SIGN",
    "\ufe6b": "SMALL COMMERCIAL AT",
    "\uff5c": "FULLWIDTH VERTICAL LINE",
    "\u207c": "SUPERSCRIPT EQUALS SIGN",
    "\u207a": "SUPERSCRIPT PLUS SIGN",
    "\u207b": "SUPERSCRIPT MINUS",
    "\u208c": "SUBSCRIPT EQUALS SIGN",
    "\u2013": "EN DASH",
    "\u2796": "HEAVY MINUS SIGN",
    "|": "VERTICAL LINE",
    "\n": "LINE FEED",
}


@pytest.mark.parametrize("char", LOOK_ALIKES, ids=list(LOOK_ALIKES.values()))
def test_csv_neutralises_unicode_look_alikes_of_formula_signs(char):
    value = char + 'HYPERLINK("http://evil.example")'
    assert neutralise(value) == "'" + value


@pytest.mark.parametrize(
    "value", [" =1+1", "\u00a0=1+1", "\u200b=1+1", "\u3000\uff1d1", "\t=1", "\r=1"]
)
def test_csv_neutralises_formulas_behind_spaces_and_invisible_characters(value):
    assert neutralise(value) == "'" + value


@pytest.mark.parametrize("value", ["plain", "1-2", "a=b", "ａbc", "María", "(555) 010-2030"])
def test_csv_leaves_ordinary_text_alone(value):
    assert neutralise(value) == value


def test_exported_names_starting_with_a_full_width_sign_are_neutralised(app, clock):
    client, _ = signed_in(app, "ivy", "intake")
    at = datetime(2026, 11, 23, 14, tzinfo=UTC)
    store(app, at, full_name='\uff1dHYPERLINK("http://evil.example")')
    store(app, at + timedelta(minutes=1), full_name="\u2212Mallory Example")
    client.get("/staff/export")
    response = client.post(
        "/staff/export", {"start": "2026-11-23", "end": "2026-11-23", "values": "words"}
    )
    _, _, found = table(response)
    assert [row["full_name"] for row in found] == [
        '\'\uff1dHYPERLINK("http://evil.example")',
        "'\u2212Mallory Example",
    ]
