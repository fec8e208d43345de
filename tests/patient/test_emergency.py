"""Emergency notice everywhere; red-flag answers show the urgent-care card at once."""

from __future__ import annotations

import pytest

from screening.patient import steps
from screening.scoring import questionnaire
from tests.factories import BASELINE
from tests.patient.test_validation import walk_to
from tests.patient_client import clinic_today, page_data
from tests.test_results import text_of

NOTICE = (
    "If you think you have an emergency, call 911 (or your local emergency number) now. "
    "Do not use this form."
)


def test_emergency_notice_on_start_and_every_page(app, patient):
    assert NOTICE in text_of(patient.get("/").get_data(as_text=True))
    for step in steps.STEPS:
        if step.applies(BASELINE):
            html = patient.get(f"/step/{step.id}").get_data(as_text=True)
            assert NOTICE in text_of(html), step.id
            assert '<a class="tel-911" href="tel:911">911</a>' in html, step.id
            patient.post(
                f"/step/{step.id}",
                page_data(
                    step,
                    BASELINE,
                    clinic_today(app),
                    {"full_name": "A", "phone": "5551234567", "best_time": "any_time"},
                ),
            )


@pytest.mark.parametrize("qid", questionnaire.EMERGENCY_QUESTIONS)
def test_emergency_answer_shows_the_urgent_card_on_that_page(app, patient, qid):
    walk_to(patient, app, "warning-signs")
    data = page_data(steps.BY_ID["warning-signs"], {**BASELINE, qid: "yes"}, clinic_today(app), {})
    response = patient.post("/step/warning-signs", data)
    # The same page comes back, now with the card, before anything else.
    assert response.headers["Location"].endswith("/step/warning-signs#urgent")
    html = patient.get("/step/warning-signs").get_data(as_text=True)
    assert '<section class="urgent-card" id="urgent" data-urgent-card  aria-labelledby' in html
    assert "Call 911 or go to the nearest emergency room now." in text_of(html)
    # The form can still be sent so staff see it; the card stays on the later pages.
    response = patient.post("/step/warning-signs", data)
    assert response.headers["Location"].endswith("/step/feels-like")
    assert "Call 911 or go to the nearest emergency room now." in text_of(
        patient.get("/step/feels-like").get_data(as_text=True)
    )


def test_prompt_level_answer_does_not_show_the_911_card(app, patient):
    walk_to(patient, app, "warning-signs")
    data = page_data(
        steps.BY_ID["warning-signs"], {**BASELINE, "rf_weight": "yes"}, clinic_today(app), {}
    )
    response = patient.post("/step/warning-signs", data)
    assert response.headers["Location"].endswith("/step/feels-like")


def test_warning_page_carries_the_hidden_card_for_the_script(app, patient):
    walk_to(patient, app, "warning-signs")
    html = patient.get("/step/warning-signs").get_data(as_text=True)
    assert "data-urgent-card hidden" in html
    assert html.count("data-emergency") >= 2 * len(questionnaire.EMERGENCY_QUESTIONS)
