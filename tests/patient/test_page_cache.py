"""Questions rendered once per process (screening/patient/views.py, question_html)."""

from __future__ import annotations

import re

import pytest

from screening.patient import steps, views
from tests.factories import BASELINE, CONTACT
from tests.patient_client import Patient, clinic_today, page_data

TOKEN = re.compile(r'value="[^"]{20,}"')


def page(patient: Patient, url: str) -> str:
    response = patient.get(url)
    assert response.status_code == 200
    return TOKEN.sub('value="token"', response.get_data(as_text=True))


@pytest.mark.parametrize("language", ["en", "es"])
def test_every_page_is_the_same_from_the_store_as_rendered_afresh(app, language):
    patient = Patient(app.test_client())
    patient.get("/")
    patient.post("/language", {"lang": language, "next": "/"})
    kept = 0
    for step in steps.STEPS:
        if not step.applies(BASELINE):
            continue
        url = f"/step/{step.id}"
        views._question_html.clear()
        fresh = page(patient, url)
        assert page(patient, url) == fresh, step.id  # now from the store
        response = patient.post(url, page_data(step, BASELINE, clinic_today(app), CONTACT))
        assert response.status_code == 303
        views._question_html.clear()
        answered = page(patient, url)
        assert page(patient, url) == answered, step.id
        kept += len(views._question_html)
    assert kept > 20  # the store was used


def test_free_text_errors_and_foreign_values_are_never_kept(app):
    patient = Patient(app.test_client())
    for step in steps.STEPS:
        if step.id == "health-history":
            break
        if step.applies(BASELINE):
            data = page_data(step, BASELINE, clinic_today(app), CONTACT)
            assert patient.answer(step.id, data).status_code == 303
    step = steps.BY_ID["health-history"]
    radio = next(q for q in step.questions if views.questionnaire.QUESTIONS[q].type == "yes_no")
    views._question_html.clear()
    # A tampered value (not one of the question's codes) comes back on the page as an
    # error, and is not kept.
    data = {**page_data(step, BASELINE, clinic_today(app), CONTACT), radio: "not-a-code"}
    assert patient.post(f"/step/{step.id}", data).status_code == 200
    for key in views._question_html:
        question = views.questionnaire.QUESTIONS[key[1]]
        assert question.type in views.CODED_KINDS
        assert key[1] != radio
        assert "not-a-code" not in repr(key)


def test_the_store_is_bounded(app, monkeypatch):
    monkeypatch.setattr(views, "QUESTION_HTML_MAX", 3)
    views._question_html.clear()
    patient = Patient(app.test_client())
    patient.get("/step/about-you")
    patient.get(f"/step/{steps.STEPS[2].id}")
    assert 0 < len(views._question_html) <= 3
