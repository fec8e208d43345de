"""Deny by default, least privilege, clinic scoping, audited reads.

A fresh sign-in is asked for before an export.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from screening import audit
from screening.audit import AuditEvent
from screening.extensions import db
from screening.models import Submission
from screening.public import authenticates_itself, is_public
from screening.staff import access, accounts
from tests.factories import BASELINE, CONTACT, send_directly
from tests.patient_client import Patient
from tests.staff.helpers import StaffClient, make_staff

#: Expected status of a GET per endpoint for each role (a signed-in user); anything not
#: listed is expected to be 200 for every role.
ADMIN_ONLY = {
    "staff.users",
    "staff.user_new",
    "staff.clinics",
    "staff.clinic_edit",
    "staff.audit_submission",
    "staff.audit_activity",
    "staff.api_tokens",
    "staff.api_token_new",
}


def url_for_rule(rule) -> str:
    return (
        rule.rule.replace("<step_id>", "about-you")
        .replace("<token>", "x")
        .replace("<path:filename>", "css/app.css")
        .replace("<int:user_id>", "1")
        .replace("<int:clinic_id>", "1")
        .replace("<public_id>", "0" * 32)
    )


def submit_for(app, clinic_name: str | None = None) -> Submission:
    """A patient sends the baseline answers (choosing ``clinic_name`` when there is a choice)."""
    return send_directly(app, BASELINE, CONTACT, clinic=clinic_name)


def test_anonymous_requests_to_every_non_public_endpoint_go_to_sign_in(app, client):
    checked = 0
    for rule in app.url_map.iter_rules():
        if is_public(app, rule.endpoint):
            continue
        for method in ("GET", "POST"):
            if method not in rule.methods:
                continue
            response = client.open(url_for_rule(rule), method=method)
            if authenticates_itself(app, rule.endpoint):
                # Bearer tokens instead of a sign-in (tests/fhir/test_api.py).
                assert response.status_code == 401, (rule.rule, method)
                continue
            assert response.status_code in (302, 400), (rule.rule, method, response.status_code)
            if response.status_code == 302:
                assert response.headers["Location"].startswith("/staff/login"), rule.rule
            checked += 1
    assert checked >= 15


@pytest.mark.parametrize("role", ["intake", "clinician", "admin"])
def test_each_role_gets_only_its_pages(app, clock, role):
    account = make_staff(app, f"{role}.person", role, clinics=["North Clinic"])
    client = StaffClient(app.test_client())
    client.sign_in(account)
    for rule in app.url_map.iter_rules():
        if (
            is_public(app, rule.endpoint)
            or "GET" not in rule.methods
            or not rule.rule.startswith("/staff")
        ):
            continue
        if rule.endpoint in (
            "staff.login",
            "staff.second_factor",
            "staff.enrol",
            "staff.reauthenticate",
        ):
            continue
        response = client.client.get(url_for_rule(rule))
        if "<public_id>" in rule.rule:
            assert response.status_code == 404  # no such submission
        elif rule.endpoint == "staff.export" and role == "clinician":
            assert response.status_code == 403  # clinicians print; intake and admins export
        elif rule.endpoint in ADMIN_ONLY and role != "admin":
            assert response.status_code == 403, rule.endpoint
        else:
            assert response.status_code == 200, (rule.endpoint, response.status_code)
    with app.app_context():
        denied = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "authz.denied")
        ).all()
    assert (len(denied) > 0) is (role != "admin")


def test_staff_see_only_their_clinics_submissions(app, clock):
    with app.app_context():
        accounts.create_clinic("South Clinic")
        db.session.commit()
    north = submit_for(app, "North Clinic")
    south = submit_for(app, "South Clinic")
    assert north.clinic_id != south.clinic_id
    nurse = make_staff(app, "nora", "intake", clinics=["North Clinic"])
    boss = make_staff(app, "bea", "admin")
    client = StaffClient(app.test_client())
    client.sign_in(nurse)
    queue = client.get("/staff/").get_data(as_text=True)
    assert north.reference in queue and south.reference not in queue
    assert client.get(f"/staff/submissions/{north.public_id}").status_code == 200
    assert client.get(f"/staff/submissions/{south.public_id}").status_code == 404
    admin = StaffClient(app.test_client())
    clock.shift(30)
    admin.sign_in(boss)
    assert admin.get(f"/staff/submissions/{south.public_id}").status_code == 200


def test_with_one_clinic_submissions_go_to_it_without_asking(app, clock):
    with app.app_context():
        only = accounts.clinic_by_name("North Clinic")
        only_id = only.id
    patient = Patient(app.test_client())
    assert 'name="clinic"' not in patient.get("/step/about-you").get_data(as_text=True)
    item = submit_for(app)
    assert item.clinic_id == only_id


def test_viewing_a_submission_is_audited_before_it_is_shown(app, clock, monkeypatch):
    account = make_staff(app, "vic", "clinician", clinics=["North Clinic"])
    item = submit_for(app)
    client = StaffClient(app.test_client())
    client.sign_in(account)
    page = client.get(f"/staff/submissions/{item.public_id}").get_data(as_text=True)
    assert "Alex Example" in page and "R01_CAUDA" not in page
    with app.app_context():
        rows = audit.for_submission(item.id)
    assert [(r.action, r.actor_name, r.outcome) for r in rows] == [
        ("submission.view", "vic", "success")
    ]

    # No audit, no patient data: when the audit write fails the page is a 503.
    def broken(*args, **kwargs):
        raise audit.AuditError("disk full")

    monkeypatch.setattr(audit, "record", broken)
    response = client.get(f"/staff/submissions/{item.public_id}")
    assert response.status_code == 503
    assert "Alex Example" not in response.get_data(as_text=True)


def test_account_management_needs_a_fresh_password_and_code(app, clock):
    boss = make_staff(app, "bea", "admin")
    client = StaffClient(app.test_client())
    client.sign_in(boss)
    assert client.get("/staff/admin/users/new").status_code == 200  # just signed in
    clock.shift(timedelta(minutes=11))
    response = client.get("/staff/admin/users/new")
    assert response.headers["Location"].startswith("/staff/confirm")
    client.get(response.headers["Location"])
    clock.shift(30)
    response = client.post(
        "/staff/confirm?next=/staff/admin/users/new",
        {"password": boss.password, "code": boss.code()},
    )
    assert response.headers["Location"] == "/staff/admin/users/new"
    client.get("/staff/admin/users/new")
    response = client.post(
        "/staff/admin/users/new",
        {
            "username": "newbie",
            "full_name": "New Bie",
            "role": "intake",
            "password": "a fresh green meadow",
        },
    )
    assert response.status_code == 302
    with app.app_context():
        actions = [e.action for e in db.session.scalars(select(AuditEvent))]
    assert "account.create" in actions and "auth.reauthenticate" in actions


def test_admin_resets_a_second_factor_and_the_person_enrols_again(app, clock):
    boss = make_staff(app, "bea", "admin")
    worker = make_staff(app, "wes", "intake")
    admin = StaffClient(app.test_client())
    admin.sign_in(boss)
    admin.get("/staff/admin/users")
    assert admin.post(f"/staff/admin/users/{worker.id}/reset-code", {}).status_code == 302
    client = StaffClient(app.test_client())
    client.get("/staff/login")
    response = client.post("/staff/login", {"username": "wes", "password": worker.password})
    assert response.headers["Location"].endswith("/staff/enrol")


def test_audit_reports_show_who_touched_what_and_are_audited(app, clock):
    boss = make_staff(app, "bea", "admin")
    reader = make_staff(app, "rue", "clinician", clinics=["North Clinic"])
    item = submit_for(app)
    client = StaffClient(app.test_client())
    client.sign_in(reader)
    client.get(f"/staff/submissions/{item.public_id}")
    admin = StaffClient(app.test_client())
    clock.shift(30)
    admin.sign_in(boss)
    page = admin.get(f"/staff/admin/audit/submission?reference={item.reference}").get_data(
        as_text=True
    )
    assert "rue" in page and "submission.view" in page
    day = clock_day()
    page = admin.get(
        f"/staff/admin/audit/activity?user={reader.id}&start={day}&end={day}"
    ).get_data(as_text=True)
    assert "auth.login" in page and "submission.view" in page
    with app.app_context():
        viewed = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "audit.view")
        ).all()
    assert len(viewed) == 2


def clock_day() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d")


def test_emergency_access_is_time_boxed_flagged_and_reviewed(app, clock):
    with app.app_context():
        accounts.create_clinic("South Clinic")
        db.session.commit()
    south = submit_for(app, "South Clinic")
    nurse = make_staff(app, "nora", "intake", clinics=["North Clinic"])
    boss = make_staff(app, "bea", "admin")
    client = StaffClient(app.test_client())
    client.sign_in(nurse)
    url = f"/staff/submissions/{south.public_id}"
    assert client.get(url).status_code == 404
    # A reason is required.
    client.get("/staff/emergency-access")
    assert client.post("/staff/emergency-access", {"reason": "x"}).status_code == 200
    reason = "Covering for South Clinic while their nurse is away"
    assert client.post("/staff/emergency-access", {"reason": reason}).status_code == 303
    page = client.get(url)
    assert page.status_code == 200 and "Emergency access is on" in page.get_data(as_text=True)
    with app.app_context():
        views = [e for e in audit.for_submission(south.id) if e.action == "submission.view"]
    assert views and views[-1].detail and "break_glass" in views[-1].detail
    # It ends by itself after the window.
    for _ in range(7):  # an hour and ten minutes of activity (no idle sign-out)
        clock.shift(timedelta(minutes=10))
        assert client.get("/staff/").status_code == 200
    assert client.get(url).status_code == 404
    # Administrators see who used it and why.
    admin = StaffClient(app.test_client())
    admin.sign_in(boss)
    assert reason in admin.get("/staff/admin/audit/submission").get_data(as_text=True)


def test_authorization_fails_closed_and_is_audited(app, clock, monkeypatch):
    account = make_staff(app, "fay", "intake", clinics=["North Clinic"])
    client = StaffClient(app.test_client())
    client.sign_in(account)

    def broken(user, permission):
        raise RuntimeError("role store unavailable")

    monkeypatch.setattr(access, "has_permission", broken)
    response = client.get("/staff/")
    assert response.status_code == 403
    with app.app_context():
        errors = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "authz.error")
        ).all()
    assert len(errors) == 1 and errors[0].outcome == "error"


def test_a_staff_post_without_a_csrf_token_is_refused_and_audited(app, clock):
    account = make_staff(app, "cal", "intake", clinics=["North Clinic"])
    client = StaffClient(app.test_client())
    client.sign_in(account)
    response = client.client.post("/staff/keepalive")
    assert response.status_code == 400
    with app.app_context():
        rows = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "authz.csrf_failed")
        ).all()
    assert [(r.actor_name, r.outcome) for r in rows] == [("cal", "denied")]
