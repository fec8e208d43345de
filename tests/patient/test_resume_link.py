"""Resume links cannot be fixed on someone else: the date of birth first, then a new token.

The attack: someone saves a form, sends its link to another person, that person fills every
page, and the first opens the same link again to read their name, phone, email and result.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import select

from screening.extensions import db
from screening.models import Draft, Submission
from tests.factories import BASELINE, CONTACT
from tests.patient.test_validation import walk_to
from tests.patient_client import Patient, clinic_today

VICTIM = {
    "full_name": "Vera Quintana-Victim",
    "phone": "555 987 6543",
    "email": "vera.victim@example.org",
    "best_time": "evening",
}
#: Pages an attacker's browser may ask for once it has the link back.
LOOK_AT = ("/review", "/done", "/done/print", "/done/result.pdf", "/saved", "/step/contact", "/")


def save_for_later(patient: Patient, app, answers=BASELINE) -> tuple[str, str]:
    """Answer the first pages, press "save", return (the link's path, the code)."""
    walk_to(patient, app, "where", answers)
    patient.post("/step/where", {"action": "save"})
    html = patient.get("/saved").get_data(as_text=True)
    link = re.search(r'class="resume-link"><a href="([^"]+)"', html).group(1)
    code = re.search(r'id="resume-code">([^<]+)<', html).group(1)
    return link.replace("http://localhost", ""), code


def dob_fields(app, draft_id: int | None = None) -> dict[str, str]:
    with app.app_context():
        query = select(Draft).order_by(Draft.id)
        draft = db.session.get(Draft, draft_id) if draft_id else db.session.scalar(query)
        year, month, day = draft.personal["dob"].split("-")
    return {"dob_day": day, "dob_month": month, "dob_year": year}


def finish(patient: Patient, app, answers, contact) -> None:
    """Fill every page that is still needed and send (asserts each step)."""
    patient.complete(answers, clinic_today(app), contact)
    assert patient.get("/review").status_code == 200
    assert patient.post("/submit", {"consent": "y"}).headers["Location"].endswith("/done")


def everything_seen(patient: Patient, link: str, dob: dict[str, str]) -> str:
    """Open the link again, give a date of birth, and read every page the browser reaches."""
    texts = [patient.get(link).get_data(as_text=True)]
    texts.append(patient.post(link, dob).get_data(as_text=True))
    for url in LOOK_AT:
        response = patient.client.get(url, follow_redirects=True)
        texts.append(response.get_data(as_text=True) if response.mimetype == "text/html" else "")
        texts.append(repr(response.get_data()[:200000]))
    return "\n".join(texts)


@pytest.mark.parametrize("attacker_knows_the_birthday", [False, True])
def test_the_attack_in_issue_14_shows_the_attacker_nothing(app, attacker_knows_the_birthday):
    victim_answers = {**BASELINE, "age": 45}
    attacker_answers = {**BASELINE, "age": 45 if attacker_knows_the_birthday else 61}
    attacker = Patient(app.test_client())
    link, code = save_for_later(attacker, app, attacker_answers)
    attacker_dob = dob_fields(app)

    # The victim opens the link: nothing of the saved form before the date of birth.
    victim = Patient(app.test_client())
    gate = victim.get(link)
    html = gate.get_data(as_text=True)
    assert gate.status_code == 200 and "Open your saved answers" in html
    assert "Did someone else give you this link? Do not use it." in html
    assert code not in html and attacker_dob["dob_year"] not in html and "m3_12" not in html
    today = clinic_today(app)
    born = today.replace(year=today.year - 45, day=min(today.day, 28))
    victim_dob = {
        "dob_day": str(born.day),
        "dob_month": str(born.month),
        "dob_year": str(born.year),
    }
    answer = victim.post(link, victim_dob)
    if attacker_knows_the_birthday:
        # The link opens for the victim, and moves the form on to a new token.
        assert answer.status_code == 303
    else:
        assert answer.status_code == 200
        assert "That date of birth does not match these saved answers" in answer.get_data(
            as_text=True
        )
        victim.get("/")  # "Start your own form"
    finish(victim, app, victim_answers, VICTIM)
    with app.app_context():
        sent = db.session.scalar(select(Submission))
        assert sent.personal["full_name"] == VICTIM["full_name"]
        reference = sent.reference

    # The attacker opens the same link again, with the date of birth they typed.
    seen = everything_seen(attacker, link, attacker_dob)
    for secret in (*VICTIM.values(), "987-6543", "987 6543", reference):
        assert secret not in seen, secret
    if attacker_knows_the_birthday:
        assert "This link was replaced" in seen
        assert "Your reference code is" not in seen  # no result page at all
    else:
        # Their own form, untouched by anyone else.
        assert attacker.client.get("/step/how-long").status_code == 200


def test_another_browser_needs_the_date_of_birth_then_the_link_moves_on(app, patient):
    link, _code = save_for_later(patient, app)
    dob = dob_fields(app)
    other = Patient(app.test_client())
    assert other.get(link).status_code == 200
    assert other.get("/step/how-long").headers["Location"].endswith("/step/about-you")
    wrong = other.post(link, {**dob, "dob_year": str(int(dob["dob_year"]) - 1)})
    html = wrong.get_data(as_text=True)
    assert "That date of birth does not match these saved answers" in html
    assert 'href="#dob_month"' in html  # the error summary points at the date
    assert other.get("/step/how-long").headers["Location"].endswith("/step/about-you")
    badly_typed = other.post(link, {**dob, "dob_year": "19"})
    assert "Year must have 4 numbers" in badly_typed.get_data(as_text=True)

    opened = other.post(link, dob)
    assert opened.headers["Location"].endswith("/step/where")
    assert other.get("/step/how-long").status_code == 200
    # The link now says it was replaced, to anyone; the browser that made the form has
    # lost it too (its cookie held the old token), as after resuming with the code.
    third = Patient(app.test_client())
    assert "This link was replaced" in third.get(link).get_data(as_text=True)
    assert "This link was replaced" in third.post(link, dob).get_data(as_text=True)
    assert patient.get("/step/how-long").headers["Location"].endswith("/step/about-you")
    # The browser that opened it follows its own old link straight back in.
    assert other.get(link).headers["Location"].endswith("/step/where")


def test_the_browser_holding_the_form_opens_its_own_link_at_once(app, patient):
    link, _code = save_for_later(patient, app)
    response = patient.get(link)
    assert response.status_code == 303 and response.headers["Location"].endswith("/step/where")
    with app.app_context():
        assert db.session.scalar(select(Draft)).replaced_token_hash is None  # not rotated


def test_a_sent_result_from_a_link_needs_the_date_of_birth_and_ends_with_the_draft(app, patient):
    finish(patient, app, BASELINE, CONTACT)
    link = re.search(
        r'class="resume-link noprint"><a href="([^"]+)"', patient.get("/done").get_data(True)
    ).group(1)
    link = link.replace("http://localhost", "")
    with app.app_context():
        sent = db.session.scalar(select(Submission))
        reference = sent.reference
        year, month, day = sent.personal["dob"].split("-")  # a sent draft keeps none
    dob = {"dob_day": day, "dob_month": month, "dob_year": year}

    other = Patient(app.test_client())
    gate = other.get(link).get_data(as_text=True)
    assert reference not in gate and CONTACT["full_name"] not in gate
    for url in ("/done", "/done/print", "/done/result.pdf"):
        assert other.get(url).status_code == 303  # nothing before the date of birth
    assert other.post(link, dob).headers["Location"].endswith("/done")
    assert reference in other.get("/done").get_data(as_text=True)

    # After the draft's lifetime the link shows nothing, date of birth or not.
    days = app.config["DRAFT_LIFETIME_DAYS"]
    with time_machine.travel(timedelta(days=days, minutes=1)):
        late = Patient(app.test_client())
        response = late.get(link)
        assert response.headers["Location"].endswith("/resume?expired=1")
        late.get("/resume")  # a page with a fresh security token, to post the date with
        assert late.post(link, dob).headers["Location"].endswith("/resume?expired=1")
        assert other.get("/done").status_code == 303
        assert other.get("/done/result.pdf").status_code == 303


def test_wrong_dates_of_birth_are_limited_per_form_from_any_address(make_app):
    app = make_app(RATELIMIT_RESUME_FORM="3 per day")
    owner = Patient(app.test_client())
    link, code = save_for_later(owner, app)
    dob = dob_fields(app)
    wrong = {**dob, "dob_year": str(int(dob["dob_year"]) - 2)}
    for number in range(3):
        guesser = Patient(app.test_client())
        guesser.get(link)
        address = {"REMOTE_ADDR": f"198.51.100.{number + 1}"}
        assert guesser.post(link, wrong, environ_base=address).status_code == 200
    # The right date no longer opens it, from anywhere, by link or by code ...
    late = Patient(app.test_client())
    late.get(link)
    refused = late.post(link, dob, environ_base={"REMOTE_ADDR": "203.0.113.5"})
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 3600
    late.get("/resume")
    by_code = late.post("/resume", {"code": code, **dob})
    assert by_code.status_code == 429
    # ... while the owner's own browser goes on, and another form is not affected.
    assert owner.get("/step/where").status_code == 200
    other_owner = Patient(app.test_client())
    other_link, _ = save_for_later(other_owner, app)
    with app.app_context():
        other_id = db.session.scalars(select(Draft.id).order_by(Draft.id)).all()[-1]
    stranger = Patient(app.test_client())
    stranger.get(other_link)
    assert stranger.post(other_link, dob_fields(app, other_id)).status_code == 303


def test_wrong_dates_with_the_code_count_against_the_form_too(make_app):
    app = make_app(RATELIMIT_RESUME_FORM="2 per day")
    owner = Patient(app.test_client())
    link, code = save_for_later(owner, app)
    dob = dob_fields(app)
    guesser = Patient(app.test_client())
    guesser.get("/resume")
    for year_back in (1, 2):
        wrong = {**dob, "dob_year": str(int(dob["dob_year"]) - year_back)}
        page = guesser.post("/resume", {"code": code, **wrong})
        assert "We could not find saved answers" in page.get_data(as_text=True)
    guesser.get(link)
    assert guesser.post(link, dob).status_code == 429


def test_a_form_without_a_date_of_birth_cannot_be_opened_elsewhere(app, patient):
    patient.get("/step/about-you")
    patient.post("/step/about-you", {"preg": "no", "action": "save"})
    with app.app_context():
        assert "dob" not in db.session.scalar(select(Draft)).personal
    link = re.search(
        r'class="resume-link"><a href="([^"]+)"', patient.get("/saved").get_data(as_text=True)
    ).group(1)
    link = link.replace("http://localhost", "")
    other = Patient(app.test_client())
    assert other.get(link).headers["Location"].endswith("/resume?expired=1")
    assert patient.get(link).headers["Location"].endswith("/step/about-you")  # its own browser


def test_an_expired_page_token_brings_the_date_of_birth_page_back(app, patient):
    link, _code = save_for_later(patient, app)
    other = Patient(app.test_client())
    other.get(link)
    response = other.client.post(link, data=dob_fields(app))  # no CSRF token
    assert response.status_code == 303 and response.headers["Location"].endswith(link)
    assert other.get("/step/how-long").headers["Location"].endswith("/step/about-you")
