"""What intake staff do all day: queue, search, status, assignment, notes, export."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from screening.audit import AuditEvent
from screening.extensions import db
from screening.models import STATUS_MOVES, Submission
from screening.staff import queue
from tests.factories import CONTACT, answers, send_directly
from tests.patient_client import clinic_today
from tests.staff.helpers import StaffClient, make_staff
from tests.test_results import pdf_pages


def send(app, overrides=None, contact=None) -> Submission:
    """A patient completes and sends the questionnaire (the factory: no HTTP walk)."""
    return send_directly(app, answers(**(overrides or {})), {**CONTACT, **(contact or {})})


@pytest.fixture()
def desk(app, clock):
    """An intake worker of the only clinic, signed in."""
    account = make_staff(app, "ivy", "intake", clinics=["North Clinic"])
    client = StaffClient(app.test_client())
    client.sign_in(account)
    return client


def timeline(html: str) -> list[str]:
    """The lines of a detail page's timeline, newest first, as text."""
    block = html.split('<ol class="list timeline"', 1)[1].split("</ol>", 1)[0]
    items = re.findall(r"<li[^>]*>(.*?)</li>", block, re.DOTALL)
    return [" ".join(re.sub(r"<[^>]+>", " ", item).split()) for item in items]


def references(html: str) -> list[str]:
    return re.findall(r'<a href="/staff/submissions/[0-9a-f]{32}">([^<]+)</a>', html)


def test_queue_puts_emergencies_then_prompt_then_the_longest_waiting(app, desk, clock):
    routine_old = send(app)
    clock.shift(timedelta(minutes=5))
    prompt = send(app, {"rf_weight": "yes"})
    clock.shift(timedelta(minutes=5))
    routine_new = send(app, {"dur": "gt_1y"})
    clock.shift(timedelta(minutes=5))
    emergency = send(app, {"rf_chest": "yes"})
    page = desk.get("/staff/").get_data(as_text=True)
    assert references(page) == [
        emergency.reference,
        prompt.reference,
        routine_old.reference,
        routine_new.reference,
    ]
    # The list shows the minimum: initials, not names or phone numbers.
    assert "A.E." in page and "Alex Example" not in page and "555 123 4567" not in page


def test_filters_counts_and_pagination(app, desk, clock):
    for _ in range(27):
        send(app)
        clock.shift(timedelta(seconds=1))
    send(app, {"rf_weight": "yes"})
    page = desk.get("/staff/").get_data(as_text=True)
    assert "28 submissions." in page and "Page 1 of 2" in page
    assert "New <strong>28</strong>" in page
    second = desk.get("/staff/?page=2").get_data(as_text=True)
    assert len(references(second)) == 3
    only_prompt = desk.get("/staff/?outcome=SEEK_CARE").get_data(as_text=True)
    assert "1 submission." in only_prompt
    assert "0 submissions." in desk.get("/staff/?status=closed").get_data(as_text=True)
    today = clinic_today(app).isoformat()
    assert "28 submissions." in desk.get(f"/staff/?from=2000-01-01&to={today}").get_data(
        as_text=True
    )
    # Malformed choices are ignored, never a 500; a date that cannot be used is named (400).
    assert desk.get("/staff/?page=-3&clinic=abc&status=bogus").status_code == 200
    refused = desk.get("/staff/?page=-3&clinic=abc&from=notadate&status=bogus")
    assert refused.status_code == 400 and "28 submissions." in refused.get_data(as_text=True)


def test_counts_stop_at_a_cap_and_paging_goes_on(app, desk, clock, monkeypatch):
    monkeypatch.setattr(queue, "COUNT_CAP", 5)
    monkeypatch.setattr(queue, "PAGE_SIZE", 3)
    for _ in range(8):
        send(app)
    page = desk.get("/staff/").get_data(as_text=True)
    assert "5+ submissions." in page and "New <strong>5+</strong>" in page
    assert "Page 1<" in page and "Next page" in page
    assert len(references(desk.get("/staff/?page=3").get_data(as_text=True))) == 2


def test_search_by_reference_name_or_phone_is_a_post(app, desk, clock):
    target = send(app, contact={"full_name": "Maria Lopez", "phone": "(555) 010-2233"})
    other = send(app, contact={"full_name": "John Smith", "phone": "555 010 9999"})
    for term in (
        target.reference,
        target.reference.lower().replace("-", ""),
        "maria",
        "Lopez",
        "5550102233",
        "010-2233",
    ):
        page = desk.post("/staff/search", {"q": term}).get_data(as_text=True)
        assert references(page) == [target.reference], term
    assert other.reference in references(
        desk.post("/staff/search", {"q": "smith"}).get_data(as_text=True)
    )
    with app.app_context():
        searches = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "submission.search")
        ).all()
    assert searches and searches[-1].detail == {"ids": [other.id]}


def test_every_status_move_allowed_and_refused(app, desk, clock):
    item = send(app)
    url = f"/staff/submissions/{item.public_id}"
    path = ["in_review", "contacted", "scheduled", "closed"]
    for new in path:
        desk.get(url)
        version = re.search(
            r'name="version" value="(\d+)"', desk.last.get_data(as_text=True)
        ).group(1)
        # A move the workflow does not allow from here is refused.
        wrong = next(
            s for s in STATUS_MOVES if s not in STATUS_MOVES[_status(app, item)] and s != new
        )
        refused = desk.post(f"{url}/status", {"status": wrong, "version": version})
        assert refused.status_code == 400 and "cannot become" in refused.get_data(as_text=True)
        response = desk.post(f"{url}/status", {"status": new, "version": version})
        assert response.status_code == 303, new
        assert _status(app, item) == new
    lines = timeline(desk.get(url).get_data(as_text=True))
    assert [line.split(": ", 1)[1] for line in lines] == [
        "Status changed from Scheduled to Closed",
        "Status changed from Contacted to Scheduled",
        "Status changed from In review to Contacted",
        "Status changed from New to In review",
    ]
    # Not proceeding is reachable from review and from contacted.
    other = send(app)
    for new in ("in_review", "not_proceeding", "closed"):
        desk.get(f"/staff/submissions/{other.public_id}")
        version = re.search(
            r'name="version" value="(\d+)"', desk.last.get_data(as_text=True)
        ).group(1)
        assert (
            desk.post(
                f"/staff/submissions/{other.public_id}/status", {"status": new, "version": version}
            ).status_code
            == 303
        )


def _status(app, item) -> str:
    with app.app_context():
        return db.session.get(Submission, item.id).status


def test_two_people_changing_at_once_the_second_sees_a_conflict(app, desk, clock):
    item = send(app)
    other_account = make_staff(app, "otto", "intake", clinics=["North Clinic"])
    other = StaffClient(app.test_client())
    clock.shift(30)
    other.sign_in(other_account)
    url = f"/staff/submissions/{item.public_id}"
    desk.get(url)
    other.get(url)
    mine = re.search(r'name="version" value="(\d+)"', desk.last.get_data(as_text=True)).group(1)
    theirs = re.search(r'name="version" value="(\d+)"', other.last.get_data(as_text=True)).group(1)
    assert desk.post(f"{url}/status", {"status": "in_review", "version": mine}).status_code == 303
    response = other.post(f"{url}/assign", {"assignee": str(other_account.id), "version": theirs})
    assert response.status_code == 409
    assert "Someone else changed this submission" in response.get_data(as_text=True)
    with app.app_context():
        row = db.session.get(Submission, item.id)
        assert row.status == "in_review" and row.assigned_to_id is None


def test_notes_are_appended_with_who_and_when_and_a_long_one_is_kept(app, desk, clock):
    item = send(app)
    url = f"/staff/submissions/{item.public_id}"
    desk.get(url)
    assert desk.post(f"{url}/notes", {"note": "Called, left a message."}).status_code == 303
    too_long = "x" * 2001
    response = desk.post(f"{url}/notes", {"note": too_long})
    assert response.status_code == 400 and too_long in response.get_data(as_text=True)
    page = desk.get(url).get_data(as_text=True)
    # On the clinic's clock (New York): 15:00 UTC is 10:00 AM, and the page says so once.
    assert timeline(page)[0] == "Nov 23, 2026, 10:00 AM , ivy : Note Called, left a message."
    assert "Times are Eastern time (America/New_York)." in page and "UTC" not in page


def test_assignment_is_recorded(app, desk, clock):
    item = send(app)
    url = f"/staff/submissions/{item.public_id}"
    page = desk.get(url).get_data(as_text=True)
    version = re.search(r'name="version" value="(\d+)"', page).group(1)
    ivy = re.search(r'<option value="(\d+)">ivy \(me\)</option>', page).group(1)
    assert desk.post(f"{url}/assign", {"assignee": ivy, "version": version}).status_code == 303
    assert timeline(desk.get(url).get_data(as_text=True))[0].endswith("ivy : Assigned to ivy")


def test_print_view_pdf_and_batch_pdf_are_audited(app, desk, clock, tmp_path):
    first, second = send(app), send(app, {"rf_weight": "yes"})
    url = f"/staff/submissions/{first.public_id}"
    html = desk.get(f"{url}/print").get_data(as_text=True)
    assert first.reference in html and "Red flags and contraindications" in html
    assert '<link rel="stylesheet"' in html
    pdf = desk.client.get(f"{url}/summary.pdf")
    assert pdf.mimetype == "application/pdf" and pdf_pages(pdf.data, tmp_path) == 1
    desk.get("/staff/")
    picked = {"ids": [first.public_id, second.public_id], "csrf_token": desk.token}
    batch = desk.client.post("/staff/summaries.pdf", data=picked)
    assert batch.mimetype == "application/pdf" and pdf_pages(batch.data, tmp_path) == 2
    with app.app_context():
        actions = [
            (e.action, e.submission_id, (e.detail or {}).get("ids"))
            for e in db.session.scalars(
                select(AuditEvent).where(
                    AuditEvent.action.in_(["submission.print", "submission.pdf"])
                )
            )
        ]
    assert ("submission.print", first.id, None) in actions
    assert ("submission.pdf", first.id, None) in actions
    assert ("submission.pdf", None, sorted([first.id, second.id])) in [
        (a, s, sorted(i) if i else i) for a, s, i in actions
    ]
