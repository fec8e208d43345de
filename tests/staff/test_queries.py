"""How many SQL statements each main staff page runs: a fixed number, whatever the rows.

Every page is loaded once first (what happens once per sign-in or per process is done
by then), then counted with a ``before_cursor_execute`` listener. Transaction control
(SQLite's ``BEGIN IMMEDIATE``) and PostgreSQL's advisory lock of the audit chain are left
out, so the figures are the same on both engines. A change that adds a query per row, or
loads the staff session again, changes a figure here: check it was meant, then update it.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from sqlalchemy import event, select

from screening import demo
from screening.extensions import db
from screening.models import Submission
from screening.staff import queue
from tests.fhir.helpers import RecordSystem, make_token
from tests.staff.helpers import StaffClient, make_staff

#: Before the clock fixture's start, so every row is already waiting.
SENT = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
#: Statements that only open a transaction or take the audit chain's lock (one engine).
NOT_COUNTED = re.compile(r"\s*(BEGIN|SELECT pg_advisory_xact_lock)", re.IGNORECASE)


def seed(app, count: int) -> list[str]:
    """``count`` demo submissions of North Clinic; their public ids, oldest first."""
    with app.app_context():
        demo.seed(count, seed=5, clinics=["North Clinic"], now=SENT)
        return list(db.session.scalars(select(Submission.public_id).order_by(Submission.id)))


def kind(statement: str) -> str:
    """ "SELECT staff_session", "UPDATE audit_head"...: the verb and the first table named."""
    verb = statement.split(None, 1)[0].upper()
    if verb == "SELECT":
        found = re.search(r"(\w+)\.", statement)  # the first column's table
    else:
        found = re.search(r"(?:INTO|UPDATE|FROM)\s+(\w+)", statement, re.IGNORECASE)
    return f"{verb} {found.group(1) if found else '?'}"


def statements(app, load: Callable[[], object]) -> list[str]:
    """The statements ``load`` runs, the second time (see the module's docstring)."""
    load()
    seen: list[str] = []

    def note(_conn, _cursor, statement, *_args):
        if not NOT_COUNTED.match(statement):
            seen.append(kind(statement))

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", note)
    try:
        response = load()
    finally:
        event.remove(engine, "before_cursor_execute", note)
    assert response.status_code == 200, response.status_code
    return seen


#: Every signed-in page: the staff session with its user and emergency access (one
#: query), the session's last activity, and the user's clinics.
SIGNED_IN = ["SELECT staff_session", "UPDATE staff_session", "SELECT clinic"]
#: One audit row: the chain's head read, the row, the head moved.
AUDITED = ["SELECT audit_head", "INSERT audit_event", "UPDATE audit_head"]


@pytest.fixture()
def desk(app, clock):
    """An intake worker of North Clinic, signed in."""
    client = StaffClient(app.test_client())
    client.sign_in(make_staff(app, "ivy", "intake", clinics=["North Clinic"]))
    return client


@pytest.mark.parametrize("rows", [3, 3 * queue.PAGE_SIZE])
def test_the_queue_runs_the_same_statements_for_3_rows_or_a_full_page(app, desk, rows):
    seed(app, rows)
    found = statements(app, lambda: desk.get("/staff/"))
    # The page of rows, and its total with every status count in one statement.
    assert found == [*SIGNED_IN, "SELECT submission", "SELECT submission", *AUDITED]


@pytest.mark.parametrize("rows", [3, 2 * queue.PAGE_SIZE])
def test_a_search_runs_the_same_statements_for_3_matches_or_a_full_page(app, desk, rows):
    seed(app, rows)
    with app.app_context():
        for item in db.session.scalars(select(Submission)):
            item.personal = {**item.personal, "full_name": "Lee Hollow"}  # indexed on flush
        db.session.commit()
    found = statements(app, lambda: desk.post("/staff/search", {"q": "lee hollow"}))
    assert found == [
        *SIGNED_IN,
        "SELECT anon_1",  # the matches' keys: one lookup per kind of match, as one union
        "SELECT submission",  # the rows of the page shown
        "SELECT submission",  # the status counts, in one statement
        *AUDITED,
    ]


def test_the_detail_page_loads_each_thing_once(app, desk):
    public_id = seed(app, 3)[0]
    found = statements(app, lambda: desk.get(f"/staff/submissions/{public_id}"))
    assert found == [
        *SIGNED_IN,
        "SELECT submission",
        "SELECT submission_note",
        "SELECT submission_change",
        "SELECT api_receipt",
        "SELECT staff_user",  # colleagues to assign it to
        *AUDITED,  # written after rendering, so nothing is loaded again
    ]


@pytest.mark.parametrize("path", ["/print", "/summary.pdf"])
def test_the_print_view_and_the_summary_pdf(app, desk, path):
    public_id = seed(app, 3)[0]
    found = statements(app, lambda: desk.get(f"/staff/submissions/{public_id}{path}"))
    assert found == [*SIGNED_IN, "SELECT submission", "INSERT submission_change", *AUDITED]


@pytest.mark.parametrize("rows", [3, 30])
def test_the_export_runs_the_same_statements_for_3_rows_or_30(app, desk, rows):
    seed(app, rows)
    desk.get("/staff/export")
    data = {"start": "2026-01-01", "end": "2026-11-30"}  # every demo row
    response = desk.post("/staff/export", data)
    table = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert len(table) == 2 + rows  # two heading rows (words and codes), then each row
    found = statements(app, lambda: desk.post("/staff/export", data))
    # The timeline's "exported" lines for every row are one INSERT.
    assert found == [*SIGNED_IN, "SELECT submission", "INSERT submission_change", *AUDITED]


@pytest.mark.parametrize("rows", [3, 60])
def test_a_record_systems_search_page_of_50(app, clock, rows):
    seed(app, rows)
    system = RecordSystem(app, make_token(app, "EHR bridge", ["North Clinic"]))
    url = "/fhir/QuestionnaireResponse?_count=50"
    assert system.get(url).get_data(as_text=True).count('"resourceType":"QuestionnaireResponse"')
    found = statements(app, lambda: system.get(url))
    assert found == [
        "SELECT api_token",
        "INSERT rate_limit_counter",  # the token's request limit
        "SELECT api_token",  # loaded again: the lookup's transaction ended before counting
        "SELECT clinic",
        "SELECT submission",
        *AUDITED,
    ]


def test_emergency_access_is_read_with_the_session(app, desk):
    seed(app, 3)
    desk.get("/staff/emergency-access")
    reason = "Covering for South Clinic while their nurse is away"
    assert desk.post("/staff/emergency-access", {"reason": reason}).status_code == 303
    page = desk.get("/staff/")
    assert "Emergency access is on" in page.get_data(as_text=True)
    found = statements(app, lambda: desk.get("/staff/"))
    # Everywhere: every clinic is listed (one query) instead of the user's own.
    assert found == [*SIGNED_IN, "SELECT submission", "SELECT submission", *AUDITED]


@pytest.mark.parametrize("path", ["/staff/", "/staff/password"])
def test_a_page_is_one_transaction(app, desk, path):
    """The session's last activity is committed with the page's own writes (the queue's
    audit row), or on its own at the end when the page writes nothing: one commit."""
    seed(app, 3)
    desk.get(path)
    commits: list[int] = []
    with app.app_context():
        engine = db.engine
    note = lambda _conn: commits.append(1)  # noqa: E731
    event.listen(engine, "commit", note)
    try:
        assert desk.get(path).status_code == 200
    finally:
        event.remove(engine, "commit", note)
    assert len(commits) == 1
