"""The submission factory stores what a patient sending the form over HTTP stores.

Staff, API and record tests need submissions to work on, not the questionnaire's pages:
they make them with :func:`tests.factories.send_directly`, which runs each page's form
check and merge and the submit function without HTTP. This is the one test that walks the
whole form over HTTP for that purpose, and it proves the two paths store the same thing
(the questionnaire's own tests walk its pages for what they show).
"""

from __future__ import annotations

import random

import pytest
from sqlalchemy import select

from screening.extensions import db
from screening.models import Draft, Submission
from screening.staff import accounts
from tests.factories import CONTACT, answers, send_directly
from tests.patient_client import Patient, clinic_today, page_data
from tests.worst_cases import heavy_answers

#: Every column a staff page, export, API resource or summary reads from a submission.
STORED = (
    "answers",
    "personal",
    "outcome",
    "care_level",
    "blocking_contraindication",
    "support_score",
    "peg_score",
    "fired_rules",
    "questions",
    "result",
    "ruleset_version",
    "urgency",
    "questionnaire_version",
    "clinic_id",
    "language",
    "status",
)


def walk_over_http(app, given, contact, clinic: str | None) -> Submission:
    from screening.patient import steps

    patient = Patient(app.test_client())
    today = clinic_today(app)
    chosen = None
    if clinic:
        with app.app_context():
            chosen = accounts.clinic_by_name(clinic).id
    for step in steps.STEPS:
        if not step.applies(given):
            continue
        data = page_data(step, given, today, contact)
        if chosen is not None and step.id == "about-you":
            data["clinic"] = str(chosen)
        assert patient.answer(step.id, data).status_code == 303, step.id
    patient.get("/review")
    assert patient.post("/submit", {"consent": "y"}).status_code == 303
    assert patient.last.headers["Location"].endswith("/done")
    with app.app_context():
        return db.session.scalars(select(Submission).order_by(Submission.id.desc())).first()


@pytest.mark.parametrize(
    ("given", "contact", "clinics"),
    [
        (answers(), CONTACT, ()),
        # Nearly everything answered (red flags, every region, every treatment and its
        # follow-ups, free text at its limits), no email, and a choice between two clinics.
        (
            heavy_answers(random.Random(7)),
            {**CONTACT, "email": "", "best_time": "evening"},
            ("South Clinic",),
        ),
    ],
)
def test_the_factory_stores_what_the_form_over_http_stores(make_app, given, contact, clinics):
    app = make_app()
    with app.app_context():
        for name in clinics:
            accounts.create_clinic(name)
            db.session.commit()
    clinic = clinics[0] if clinics else None
    walked = walk_over_http(app, given, contact, clinic)
    made = send_directly(app, given, contact, clinic=clinic)
    assert walked.id != made.id and walked.reference != made.reference
    for column in STORED:
        assert getattr(made, column) == getattr(walked, column), column
    assert made.started_at is not None and made.submitted_at is not None
    with app.app_context():
        # Both drafts kept no answers once sent, and point at their submission.
        kept = db.session.scalars(select(Draft).order_by(Draft.id)).all()
        assert [(d.submission_id, d.answers, d.personal) for d in kept] == [
            (walked.id, {}, {}),
            (made.id, {}, {}),
        ]
