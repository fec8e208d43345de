"""Queue and search stay bounded: a search cap, search pages, no query per row."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event, select

from screening import demo, search_index
from screening.audit import AuditEvent
from screening.extensions import db
from screening.models import SearchToken, Submission
from screening.staff import accounts, queue
from tests.staff.helpers import StaffClient, make_staff

#: Before the clock fixture's start, so every row is already waiting.
SENT = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


@pytest.fixture()
def desk(app, clock):
    """An intake worker of North Clinic (South Clinic exists too), signed in."""
    with app.app_context():
        accounts.create_clinic("South Clinic")
        db.session.commit()
    client = StaffClient(app.test_client())
    client.sign_in(make_staff(app, "ivy", "intake", clinics=["North Clinic"]))
    return client


def people(app, names: list[str], clinic: str = "North Clinic", urgency: int = 2) -> list[str]:
    """Add one demo submission per name, sent a minute apart; return their references."""
    with app.app_context():
        demo.seed(len(names), seed=3, clinics=[clinic], now=SENT)
        rows = db.session.scalars(
            select(Submission).order_by(Submission.id.desc()).limit(len(names))
        ).all()[::-1]
        for minutes, (row, name) in enumerate(zip(rows, names, strict=True)):
            row.personal = {**row.personal, "full_name": name}  # indexed again on flush
            row.urgency = urgency
            row.submitted_at = SENT + timedelta(minutes=minutes)
        db.session.commit()
        return [row.reference for row in rows]


def references(html: str) -> list[str]:
    return re.findall(r'<a href="/staff/submissions/[0-9a-f]{32}">([^<]+)</a>', html)


def search(desk: StaffClient, term: str, page: int | None = None) -> str:
    data = {"q": term} if page is None else {"q": term, "page": str(page)}
    response = desk.post("/staff/search", data)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def last_search_ids(app) -> list[int]:
    with app.app_context():
        last = db.session.scalars(
            select(AuditEvent)
            .where(AuditEvent.action == "submission.search")
            .order_by(AuditEvent.id.desc())
        ).first()
        return last.detail["ids"]


def test_a_search_matching_more_than_the_cap_asks_for_more_of_the_name(app, desk, monkeypatch):
    monkeypatch.setattr(queue, "SEARCH_CAP", 2)
    marias = people(app, ["Maria Lopez", "Maria Stone", "Maria Oakley", "Mariana Reyes"])
    page = search(desk, "maria")
    assert "More than 2 submissions match your search: too many to list." in page
    assert "Add more of the name (first and last name), or search by phone number" in page
    assert references(page) == [] and "No submissions match." not in page
    assert last_search_ids(app) == []  # nothing was shown
    # More of the name: few enough to list, all of them.
    assert references(search(desk, "maria lopez")) == [marias[0]]
    assert references(search(desk, "mariana")) == [marias[3]]
    assert references(search(desk, "lopez")) == [marias[0]]


def test_the_cap_counts_only_submissions_the_user_may_see(app, desk, monkeypatch):
    monkeypatch.setattr(queue, "SEARCH_CAP", 2)
    people(app, ["Sam Brook", "Sam Brook", "Sam Brook"], clinic="South Clinic")
    mine = people(app, ["Sam Brook"])
    page = search(desk, "sam brook")
    assert references(page) == mine and "1 submission matching your search." in page
    assert "too many" not in page


def test_search_results_come_in_queue_order_and_page_by_post(app, desk, monkeypatch):
    monkeypatch.setattr(queue, "PAGE_SIZE", 2)
    routine = people(app, ["Kai Fernley", "Kai Fernley", "Kai Fernley"])
    emergency = people(app, ["Kai Fernley"], urgency=0)
    first = search(desk, "kai fernley")
    # Urgent first, then the longest waiting, as in the queue.
    assert references(first) == [emergency[0], routine[0]]
    assert "4 submissions matching your search." in first and "Page 1 of 2" in first
    # The next page is a form posting the term again: the name never goes into a URL.
    assert 'name="q" value="kai fernley"' in first and 'name="page" value="2"' in first
    targets = re.findall(r'(?:href|action)="([^"]*)"', first)
    assert targets and not [url for url in targets if "kai" in url.lower()]
    second = search(desk, "kai fernley", page=2)
    assert references(second) == routine[1:] and "Previous page" in second
    assert "Next page" not in second
    with app.app_context():
        shown = db.session.scalars(
            select(Submission.id).where(Submission.reference.in_(routine[1:]))
        ).all()
    assert sorted(last_search_ids(app)) == sorted(shown)


def test_staff_without_a_clinic_see_nothing(app, clock):
    people(app, ["Robin Ashford"])
    client = StaffClient(app.test_client())
    client.sign_in(make_staff(app, "nobody", "intake"))
    assert "0 submissions." in client.get("/staff/").get_data(as_text=True)
    assert references(client.post("/staff/search", {"q": "robin"}).get_data(as_text=True)) == []


@pytest.mark.parametrize("path", ["/staff/?view=all", "search"])
def test_the_page_costs_the_same_queries_for_one_row_or_many(app, desk, path):
    """Rows are not loaded again one by one (the audit write expires them)."""
    with app.app_context():
        engine = db.engine

    def statements(count: int) -> int:
        with app.app_context():
            db.session.execute(Submission.__table__.delete())
            db.session.commit()
        people(app, ["Lee Hollow"] * count)
        seen: list[str] = []

        def note(_conn, _cursor, statement, *_args):
            seen.append(statement)

        def load():
            return (
                desk.get(path) if path.startswith("/") else desk.post("/staff/search", {"q": "lee"})
            )

        load()  # anything done once per session is done by now
        event.listen(engine, "before_cursor_execute", note)
        try:
            page = load()
        finally:
            event.remove(engine, "before_cursor_execute", note)
        assert len(references(page.get_data(as_text=True))) == count
        return len(seen)

    assert statements(1) == statements(6)


# ------------------------------------------------------------------ forgiving search


def test_a_name_is_found_whatever_its_accents_case_spacing_and_punctuation(app, desk):
    jose, siobhan, maria, ana = people(
        app, ["José Hernández", "Siobhán O'Brien", "María José García Hernández", "Ana De la Cruz"]
    )
    found = {
        term: sorted(references(search(desk, term)))
        for term in (
            "Hernandez",
            "hernández",
            "HERNANDEZ",
            "jose hernandez",
            "Maria Hernandez",
            "garcia-hernandez",
            "obrien",
            "O'Brien",
            "o brien",
            "SIOBHAN",
            "delacruz",
            "De La Cruz",
            "hern",
        )
    }
    assert found["Hernandez"] == found["hernández"] == found["HERNANDEZ"] == sorted([jose, maria])
    # First and last name typed, a middle name stored: the pair is indexed too.
    assert found["jose hernandez"] == sorted([jose, maria])
    assert found["Maria Hernandez"] == found["garcia-hernandez"] == [maria]
    assert found["obrien"] == found["O'Brien"] == found["o brien"] == found["SIOBHAN"] == [siobhan]
    assert found["delacruz"] == found["De La Cruz"] == [ana]
    # Whole words only: the start of a word is not indexed (see search_index).
    assert found["hern"] == []


def test_a_phone_number_is_found_by_its_whole_digits_or_its_last_4_7_or_10(app, desk):
    (mine,) = people(app, ["Tess Number"])
    with app.app_context():
        row = db.session.scalar(select(Submission).where(Submission.reference == mine))
        row.personal = {**row.personal, "phone": "+1 (555) 010-2233"}
        db.session.commit()
    for term in ("2233", "010-2233", "555 010 2233", "+1 555 010 2233", "15550102233"):
        assert references(search(desk, term)) == [mine], term
    for term in ("02233", "0102233 9", "233"):
        assert references(search(desk, term)) == [], term


def test_the_search_table_holds_digests_only(app, desk):
    people(app, ["Ulla Vestergaard"])
    with app.app_context(), db.engine.connect() as conn:
        stored = " ".join(
            " ".join(str(value) for value in row)
            for row in conn.execute(select(SearchToken.__table__)).all()
        ).lower()
    assert "ulla" not in stored and "vestergaard" not in stored
    assert re.fullmatch(r"[0-9a-f ]+", stored)


def test_normalising_names(app):
    assert search_index.fold("Hernández") == "hernandez"
    assert search_index.squeeze("  O'Brien-Smith ") == "obriensmith"
    assert search_index.squeeze("ÅSE Straße") == "asestrasse"
    assert search_index.name_pieces("Ana de la Cruz") >= {"ana", "cruz", "delacruz", "anacruz"}
    assert search_index.phone_pieces("(555) 010-2233") == {"5550102233", "2233", "0102233"}
