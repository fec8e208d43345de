"""Bounded parsing: numbers and dates held to their real ranges, and
``next`` addresses with control characters refused.

Each case here was a 500 on SQLite, PostgreSQL or both: an id past the database's INTEGER
(``OverflowError`` on SQLite, ``NumericValueOutOfRange`` on PostgreSQL), a day whose next
day does not exist (``9999-12-31``), a ``next`` with a newline (refused by the response
header) or a tab (which browsers drop, turning ``/\\t/evil.example`` into
``//evil.example``). tests/test_hostile_input.py throws generated values at every route.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from urllib.parse import urlencode

import pytest
from sqlalchemy import select

from screening import bounds
from screening.extensions import db
from screening.models import StaffUser, Submission
from screening.security import safe_next
from screening.staff import accounts
from tests.staff.helpers import StaffClient, make_staff
from tests.staff.test_exports import store

HUGE = "9" * 30
#: Just past PostgreSQL's INTEGER, and past SQLite's 64-bit integer.
OVER_INT = str(2**31)
OVER_BIGINT = "9" * 23


def signed_in(app, username: str, role: str, clinics=("North Clinic",)) -> StaffClient:
    client = StaffClient(app.test_client())
    client.sign_in(make_staff(app, username, role, clinics=list(clinics)))
    return client


def public_id_of(app, reference: str) -> str:
    with app.app_context():
        return db.session.scalar(
            select(Submission.public_id).where(Submission.reference == reference)
        )


# ------------------------------------------------------------------ the helpers


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1", 1),
        ("0042", 42),
        (str(bounds.ID_MAX), bounds.ID_MAX),
        (OVER_INT, None),
        (OVER_BIGINT, None),
        (HUGE, None),
        ("9" * 5000, None),  # int() itself refuses over 4300 digits
        ("0", None),
        ("-1", None),
        ("+1", None),
        (" 1", None),
        ("1.0", None),
        ("١٢", None),  # Arabic-Indic digits: isdigit() says yes, the database would not
        ("²", None),
        ("", None),
        (None, None),
        (True, None),
        (7, 7),
        (2**40, None),
    ],
)
def test_record_id_accepts_only_ids_the_database_can_hold(text, expected):
    assert bounds.record_id(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-30", date(2026, 11, 30)),
        ("2000-01-01", bounds.FIRST_DAY),
        ("2100-12-31", bounds.LAST_DAY),
        ("1999-12-31", None),
        ("2101-01-01", None),
        ("9999-12-31", None),
        ("0001-01-01", None),
        ("2026-02-30", None),
        ("2026-1-1", None),
        ("２０２６-１１-３０", None),
        ("2026-11-30\n", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_day_accepts_only_days_in_the_window(text, expected):
    assert bounds.parse_day(text) == expected


# ------------------------------------------------------------------ ids


def test_a_30_digit_assignee_is_refused_with_a_message(app, clock):
    desk = signed_in(app, "ivy", "intake")
    public_id = public_id_of(app, store(app, datetime(2026, 11, 23, 14, tzinfo=UTC)))
    url = f"/staff/submissions/{public_id}"
    desk.get(url)
    for assignee in (HUGE, OVER_INT, OVER_BIGINT, "-1", "1e3", "١"):
        response = desk.post(f"{url}/assign", {"assignee": assignee, "version": HUGE})
        assert response.status_code == 400, assignee
        assert "Choose a staff member from the list." in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(Submission.assigned_to_id)) is None


def test_a_huge_version_is_a_conflict_not_a_crash(app, clock):
    desk = signed_in(app, "ivy", "intake")
    public_id = public_id_of(app, store(app, datetime(2026, 11, 23, 14, tzinfo=UTC)))
    desk.get(f"/staff/submissions/{public_id}")
    response = desk.post(
        f"/staff/submissions/{public_id}/status", {"status": "in_review", "version": HUGE}
    )
    assert response.status_code == 409


@pytest.mark.parametrize("user_id", [OVER_BIGINT, OVER_INT, HUGE])
@pytest.mark.parametrize("action", ["disable", "reset-code"])
def test_a_23_digit_user_id_on_disabling_an_account_is_not_found(app, clock, user_id, action):
    admin = signed_in(app, "ada", "admin", clinics=())
    admin.get("/staff/admin/users")
    # The URL converter refuses it: no such account, as for any id that names nobody.
    response = admin.post(f"/staff/admin/users/{user_id}/{action}", {})
    assert response.status_code == 404
    with app.app_context():
        assert db.session.scalar(select(StaffUser.active).where(StaffUser.username == "ada"))


def test_huge_clinic_ids_in_urls_and_forms_get_a_message_or_not_found(app, clock):
    admin = signed_in(app, "ada", "admin", clinics=())
    assert admin.get(f"/staff/admin/clinics/{OVER_BIGINT}").status_code == 404
    admin.get("/staff/admin/clinics")
    assert admin.post(f"/staff/admin/clinics/{OVER_INT}/active", {"active": "1"}).status_code == (
        404
    )
    # Moving a submission to a clinic that cannot exist: a message next to the choice.
    public_id = public_id_of(app, store(app, datetime(2026, 11, 23, 14, tzinfo=UTC)))
    admin.get(f"/staff/submissions/{public_id}")
    moved = admin.post(
        f"/staff/submissions/{public_id}/clinic",
        {"clinic": OVER_BIGINT, "reason": "Patient moved", "version": "1"},
    )
    assert moved.status_code == 400
    assert "Choose a clinic from the list." in moved.get_data(as_text=True)


def test_a_new_account_with_a_huge_clinic_id_gets_a_message(app, clock):
    admin = signed_in(app, "ada", "admin", clinics=())
    admin.get("/staff/admin/users/new")
    response = admin.post(
        "/staff/admin/users/new",
        [
            ("username", "nia"),
            ("full_name", "Nia Nurse"),
            ("role", "intake"),
            ("clinics", OVER_BIGINT),
            ("password", "a long enough first password"),
        ],
    )
    assert response.status_code == 400
    assert "Choose clinics from the list." in response.get_data(as_text=True)
    with app.app_context():
        assert accounts.clinic_by_name("North Clinic") is not None
        assert db.session.scalar(select(StaffUser).where(StaffUser.username == "nia")) is None


# ------------------------------------------------------------------ dates


@pytest.mark.parametrize(
    ("start", "end"),
    [("2026-11-01", "9999-12-31"), ("0001-01-01", "2026-11-30"), ("2026-11-01", "2026-13-01")],
)
def test_export_end_9999_12_31_is_refused_next_to_the_field(app, clock, start, end):
    desk = signed_in(app, "ivy", "intake")
    desk.get("/staff/export")
    response = desk.post("/staff/export", {"start": start, "end": end, "values": "words"})
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and response.mimetype == "text/html"
    assert bounds.DAY_MESSAGE in page and "form-group--error" in page
    # What was typed comes back.
    assert f'value="{end}"' in page and f'value="{start}"' in page


def test_audit_activity_end_9999_12_31_is_refused_next_to_the_field(app, clock):
    admin = signed_in(app, "ada", "admin", clinics=())
    with app.app_context():
        ada = db.session.scalar(select(StaffUser.id).where(StaffUser.username == "ada"))
    for query in (
        f"user={ada}&start=2026-11-01&end=9999-12-31",
        f"user={ada}&start=0001-01-01&end=0001-01-02",
        f"user={ada}&start=2026-11-01&end=2026-11-31",
    ):
        response = admin.get(f"/staff/admin/audit/activity?{query}")
        page = response.get_data(as_text=True)
        assert response.status_code == 400, query
        assert bounds.DAY_MESSAGE in page and "form-group--error" in page
    # An id that cannot be anyone's: a message next to the choice.
    response = admin.get(f"/staff/admin/audit/activity?user={HUGE}&start=2026-11-01&end=2026-11-30")
    assert response.status_code == 400
    assert "Choose a staff member from the list." in response.get_data(as_text=True)
    # The last day before the first: said so.
    response = admin.get(f"/staff/admin/audit/activity?user={ada}&start=2026-11-30&end=2026-11-01")
    assert response.status_code == 400
    assert "on or after the first day" in response.get_data(as_text=True)
    # In range, it works.
    ok = admin.get(f"/staff/admin/audit/activity?user={ada}&start=2026-11-23&end=2026-11-23")
    assert ok.status_code == 200 and "auth.login" in ok.get_data(as_text=True)


def test_queue_dates_out_of_range_are_named_and_the_rest_still_lists(app, clock):
    desk = signed_in(app, "ivy", "intake")
    store(app, datetime(2026, 11, 23, 14, tzinfo=UTC))
    response = desk.get("/staff/?from=0001-01-01&to=9999-12-31&assigned=" + HUGE)
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert page.count(bounds.DAY_MESSAGE) == 2 and 'aria-describedby="f-to-error"' in page
    assert "1 submission." in page
    assert desk.get("/staff/?from=2026-11-23&to=2026-11-23").status_code == 200
    backwards = desk.get("/staff/?from=2026-11-23&to=2026-11-01")
    assert backwards.status_code == 400
    assert "on or after the first day" in backwards.get_data(as_text=True)


# ------------------------------------------------------------------ next


HOSTILE_NEXT = [
    "/\t/evil.example",
    "/\n/evil.example",
    "/\r\n/evil.example",
    "/\x00/evil.example",
    "/\x0b/evil.example",
    "/\x7f/evil.example",
    "/\x85/evil.example",  # C1 NEXT LINE
    "/\u2028/evil.example",
    "/\\evil.example",
    "/\t\\evil.example",
    "\\/evil.example",
    "/\uff0fevil.example",  # full-width solidus
    "/ /evil.example",
    "//evil.example",
    "https://evil.example",
    "javascript:alert(1)",
    "/" + "a" * 2000,
]


@pytest.mark.parametrize("target", HOSTILE_NEXT)
def test_safe_next_refuses_control_characters_and_other_hosts(target):
    assert safe_next(target, "/fallback") == "/fallback"


@pytest.mark.parametrize("target", ["/staff/", "/staff/?view=all&from=2026-11-01", "/review"])
def test_safe_next_keeps_local_paths(target):
    assert safe_next(target, "/fallback") == target


@pytest.mark.parametrize("target", HOSTILE_NEXT)
def test_language_switch_refuses_next_with_control_characters(client, target):
    page = StaffClient(client)
    page.get("/")
    response = page.post("/language", {"lang": "es", "next": target})
    assert response.status_code == 303
    assert response.headers["Location"] == "/"


def test_language_switch_still_returns_to_a_local_page(client):
    page = StaffClient(client)
    page.get("/")
    response = page.post("/language", {"lang": "es", "next": "/review"})
    assert response.status_code == 303 and response.headers["Location"] == "/review"


@pytest.mark.parametrize("target", ["/\t/evil.example", "/\n/evil.example", "/\x85/evil.example"])
def test_staff_sign_in_and_confirm_refuse_next_with_control_characters(app, clock, target):
    account = make_staff(app, "ivy", "intake", clinics=["North Clinic"])
    client = StaffClient(app.test_client())
    assert client.get("/staff/login", query_string={"next": target}).status_code == 200
    client.post("/staff/login", {"username": account.username, "password": account.password})
    client.get("/staff/code")
    response = client.post("/staff/code", {"code": account.code()})
    assert response.status_code == 302 and response.headers["Location"] == "/staff/"
    clock.shift(30)
    client.get("/staff/confirm", query_string={"next": target})
    response = client.post(
        "/staff/confirm?" + urlencode({"next": target}),
        {"password": account.password, "code": account.code()},
    )
    assert response.status_code == 302 and response.headers["Location"] == "/staff/"
