"""The CSV export: opens right in Excel, in words by default, on the clinic's clock.

UTF-8 with a byte-order mark, two header rows (labels, then field names and question
ids), values in words unless codes are chosen, times and the date range on the clinic's
calendar, the last 30 days by default, and no cell a spreadsheet would run as a formula.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from screening.audit import AuditEvent
from screening.extensions import db
from screening.models import readable_code
from screening.staff import accounts
from screening.staff.exports import neutralise
from tests.staff.helpers import StaffClient, make_staff
from tests.staff.test_workflow import send
from tests.test_summaries import make_submission

CLINIC = "North Clinic"
#: 10:00 AM on Monday 23 November 2026 in New York (the clock fixture's START).
NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
BOM = b"\xef\xbb\xbf"


def store(app, at: datetime, name: str = "V01", clinic: str = CLINIC, **personal) -> str:
    """Save a scored vignette sent at ``at`` (UTC) to ``clinic``; return its reference."""
    submission = make_submission(name)
    submission.reference = readable_code()
    submission.submit_key = readable_code(4, 4)
    submission.started_at = at - timedelta(minutes=20)
    submission.submitted_at = at
    submission.personal = {**submission.personal, **personal}
    reference = submission.reference
    with app.app_context():
        submission.clinic = accounts.clinic_by_name(clinic) or accounts.create_clinic(clinic)
        db.session.add(submission)
        db.session.commit()
    return reference


def sign_in(app, username="ivy", role="intake", clinics=(CLINIC,)) -> StaffClient:
    client = StaffClient(app.test_client())
    client.sign_in(make_staff(app, username, role, clinics=list(clinics)))
    return client


@pytest.fixture()
def desk(app, clock):
    """An intake worker of the clinic, signed in."""
    return sign_in(app)


def export(client: StaffClient, start: str, end: str, **extra):
    client.get("/staff/export")
    response = client.post("/staff/export", {"start": start, "end": end, **extra})
    assert response.status_code == 200, response.get_data(as_text=True)[:2000]
    assert response.mimetype == "text/csv"
    return response


def table(response) -> tuple[list[str], list[str], list[dict[str, str]]]:
    """Labels, field names, and the rows by field name (decoded as Excel does)."""
    labels, fields, *rows = csv.reader(io.StringIO(response.data.decode("utf-8-sig")))
    return labels, fields, [dict(zip(fields, row, strict=True)) for row in rows]


def set_zone(app, zone: str, clinic: str = CLINIC) -> None:
    with app.app_context():
        (accounts.clinic_by_name(clinic) or accounts.create_clinic(clinic)).timezone = zone
        db.session.commit()


# ------------------------------------------------------------------ the file


def test_utf8_with_a_bom_two_header_rows_and_names_that_round_trip(app, desk):
    reference = store(app, NOW, full_name="María José Hernández")
    response = export(desk, "2026-11-23", "2026-11-23")
    assert response.data.startswith(BOM)
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert "María José Hernández".encode() in response.data
    labels, fields, rows = table(response)
    assert labels[:3] == ["Reference", "Received (Eastern time)", "Clinic"]
    assert fields[:3] == ["reference", "submitted_at", "clinic"]
    assert labels[fields.index("bt")] == "Blood thinners" and "tx_pt_effect" in fields
    assert len(labels) == len(fields) == len(rows[0])
    assert [row["reference"] for row in rows] == [reference]
    assert rows[0]["full_name"] == "María José Hernández"
    # The header names the file's columns in the order the rows give them.
    assert rows[0]["clinic"] == CLINIC and rows[0]["age"] == "45"


def test_values_are_words_by_default_and_codes_when_chosen(app, desk):
    store(app, NOW, name="V09")  # seek care within 24 hours
    _, _, (words,) = table(export(desk, "2026-11-23", "2026-11-23"))
    assert words["outcome"] == "Seek care" and words["care_level"] == "within 24 hours"
    assert words["status"] == "New" and words["blocking_contraindication"] == "No"
    assert words["bt"] == "None of these" and words["dur"] == "3 to 12 months"
    assert words["regions"] == "Lower back, left side; Thigh, left; Lower leg and foot, left"
    assert words["language"] == "English" and words["best_time"] == "Morning (8 am to 12 pm)"

    _, _, (codes,) = table(export(desk, "2026-11-23", "2026-11-23", values="codes"))
    assert codes["outcome"] == "SEEK_CARE" and codes["care_level"] == "PROMPT"
    assert codes["status"] == "new" and codes["bt"] == "bt_none" and codes["dur"] == "m3_12"
    assert codes["regions"] == "lower_back_l;thigh_l;lower_leg_foot_l" and codes["language"] == "en"
    assert codes["best_time"] == "morning" and codes["blocking_contraindication"] == "False"
    # Either way the rules are ids and the times the clinic's.
    assert codes["fired_rules"] == words["fired_rules"]
    assert "R06_NEURO_DEFICIT" in codes["fired_rules"].split(";")
    assert codes["submitted_at"] == words["submitted_at"] == "2026-11-23 10:00"

    desk.get("/staff/export")
    refused = desk.post(
        "/staff/export", {"start": "2026-11-23", "end": "2026-11-23", "values": "x"}
    )
    assert refused.status_code == 400 and refused.mimetype == "text/html"
    assert "Choose words or codes." in refused.get_data(as_text=True)


def test_dates_are_the_clinics_calendar_days_and_times_its_clock(app, clock):
    set_zone(app, "America/Los_Angeles")
    desk = sign_in(app)
    # 23 Nov, 10:30 PM in Los Angeles is already 24 Nov in UTC; 23 Nov 11:30 PM UTC is
    # still 23 Nov there; 24 Nov 08:30 UTC is 12:30 AM on 24 Nov there.
    late = store(app, datetime(2026, 11, 24, 6, 30, tzinfo=UTC))
    evening = store(app, datetime(2026, 11, 23, 23, 30, tzinfo=UTC))
    store(app, datetime(2026, 11, 24, 8, 30, tzinfo=UTC))
    store(app, datetime(2026, 11, 23, 7, 30, tzinfo=UTC))  # 22 Nov, 11:30 PM there
    labels, _, rows = table(export(desk, "2026-11-23", "2026-11-23"))
    assert labels[1] == "Received (Pacific time)"
    assert [(r["reference"], r["submitted_at"]) for r in rows] == [
        (evening, "2026-11-23 15:30"),
        (late, "2026-11-23 22:30"),
    ]


def test_an_administrator_sees_one_zone_for_all_clinics(app, clock):
    set_zone(app, "America/Chicago")
    set_zone(app, "America/Chicago", clinic="South Clinic")
    store(app, NOW, clinic="South Clinic")
    boss = sign_in(app, "ada", "admin", clinics=())
    labels, _, rows = table(export(boss, "2026-11-23", "2026-11-23"))
    assert labels[1] == "Received (Central time)" and rows[0]["submitted_at"] == "2026-11-23 09:00"
    # Clinics in different zones: the app's default zone, named in the header.
    set_zone(app, "America/Denver", clinic="South Clinic")
    labels, _, _ = table(export(boss, "2026-11-23", "2026-11-23"))
    assert labels[1] == "Received (Eastern time)"


def test_the_default_range_is_the_last_30_days_on_the_clinics_calendar(app, clock):
    # 03:00 UTC on 24 Nov is still 23 Nov in New York: "today" is the clinic's day.
    clock.move_to(datetime(2026, 11, 24, 3, 0, tzinfo=UTC))
    desk = sign_in(app)
    page = desk.get("/staff/export").get_data(as_text=True)
    values = dict(re.findall(r'name="(start|end)"[^>]*value="([^"]+)"', page))
    assert values == {"start": "2026-10-24", "end": "2026-11-23"}
    assert re.search(r'checked[^>]*value="words"|value="words"[^>]*checked', page)
    assert "Eastern time (America/New_York)" in page
    first_day = datetime(2026, 10, 24, 4, 0, tzinfo=UTC)  # midnight, New York (EDT)
    inside = [store(app, first_day), store(app, datetime(2026, 11, 24, 2, 0, tzinfo=UTC))]
    store(app, first_day - timedelta(minutes=1))
    _, _, rows = table(export(desk, values["start"], values["end"]))
    assert [row["reference"] for row in rows] == inside
    assert date.fromisoformat(values["end"]) - date.fromisoformat(values["start"]) == timedelta(
        days=30
    )


# ------------------------------------------------------------------ formulas


@pytest.mark.parametrize(
    "value",
    ["=1+1", "+cmd", "-2", "@SUM(A1)", "\tx", "\rx", "＝1+1", "＋cmd", "－2", "＠SUM(A1)", "﹦1"],
)
def test_export_cells_cannot_run_as_formulas(value):
    assert neutralise(value) == "'" + value


@pytest.mark.parametrize("value", ["plain", "María", "1-2", "a=b", "", "ａbc"])
def test_ordinary_cells_are_left_alone(value):
    assert neutralise(value) == value


def test_lists_and_blanks():
    assert neutralise(None) == "" and neutralise(["a", "b"]) == "a;b"


# ------------------------------------------------------------------ through the form


def test_export_csv_of_a_date_range_writes_one_audit_row(app, desk, clock):
    item = send(
        app, {"goals": '=HYPERLINK("http://evil")'}, contact={"full_name": "＠Mallory Example"}
    )
    later = send(app)
    _, _, rows = table(export(desk, "2026-11-23", "2026-11-23"))
    assert [r["reference"] for r in rows] == [item.reference, later.reference]
    assert rows[0]["goals"] == '\'=HYPERLINK("http://evil")'
    assert rows[0]["full_name"] == "'＠Mallory Example"
    assert rows[0]["peg_p"] == "6"
    with app.app_context():
        exports = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "submission.export")
        ).all()
    assert len(exports) == 1 and sorted(exports[0].detail["ids"]) == sorted([item.id, later.id])


def test_clinicians_cannot_export(app, clock):
    client = sign_in(app, "cleo", "clinician")
    assert client.get("/staff/export").status_code == 403
