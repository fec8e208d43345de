"""Bad input gets a message beside the field and in a summary; nothing typed is lost."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from screening.extensions import db
from screening.models import Draft
from screening.patient import steps
from tests.factories import BASELINE
from tests.patient_client import clinic_today, page_data


def walk_to(patient, app, step_id, answers=BASELINE):
    """Complete every page before ``step_id``."""
    for step in steps.STEPS:
        if step.id == step_id:
            return
        if step.applies(answers):
            response = patient.answer(step.id, page_data(step, answers, clinic_today(app), {}))
            assert response.status_code == 303, step.id


def summary_links(html: str) -> list[tuple[str, str]]:
    block = html.split("data-error-summary", 1)[1].split("</div>", 1)[0]
    return re.findall(r'<a href="#([^"]+)">([^<]+)</a>', block)


def test_missing_answers_get_messages_title_summary_and_keep_the_rest(app, patient):
    walk_to(patient, app, "how-long")
    response = patient.post("/step/how-long", {"dur": "m3_12", "action": "continue"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<title>Error: How long and how it started" in html
    # The summary links to the first option of each unanswered question, in page order.
    assert summary_links(html) == [
        ("onset-gradual", "How did the pain start? Select an answer."),
        ("trend-worse_fast", "Over the past month, is the pain… Select an answer."),
    ]
    assert 'id="onset-error"' in html and 'id="trend-error"' in html
    # What was typed is still selected.
    assert 'value="m3_12" checked' in html


def test_unknown_answer_code_is_refused_with_a_message(app, patient):
    walk_to(patient, app, "how-long")
    response = patient.post(
        "/step/how-long", {"dur": "forever", "onset": "gradual", "trend": "same"}
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert (
        "dur-lt_2w",
        "How long have you had this pain? Select one of the answers shown.",
    ) in summary_links(html)
    assert 'value="gradual" checked' in html


@pytest.mark.parametrize(
    ("step_id", "field", "values", "label"),
    [
        ("treatments", "tx", ["tx_none", "tx_pt"], "Nothing yet"),
        ("medicines", "bt", ["bt_none", "bt_warfarin"], "None of these"),
        ("allergies", "allergy", ["alg_none", "alg_latex"], "None that I know of"),
        ("triggers", "triggers", ["trig_none", "trig_posture"], "Nothing I can tell"),
    ],
)
def test_exclusive_options_cannot_be_combined(app, patient, step_id, field, values, label):
    walk_to(patient, app, step_id)
    data = page_data(steps.BY_ID[step_id], BASELINE, clinic_today(app), {})
    data[field] = values
    html = patient.post(f"/step/{step_id}", data).get_data(as_text=True)
    assert f"You picked “{label}” and another answer." in html
    assert html.count("checked") >= 2  # both ticks are still shown so the person can choose


def test_exclusive_none_in_prior_injection_problems(app, patient):
    answers = {**BASELINE, "tx": ["tx_pt", "tx_otc", "tx_tpi"]}
    walk_to(patient, app, "treatment-results", answers)
    data = page_data(steps.BY_ID["treatment-results"], answers, clinic_today(app), {})
    data.update(
        tpi_last="m3_12",
        tpi_sessions_12m="s1",
        tpi_relief="lt_half",
        tpi_problems=["none", "bruising"],
    )
    html = patient.post("/step/treatment-results", data).get_data(as_text=True)
    assert "You picked “No problems” and another answer." in html


def test_text_longer_than_its_limit_is_refused_and_kept(app, patient):
    walk_to(patient, app, "where")
    text = "x" * 201
    response = patient.post("/step/where", {"regions": ["neck_l"], "other_location": text})
    html = response.get_data(as_text=True)
    assert "Use 200 characters or fewer. You have used 201." in html
    assert text in html
    assert 'value="neck_l" checked' in html


def test_control_characters_in_text_are_refused_not_stored(app, patient):
    walk_to(patient, app, "where")
    response = patient.post(
        "/step/where", {"regions": ["neck_l"], "other_location": "left\x00side"}
    )
    assert response.status_code == 200
    assert "characters we cannot save" in response.get_data(as_text=True)


def test_scale_outside_0_to_10_is_refused(app, patient):
    walk_to(patient, app, "how-bad")
    response = patient.post("/step/how-bad", {"peg_p": "11", "peg_e": "5", "peg_g": "-1"})
    links = [
        (target, text.rsplit("? ", 1)[1])
        for target, text in summary_links(response.get_data(as_text=True))
    ]
    assert links == [
        ("peg_p-0", "Select a number from 0 to 10."),
        ("peg_g-0", "Select a number from 0 to 10."),
    ]


@pytest.mark.parametrize(
    ("day", "month", "year", "message"),
    [
        ("", "", "", "Enter your date of birth."),
        ("ab", "3", "1980", "Date of birth must be numbers only"),
        ("31", "2", "1980", "Date of birth must be a real date."),
        ("1", "1", "80", "Year must have 4 numbers"),
        ("1", "1", "2999", "Date of birth must be in the past."),
        ("1", "1", "1850", "Check the year of your date of birth."),
        # Typed day first (15 6 1980): the message says which box is which.
        ("6", "15", "1980", "Put the month first, then the day."),
    ],
)
def test_date_of_birth_errors(patient, day, month, year, message):
    response = patient.answer(
        "about-you",
        {"dob_day": day, "dob_month": month, "dob_year": year, "preg": "no", "breastfeed": "no"},
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert message in html
    assert summary_links(html)[0][0] == "dob_month"
    assert 'value="no" checked' in html


def test_date_of_birth_is_month_day_year_and_reads_back_us_style(patient):
    """A US patient types 6 15 1980 in the Month, Day, Year boxes; 3 4 1980 is March 4."""
    html = patient.get("/step/about-you").get_data(as_text=True)
    boxes = [html.index(f'id="{name}"') for name in ("dob_month", "dob_day", "dob_year")]
    assert boxes == sorted(boxes), "the boxes are not in month, day, year order"
    assert "For example, 6 15 1980" in html
    assert 'autocomplete="bday-month"' in html
    patient.answer(
        "about-you",
        {"dob_month": "3", "dob_day": "4", "dob_year": "1980", "preg": "no", "breastfeed": "no"},
    )
    again = patient.get("/step/about-you").get_data(as_text=True)
    month = re.search(r'<input[^>]*id="dob_month"[^>]*>', again).group(0)
    assert 'value="3"' in month


def test_under_18_stops_at_once_with_the_adults_only_message(app, patient):
    today = clinic_today(app)
    response = patient.answer(
        "about-you",
        {
            "dob_day": str(today.day),
            "dob_month": str(today.month),
            "dob_year": str(today.year - 17),
            "preg": "no",
            "breastfeed": "no",
        },
    )
    assert response.status_code == 303
    page = patient.get(response.headers["Location"]).get_data(as_text=True)
    assert "This form is for adults 18 and older. Please talk with your child's doctor." in page
    # Nothing about the minor was saved, and the next page cannot be reached.
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Draft)) == 0
    assert patient.get("/step/how-long").headers["Location"].endswith("/step/about-you")


def test_turning_18_today_is_allowed(app, patient):
    today = clinic_today(app)
    born_day = min(today.day, 28)
    response = patient.answer(
        "about-you",
        {
            "dob_day": str(born_day),
            "dob_month": str(today.month),
            "dob_year": str(today.year - 18),
            "preg": "no",
            "breastfeed": "no",
        },
    )
    assert response.headers["Location"].endswith("/step/how-long")


def test_contact_errors(app, patient):
    walk_to(patient, app, "contact")
    response = patient.post(
        "/step/contact", {"full_name": "", "phone": "call me", "email": "nope", "best_time": ""}
    )
    links = dict(summary_links(response.get_data(as_text=True)))
    assert links == {
        "full_name": "Enter your full name.",
        "phone": "Enter a phone number using numbers, like 555 123 4567.",
        "email": "Enter an email address like name@example.com, or leave it empty.",
        "best_time-morning": "Select the best time to call you.",
    }


@pytest.mark.parametrize(
    "data",
    [
        [("dur", "m3_12"), ("status", "closed")],  # mass assignment attempt
        [("dur", "m3_12"), ("dur", "lt_2w")],  # a single answer given twice
        [("regions", "neck_l"), ("regions", "neck_l")],
    ],
)
def test_tampered_posts_get_a_400_page_and_store_nothing(app, patient, data):
    walk_to(patient, app, "how-long")
    step_id = "where" if data[0][0] == "regions" else "how-long"
    with app.app_context():
        before = db.session.scalar(select(Draft)).answers
    response = patient.post(f"/step/{step_id}", data)
    assert response.status_code == 400
    assert "We could not read that page" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(Draft)).answers == before


def test_oversize_body_gets_413(patient):
    patient.get("/step/about-you")
    response = patient.post("/step/about-you", {"dob_day": "x" * (300 * 1024)})
    assert response.status_code == 413
    assert "That was too much to send" in response.get_data(as_text=True)


def test_thousands_of_fields_get_a_4xx_not_500(patient):
    patient.get("/step/about-you")
    response = patient.post("/step/about-you", [(f"f{i}", "1") for i in range(5000)])
    assert response.status_code in (400, 413)
