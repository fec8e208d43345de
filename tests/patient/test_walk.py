"""Walking the whole questionnaire with the spec's baseline answers."""

from __future__ import annotations

from sqlalchemy import func, select

from screening.extensions import db
from screening.models import Draft, Submission
from tests.factories import BASELINE, CONTACT, answers
from tests.patient_client import clinic_today


def submissions(app):
    with app.app_context():
        return db.session.scalars(select(Submission)).all()


def test_baseline_walk_stores_one_submission_with_answers_unchanged(app, patient):
    # Given a person who answers every page with baseline answer set B
    patient.complete(BASELINE, clinic_today(app))
    review = patient.get("/review")
    assert review.status_code == 200
    # When they tick consent and send
    response = patient.post("/submit", {"consent": "y"})
    # Then exactly one submission holds the same coded answers, and they see its code
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/done")
    rows = submissions(app)
    assert len(rows) == 1
    stored = rows[0]
    assert stored.answers == BASELINE
    assert stored.status == "new"
    assert stored.personal["full_name"] == CONTACT["full_name"]
    done = patient.get("/done")
    assert stored.reference in done.get_data(as_text=True)


def test_review_lists_every_answer_and_not_answered_for_blanks(app, patient):
    patient.complete(answers(supplements=None, pain_now=None), clinic_today(app))
    page = patient.get("/review").get_data(as_text=True)
    assert "Not answered" in page
    assert "Do you take fish oil, vitamin E, ginkgo, garlic pills or turmeric?" in page
    assert "Physical therapy or a guided exercise program" in page
    assert 'href="/step/medicines?return_to=review#group-supplements"' in page


def test_double_submit_creates_one_row(app, patient):
    patient.complete(BASELINE, clinic_today(app))
    patient.get("/review")
    first = patient.post("/submit", {"consent": "y"})
    second = patient.post("/submit", {"consent": "y"})
    assert first.status_code == second.status_code == 303
    assert first.headers["Location"] == second.headers["Location"]
    assert len(submissions(app)) == 1
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Draft)) == 1


PAYLOADS = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "{{7*7}} {% raw %}",
    "\u202eevil",
    "pain 😖 here",
]


def test_patient_text_is_stored_verbatim_and_always_escaped(app, patient):
    text = " | ".join(PAYLOADS)
    given = answers(goals=text, questions_free=PAYLOADS[1])
    patient.complete(given, clinic_today(app), contact={**CONTACT, "full_name": PAYLOADS[0]})
    review = patient.get("/review").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in review
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in review
    assert "<img src=x" not in review
    assert "{{7*7}}" in review  # shown as typed, never evaluated
    patient.post("/submit", {"consent": "y"})
    stored = submissions(app)[0]
    assert stored.answers["goals"] == text
    assert stored.personal["full_name"] == PAYLOADS[0]
