"""How many SQL statements and transactions each main patient request makes.

The figures are exact: a change that adds a query to a patient page (a lazy load, a second
read of the same rows, a counter written on its own) fails here and has to be looked at,
and the number changed on purpose. Counted on the app's engine with SQLAlchemy's
``before_cursor_execute`` and ``begin`` events; SQLite's ``BEGIN IMMEDIATE`` (the engine's
own way to start a transaction, see ``screening/database.py``) is counted as the
transaction it starts, so the figures are the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

import re
from collections import Counter
from contextlib import contextmanager

import pytest
from sqlalchemy import event

from screening.extensions import db
from screening.patient import steps
from tests.factories import BASELINE, CONTACT
from tests.patient_client import Patient, clinic_today, page_data

#: A page in the middle of the form, with questions of several kinds.
PAGE = "health-history"


class Queries:
    """The statements and transactions seen on one engine, by kind and table."""

    def __init__(self) -> None:
        self.statements: list[str] = []
        self.transactions = 0

    def kinds(self) -> Counter:
        return Counter(describe(sql) for sql in self.statements)


def describe(sql: str) -> str:
    """ "SELECT draft", "INSERT rate_limit_counter"...: a statement's kind and first table."""
    words = sql.split()
    kind = words[0].upper()
    pattern = {
        "SELECT": r"\bFROM\s+(\w+)",
        "INSERT": r"\bINTO\s+(\w+)",
        "UPDATE": r"^UPDATE\s+(\w+)",
    }
    match = re.search(pattern.get(kind, r"\bFROM\s+(\w+)"), sql, re.IGNORECASE)
    return f"{kind} {match.group(1) if match else '?'}"


@contextmanager
def counted(app):
    """Count what ``app``'s engine runs inside the block."""
    queries = Queries()
    with app.app_context():
        engine = db.engine

    def on_execute(conn, cursor, statement, parameters, context, executemany):
        if statement.strip().upper().startswith("BEGIN"):
            return  # counted by the begin event
        queries.statements.append(statement)

    def on_begin(conn):
        queries.transactions += 1

    event.listen(engine, "before_cursor_execute", on_execute)
    event.listen(engine, "begin", on_begin)
    try:
        yield queries
    finally:
        event.remove(engine, "before_cursor_execute", on_execute)
        event.remove(engine, "begin", on_begin)


def walk_to(app, patient: Patient, upto: str | None) -> None:
    """Answer every page before ``upto`` (every page when None) with the baseline answers."""
    for step in steps.STEPS:
        if not step.applies(BASELINE):
            continue
        if step.id == upto:
            return
        response = patient.answer(step.id, page_data(step, BASELINE, clinic_today(app), CONTACT))
        assert response.status_code == 303, step.id


def assert_queries(queries: Queries, transactions: int, kinds: dict[str, int]) -> None:
    assert (queries.transactions, dict(queries.kinds())) == (transactions, kinds)


@pytest.fixture()
def patient_at_page(app):
    patient = Patient(app.test_client())
    walk_to(app, patient, PAGE)
    patient.get(f"/step/{PAGE}")  # its CSRF token
    return patient


def test_start_page(app):
    patient = Patient(app.test_client())
    with counted(app) as queries:
        assert patient.get("/").status_code == 200
    # The clinic that takes the form (no draft yet: nothing else to read).
    assert_queries(queries, 1, {"SELECT clinic": 1})


def test_start_page_with_a_draft(app, patient_at_page):
    with counted(app) as queries:
        assert patient_at_page.get("/").status_code == 200
    assert_queries(queries, 1, {"SELECT draft": 1, "SELECT clinic": 1})


def test_question_page(app, patient_at_page):
    with counted(app) as queries:
        assert patient_at_page.get(f"/step/{PAGE}").status_code == 200
    # The draft, and the clinics once (is the form open? is a clinic still to choose?).
    assert_queries(queries, 1, {"SELECT draft": 1, "SELECT clinic": 1})


def test_question_page_post(app, patient_at_page):
    step = steps.BY_ID[PAGE]
    data = page_data(step, BASELINE, clinic_today(app), CONTACT)
    with counted(app) as queries:
        response = patient_at_page.post(f"/step/{PAGE}", data)
    assert response.status_code == 303
    # Every rate limit counter of the post (address and form, two windows each) in one
    # statement of its own transaction, then the draft read, saved, and the next page.
    assert_queries(
        queries,
        2,
        {
            "INSERT rate_limit_counter": 1,
            "SELECT draft": 1,
            "SELECT clinic": 1,
            "UPDATE draft": 1,
        },
    )


def test_check_answers_page(app):
    patient = Patient(app.test_client())
    walk_to(app, patient, None)
    with counted(app) as queries:
        assert patient.get("/review").status_code == 200
    assert_queries(queries, 1, {"SELECT draft": 1, "SELECT clinic": 1})


def test_submit_and_done_page(app):
    patient = Patient(app.test_client())
    walk_to(app, patient, None)
    patient.get("/review")
    with counted(app) as queries:
        response = patient.post("/submit", {"consent": "y"})
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/done")
    # The counters in one statement; then in one transaction the draft, the clinics, the
    # submission with its search tokens (one statement for all), and the emptied draft.
    assert_queries(
        queries,
        2,
        {
            "INSERT rate_limit_counter": 1,
            "SELECT clinic": 1,
            "SELECT draft": 1,
            "INSERT submission": 1,
            "INSERT search_token": 1,
            "UPDATE draft": 1,
        },
    )
    with counted(app) as queries:
        assert patient.get("/done").status_code == 200
    # The draft, its submission, and the clinic it went to (its phone number).
    assert_queries(queries, 1, {"SELECT draft": 1, "SELECT submission": 1, "SELECT clinic": 1})
