"""A clinic's day at the front desk: clinics, open work first, clinic time, one timeline.

Every submission has a clinic; forms left without one by earlier versions reach the
administrators; the queue opens on open work with waiting times and targets; every time
is on the clinic's clock; roles do what the README says.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from screening.audit import AuditEvent
from screening.clinics import Hours
from screening.extensions import db
from screening.models import Clinic, Draft, Submission, SubmissionChange
from screening.staff import accounts
from tests.factories import CONTACT, answers
from tests.patient_client import Patient, clinic_today
from tests.staff.helpers import StaffClient, make_staff
from tests.staff.test_workflow import references, send, timeline


def signed_in(app, clock, username: str, role: str, clinics=("North Clinic",)) -> StaffClient:
    account = make_staff(app, username, role, clinics=clinics)
    client = StaffClient(app.test_client())
    clock.shift(30)  # a fresh TOTP code for each sign-in
    client.sign_in(account)
    client.account = account
    return client


def queue_after(clock, client: StaffClient, wait: timedelta) -> str:
    """The queue page after ``wait`` (signing in again: staff sessions end when idle)."""
    clock.shift(wait)
    client.sign_in(client.account)
    return client.get("/staff/").get_data(as_text=True)


def row_of(page: str, reference: str) -> str:
    return page.split(reference, 1)[1].split("</tr>", 1)[0]


def version_of(html: str) -> str:
    return re.search(r'name="version" value="(\d+)"', html).group(1)


def set_status(app, item: Submission, status: str) -> None:
    with app.app_context():
        db.session.execute(
            update(Submission)
            .where(Submission.id == item.id)
            .values(status=status, is_open=status not in ("closed", "not_proceeding"))
        )
        db.session.commit()


# ------------------------------------------------------------------ no submission without a clinic


def test_with_no_active_clinic_the_form_does_not_start(make_app):
    app = make_app(clinic=None)
    patient = Patient(app.test_client())
    page = patient.get("/").get_data(as_text=True)
    assert "This form is not open yet" in page and "Start now" not in page
    assert 'href="tel:911"' in page or "911" in page  # the emergency notice stays
    step = patient.get("/step/about-you")
    assert "This form is not open yet" in step.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(Submission.id)) is None


def test_a_page_sent_as_the_last_clinic_retires_is_saved_not_lost(app, clock):
    patient = Patient(app.test_client())
    patient.complete(answers(), clinic_today(app), CONTACT)
    patient.get("/step/goals")  # the page is open in the browser...
    with app.app_context():  # ...when the only clinic is retired
        accounts.set_clinic_active(accounts.clinic_by_name("North Clinic"), False)
        db.session.commit()
    response = patient.post("/step/goals", {"goals": "Sleep through the night"})
    assert response.status_code == 303  # saved, then on to the next page
    closed = patient.get(response.headers["Location"]).get_data(as_text=True)
    assert "This form is not open yet" in closed and "still saved" in closed
    sent = patient.post("/submit", {"consent": "y"})
    assert "This form is not open yet" in sent.get_data(as_text=True)
    with app.app_context():
        draft = db.session.scalar(select(Draft))
        assert draft.answers["goals"] == "Sleep through the night"
        assert db.session.scalar(select(Submission.id)) is None


def test_a_retired_clinic_takes_no_new_forms_and_its_work_stays_visible(app, clock):
    item = send(app)
    boss = signed_in(app, clock, "bea", "admin")
    with app.app_context():
        north = accounts.clinic_by_name("North Clinic")
    response = boss.post(f"/staff/admin/clinics/{north.id}/active", {"active": "0"})
    assert response.status_code == 303
    patient = Patient(app.test_client())
    assert "This form is not open yet" in patient.get("/").get_data(as_text=True)
    nurse = signed_in(app, clock, "nora", "intake")
    assert item.reference in references(nurse.get("/staff/").get_data(as_text=True))
    boss.get("/staff/admin/clinics")
    assert boss.post(f"/staff/admin/clinics/{north.id}/active", {"active": "1"}).status_code == 303
    assert "Start now" in Patient(app.test_client()).get("/").get_data(as_text=True)
    with app.app_context():
        actions = db.session.scalars(
            select(AuditEvent.action).where(AuditEvent.action.like("clinic.%"))
        ).all()
    assert actions == ["clinic.retire", "clinic.reactivate"]


def test_forms_without_a_clinic_reach_admins_who_move_them_with_a_reason(app, clock):
    item = send(app, {"rf_chest": "yes"})
    with app.app_context():
        # As stored by an earlier version, before any clinic existed.
        db.session.execute(update(Submission).values(clinic_id=None))
        south = accounts.create_clinic("South Clinic")
        south_id = south.id
        db.session.commit()
    nurse = signed_in(app, clock, "nora", "intake", clinics=("South Clinic",))
    assert item.reference not in nurse.get("/staff/").get_data(as_text=True)
    boss = signed_in(app, clock, "bea", "admin")
    queue = boss.get("/staff/").get_data(as_text=True)
    assert "Unassigned: no clinic (1)" in queue
    orphans = queue.split('id="orphans-title"', 1)[1].split("</section>", 1)[0]
    assert item.reference in orphans

    url = f"/staff/submissions/{item.public_id}"
    page = boss.get(url).get_data(as_text=True)
    # No reason: refused next to the field, with the summary at the top, choice kept.
    refused = boss.post(
        f"{url}/clinic", {"clinic": str(south_id), "reason": " ", "version": version_of(page)}
    )
    assert refused.status_code == 400
    body = refused.get_data(as_text=True)
    assert "There is a problem" in body and "Write why it moves" in body
    assert f'<option selected value="{south_id}">' in body
    moved = boss.post(
        f"{url}/clinic",
        {
            "clinic": str(south_id),
            "reason": "Patient lives near South",
            "version": version_of(page),
        },
    )
    assert moved.status_code == 303
    lines = timeline(boss.get(url).get_data(as_text=True))
    assert "Moved to South Clinic from no clinic" in lines[0]
    assert "Patient lives near South" in lines[0]
    assert "Unassigned: no clinic" not in boss.get("/staff/").get_data(as_text=True)
    assert item.reference in references(nurse.get("/staff/").get_data(as_text=True))
    with app.app_context():
        event = db.session.scalar(
            select(AuditEvent).where(AuditEvent.action == "submission.move_clinic")
        )
        assert event.target == "South Clinic" and event.detail["reason"] == (
            "Patient lives near South"
        )


def test_only_admins_may_move_a_submission(app, clock):
    item = send(app)
    nurse = signed_in(app, clock, "nora", "intake")
    url = f"/staff/submissions/{item.public_id}"
    page = nurse.get(url).get_data(as_text=True)
    assert "Move to another clinic" not in page
    response = nurse.post(f"{url}/clinic", {"clinic": "1", "reason": "x", "version": "1"})
    assert response.status_code == 403


def test_clinic_edit_page_and_cli(app, clock, runner):
    boss = signed_in(app, clock, "bea", "admin")
    with app.app_context():
        north = accounts.clinic_by_name("North Clinic")
    url = f"/staff/admin/clinics/{north.id}"
    boss.get(url)
    form = {
        "name": "North Clinic",
        "phone": "(555) 010-2030",
        "address": "1 Main St\nSpringfield",
        "open_days": ["0", "1", "2", "3"],
        "opens_at": "9:00",
        "closes_at": "08:00",
        "timezone": "America/Chicago",
        "patient_note": "Park behind the building.",
    }
    refused = boss.post(url, form)
    assert refused.status_code == 400
    page = refused.get_data(as_text=True)
    assert "The closing time must be after the opening time." in page
    assert "Park behind the building." in page and "(555) 010-2030" in page  # kept
    assert boss.post(url, {**form, "closes_at": "17:30"}).status_code == 303
    listing = boss.get("/staff/admin/clinics").get_data(as_text=True)
    assert "Monday to Thursday, 9:00 AM to 5:30 PM" in listing
    assert "Central time (America/Chicago)" in listing
    result = runner.invoke(
        args=["clinic", "edit", "North Clinic", "--rename", "North Side Clinic", "--days", "01234"]
    )
    assert result.exit_code == 0, result.output
    result = runner.invoke(args=["clinic", "edit", "North Side Clinic", "--opens", "25:00"])
    assert result.exit_code != 0 and "opens_at" in result.output
    assert runner.invoke(args=["clinic", "retire", "North Side Clinic"]).exit_code == 0
    listed = runner.invoke(args=["clinic", "list"]).output
    assert listed.startswith("North Side Clinic\tretired\t(555) 010-2030\tMonday to Friday")
    assert runner.invoke(args=["clinic", "retire", "North Side Clinic", "--undo"]).exit_code == 0
    assert "\tactive\t" in runner.invoke(args=["clinic", "list"]).output


def test_sample_clinic_is_for_development_only(make_app):
    app = make_app(clinic=None)
    result = app.test_cli_runner().invoke(args=["clinic", "sample"])
    assert result.exit_code != 0 and "development only" in result.output
    app.config["ENVIRONMENT"] = "development"
    runner = app.test_cli_runner()
    assert runner.invoke(args=["clinic", "sample"]).exit_code == 0
    assert runner.invoke(args=["clinic", "sample"]).exit_code == 0  # once only
    with app.app_context():
        names = db.session.scalars(select(Clinic.name)).all()
    assert names == ["Sample Clinic (development only)"]


# ------------------------------------------------------------------ the queue opens on open work


def test_queue_opens_on_open_work_emergencies_first(app, clock):
    old_emergency = send(app, {"rf_chest": "yes"})
    clock.shift(timedelta(minutes=5))
    routine = send(app)
    clock.shift(timedelta(minutes=5))
    prompt = send(app, {"rf_weight": "yes"})
    set_status(app, old_emergency, "closed")
    desk = signed_in(app, clock, "ivy", "intake")
    page = desk.get("/staff/").get_data(as_text=True)
    assert references(page) == [prompt.reference, routine.reference]
    done = desk.get("/staff/?view=done").get_data(as_text=True)
    assert references(done) == [old_emergency.reference]
    everything = desk.get("/staff/?view=all").get_data(as_text=True)
    assert references(everything) == [
        old_emergency.reference,
        prompt.reference,
        routine.reference,
    ]
    # Words, not codes; the zone named once.
    text = re.sub(r"<[^>]+>", " ", page)
    assert "Seek care: within 24 hours" in text and "SEEK_CARE" not in text
    assert "Times are Eastern time (America/New_York)." in page and "UTC" not in page


def test_waiting_time_and_overdue_by_target(app, clock):
    # Monday 23 November 2026, 10:00 in New York.
    emergency = send(app, {"rf_chest": "yes"})
    routine = send(app)
    desk = signed_in(app, clock, "ivy", "intake")
    page = desk.get("/staff/").get_data(as_text=True)
    assert "overdue" not in page
    page = queue_after(clock, desk, timedelta(hours=3))
    assert "3 h" in row_of(page, emergency.reference)
    assert "overdue" in row_of(page, emergency.reference)
    assert "3 h" in row_of(page, routine.reference)
    assert "overdue" not in row_of(page, routine.reference)
    # Three business days of 8 to 5 from Monday 10:00 end on Thursday 10:00.
    page = queue_after(clock, desk, timedelta(days=2, hours=20))  # Thursday 9:00
    assert "overdue" not in row_of(page, routine.reference)
    page = queue_after(clock, desk, timedelta(hours=2))  # Thursday 11:00
    assert "3 days" in row_of(page, routine.reference)
    assert "overdue" in row_of(page, routine.reference)
    # Targets are for the first action: work someone has picked up is never overdue.
    set_status(app, routine, "in_review")
    page = desk.get("/staff/").get_data(as_text=True)
    assert "3 days" in row_of(page, routine.reference)
    assert "overdue" not in row_of(page, routine.reference)


def test_business_days_skip_nights_and_weekends():
    hours = Hours(frozenset(range(5)), *(datetime(2000, 1, 1, h).time() for h in (8, 17)), "UTC")
    friday_evening = datetime(2026, 11, 27, 20, 0, tzinfo=UTC)
    due = hours.add_open_time(friday_evening, hours.day_length)
    assert due == datetime(2026, 11, 30, 17, 0, tzinfo=UTC)  # Monday's closing time
    saturday = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
    assert hours.add_open_time(saturday, timedelta(hours=1)) == datetime(
        2026, 11, 30, 9, 0, tzinfo=UTC
    )
    assert hours.describe() == "Monday to Friday, 8:00 AM to 5:00 PM"


def test_filters_assigned_to_me_unassigned_language_and_clinic_days(app, clock):
    first = send(app)
    # 03:00 UTC on the 24th is 10 pm on the 23rd in New York: the clinic's 23rd.
    clock.move_to(datetime(2026, 11, 24, 3, 0, tzinfo=UTC))
    late = send(app)
    desk = signed_in(app, clock, "ivy", "intake")
    url = f"/staff/submissions/{first.public_id}"
    page = desk.get(url).get_data(as_text=True)
    me = re.search(r'<option value="(\d+)">ivy \(me\)</option>', page).group(1)
    assert (
        desk.post(f"{url}/assign", {"assignee": me, "version": version_of(page)}).status_code == 303
    )
    assert references(desk.get("/staff/?assigned=me").get_data(as_text=True)) == [first.reference]
    assert references(desk.get("/staff/?assigned=none").get_data(as_text=True)) == [late.reference]
    assert references(desk.get("/staff/?language=es").get_data(as_text=True)) == []
    assert len(references(desk.get("/staff/?language=en").get_data(as_text=True))) == 2
    day = desk.get("/staff/?from=2026-11-23&to=2026-11-23").get_data(as_text=True)
    assert sorted(references(day)) == sorted([first.reference, late.reference])
    assert references(desk.get("/staff/?from=2026-11-24").get_data(as_text=True)) == []


# ------------------------------------------------------------------ roles as written


def test_assign_only_to_staff_of_the_submissions_clinic(app, clock):
    item = send(app)
    with app.app_context():
        accounts.create_clinic("South Clinic")
        db.session.commit()
    stranger = make_staff(app, "sam", "intake", clinics=["South Clinic"])
    doctor = make_staff(app, "doc", "clinician", clinics=["North Clinic"])
    desk = signed_in(app, clock, "ivy", "intake")
    url = f"/staff/submissions/{item.public_id}"
    page = desk.get(url).get_data(as_text=True)
    assert ">sam</option>" not in page and ">doc</option>" not in page
    for person in (stranger, doctor):
        refused = desk.post(f"{url}/assign", {"assignee": str(person.id), "version": "1"})
        assert refused.status_code == 400
        assert "Choose a staff member of this submission" in refused.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Submission, item.id).assigned_to_id is None


def test_clinicians_read_print_and_add_notes_but_do_not_work_the_queue(app, clock):
    item = send(app)
    doctor = signed_in(app, clock, "doc", "clinician")
    url = f"/staff/submissions/{item.public_id}"
    page = doctor.get(url).get_data(as_text=True)
    assert "Add a note" in page and "Change status" not in page and "Assign to" not in page
    assert doctor.post(f"{url}/notes", {"note": "Reviewed: fine to book."}).status_code == 303
    assert doctor.post(f"{url}/status", {"status": "in_review", "version": "1"}).status_code == 403
    assert doctor.post(f"{url}/assign", {"assignee": "", "version": "2"}).status_code == 403
    assert doctor.get(f"{url}/print").status_code == 200


# ------------------------------------------------------------------ one timeline; print; errors


def test_one_timeline_newest_first_with_prints_and_pdfs(app, clock, tmp_path):
    item = send(app)
    desk = signed_in(app, clock, "ivy", "intake")
    url = f"/staff/submissions/{item.public_id}"
    page = desk.get(url).get_data(as_text=True)
    desk.post(f"{url}/status", {"status": "in_review", "version": version_of(page)})
    clock.shift(60)
    desk.get(url)
    desk.post(f"{url}/notes", {"note": "Left a voicemail."})
    clock.shift(60)
    assert desk.get(f"{url}/print").status_code == 200
    clock.shift(60)
    assert desk.get(f"{url}/summary.pdf").status_code == 200
    lines = timeline(desk.get(url).get_data(as_text=True))
    what = [line.split(" : ", 1)[1] for line in lines]
    assert what == [
        "Downloaded the summary PDF",
        "Opened the print view",
        "Note Left a voicemail.",
        "Status changed from New to In review",
    ]
    assert all(" ivy " in f" {line} " for line in lines)
    with app.app_context():
        kinds = db.session.scalars(
            select(SubmissionChange.field).order_by(SubmissionChange.id)
        ).all()
    assert kinds == ["status", "print", "pdf"]


def test_print_view_has_print_and_back_and_staff_errors_lead_back(app, clock):
    item = send(app)
    desk = signed_in(app, clock, "ivy", "intake")
    detail = desk.get(f"/staff/submissions/{item.public_id}").get_data(as_text=True)
    assert f'href="/staff/submissions/{item.public_id}/print#print"' in detail
    view = desk.get(f"/staff/submissions/{item.public_id}/print").get_data(as_text=True)
    assert f'<a href="/staff/submissions/{item.public_id}">Back to the submission</a>' in view
    assert "data-print" in view and "js/print.js" in view
    missing = desk.get("/staff/submissions/" + "0" * 32)
    assert missing.status_code == 404
    body = missing.get_data(as_text=True)
    assert "Clinic staff" in body and 'href="/staff/">Back to submissions' in body
    assert "Go to the first page" not in body
    unknown = desk.get("/staff/no-such-page")
    assert unknown.status_code == 404 and "Back to submissions" in unknown.get_data(as_text=True)
    forbidden = desk.get("/staff/admin/users")
    assert forbidden.status_code == 403
    assert "You do not have access to this page" in forbidden.get_data(as_text=True)


@pytest.mark.parametrize("role", ["intake", "clinician", "admin"])
def test_readme_role_table_matches_the_permissions(role):
    from pathlib import Path

    from screening.staff.access import PERMISSIONS

    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    row = re.search(rf"^\| `{role}` \|(.+)\|$", readme, re.MULTILINE).group(1)
    granted = {name for name, roles in PERMISSIONS.items() if role in roles}
    for permission, words in {
        "submission:note": "add notes",
        "submission:work": "change status and assign",
        "submission:export": "export",
        "submission:move": "move submissions between clinics",
    }.items():
        assert (words in row) is (permission in granted), (role, permission, row)


def test_an_export_shows_in_the_timeline_of_each_exported_submission(app, clock):
    first, second = send(app), send(app)
    desk = signed_in(app, clock, "ivy", "intake")
    desk.get("/staff/export")
    day = "2026-11-23"
    response = desk.post("/staff/export", {"start": day, "end": day, "values": "words"})
    assert response.status_code == 200 and response.mimetype == "text/csv"
    for item in (first, second):
        lines = timeline(desk.get(f"/staff/submissions/{item.public_id}").get_data(as_text=True))
        assert lines[0].endswith("ivy : Exported in a CSV file")
