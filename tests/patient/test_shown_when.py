""" "Shown when" rules are enforced by the server: hidden means neither required nor stored."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from screening.extensions import db
from screening.models import Draft
from screening.patient import steps
from screening.scoring import questionnaire
from tests.factories import BASELINE, answers
from tests.patient.test_validation import walk_to
from tests.patient_client import clinic_today, page_data

#: For each conditional question: baseline overrides that show it (B itself hides each).
SHOW = {
    "triggers_other": {"triggers": ["trig_other"]},
    "tx_pt_effect": {},
    "pt_weeks": {},
    "tpi_last": {"tx": ["tx_pt", "tx_otc", "tx_tpi"]},
    "tpi_sessions_12m": {"tx": ["tx_pt", "tx_otc", "tx_tpi"]},
    "tpi_relief": {"tx": ["tx_pt", "tx_otc", "tx_tpi"]},
    "tpi_problems": {"tx": ["tx_pt", "tx_otc", "tx_tpi"]},
    "tpi_duration": {"tx": ["tx_pt", "tx_otc", "tx_tpi"], "tpi_relief": "ge_half"},
    "tpi_problems_other": {"tx": ["tx_pt", "tx_otc", "tx_tpi"], "tpi_problems": ["other"]},
    "bt_other_text": {"bt": ["bt_other"]},
    "allergy_other": {"allergy": ["alg_other"]},
    "la_reaction": {"allergy": ["alg_lidocaine"]},
    "la_reaction_other": {"allergy": ["alg_bupivacaine"], "la_reaction": "other"},
    "ha_new": {"regions": ["head_l", "neck_l"], "primary_region": "head_l"},
    "ha_gca": {"regions": ["jaw_r"], "primary_region": "jaw_r"},
}
#: Overrides that hide a question baseline B shows.
HIDE = {"pt_weeks": {"tx": ["tx_otc"], "pt_weeks": None, "tx_pt_effect": None}}
CONDITIONAL = [q.id for q in questionnaire.QUESTIONS.values() if q.shown_when and not q.about]
EFFECTS = [q.id for q in questionnaire.QUESTIONS.values() if q.about]


def test_every_conditional_question_has_a_case():
    assert sorted(CONDITIONAL) == sorted(k for k in SHOW if k not in ("tx_pt_effect",))


def step_of(qid):
    return next(s for s in steps.STEPS if qid in s.questions)


@pytest.mark.parametrize("qid", sorted(CONDITIONAL))
def test_shown_question_is_required(app, patient, qid):
    given = answers(**SHOW[qid])
    step = step_of(qid)
    walk_to(patient, app, step.id, given)
    data = page_data(step, {k: v for k, v in given.items() if k != qid}, clinic_today(app), {})
    data.pop(qid, None)
    response = patient.post(f"/step/{step.id}", data)
    assert response.status_code == 200
    assert f'id="{qid}-error"' in response.get_data(as_text=True)


@pytest.mark.parametrize("qid", sorted(CONDITIONAL))
def test_hidden_question_is_neither_required_nor_stored(app, patient, qid):
    step = step_of(qid)
    given = answers(**HIDE.get(qid, {}))
    walk_to(patient, app, step.id, given)
    data = page_data(step, given, clinic_today(app), {})
    # A stray answer to the hidden question is posted anyway (for example by a stale page).
    question = questionnaire.QUESTIONS[qid]
    data[qid] = "some text" if question.type == "text" else question.options[0].code
    response = patient.post(f"/step/{step.id}", data)
    assert response.status_code == 303
    with app.app_context():
        assert qid not in db.session.scalar(select(Draft)).answers


def test_every_treatment_effect_is_asked_only_for_treatments_picked(app, patient):
    tried = ["tx_massage", "tx_tens", "tx_tpi"]
    given = answers(tx=tried, pt_weeks=None, tx_pt_effect=None, tx_otc_effect=None)
    walk_to(patient, app, "treatment-results", given)
    html = patient.get("/step/treatment-results").get_data(as_text=True)
    asked = {qid for qid in EFFECTS if f'name="{qid}"' in html}
    assert asked == {"tx_massage_effect", "tx_tens_effect"}
    assert 'name="pt_weeks"' not in html
    assert 'name="tpi_relief"' in html


def test_no_treatment_results_page_when_nothing_was_tried(app, patient):
    given = answers(tx=["tx_none"], pt_weeks=None, tx_pt_effect=None, tx_otc_effect=None)
    walk_to(patient, app, "treatments", given)
    data = page_data(steps.BY_ID["treatments"], given, clinic_today(app), {})
    response = patient.post("/step/treatments", data)
    assert response.headers["Location"].endswith("/step/medicines")


def test_stale_answers_are_cleared_when_their_question_becomes_hidden(app, patient):
    # Given a person who said physical therapy helped and did it for 6 weeks
    patient.complete(BASELINE, clinic_today(app))
    # When they go back and untick physical therapy
    data = page_data(steps.BY_ID["treatments"], BASELINE, clinic_today(app), {})
    data["tx"] = ["tx_otc"]
    patient.answer("treatments", data)
    # Then its follow-up answers are gone from the draft
    with app.app_context():
        saved = db.session.scalar(select(Draft)).answers
    assert "tx_pt_effect" not in saved and "pt_weeks" not in saved
    assert saved["tx_otc_effect"] == "helped_little"


def test_headache_questions_follow_the_body_map(app, patient):
    given = answers(regions=["head_l", "neck_l"], primary_region="head_l", ha_new="no", ha_gca="no")
    patient.complete(given, clinic_today(app))
    patient.answer("where", {"regions": ["neck_l"]})
    with app.app_context():
        saved = db.session.scalar(select(Draft)).answers
    assert "ha_new" not in saved and "ha_gca" not in saved
    # A single place picked is also the place that bothers them most.
    assert saved["primary_region"] == "neck_l"


def test_most_bothersome_place_offers_only_places_picked(app, patient):
    walk_to(patient, app, "where-most")
    html = patient.get("/step/where-most").get_data(as_text=True)
    offered = set(__import__("re").findall(r'name="primary_region" value="([^"]+)"', html))
    assert offered == {"lower_back_l", "buttock_hip_l"}
    response = patient.post("/step/where-most", {"primary_region": "neck_l"})
    assert "Select one of the answers shown." in response.get_data(as_text=True)


def test_in_page_follow_ups_carry_their_condition_for_the_script(app, patient):
    walk_to(patient, app, "allergies")
    html = patient.get("/step/allergies").get_data(as_text=True)
    assert (
        'data-reveal-q="allergy" data-reveal-values="alg_lidocaine alg_bupivacaine alg_other_caine"'
        in html
    )
    # Without JavaScript the follow-up is on the page with a hint saying when to answer it.
    assert "Answer this only if you picked “Lidocaine (Xylocaine)”" in html
