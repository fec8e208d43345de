"""Never lose what a patient typed: drafts, resume, Back, expiry."""

from __future__ import annotations

import base64
import json
import re
import zlib
from datetime import timedelta

from sqlalchemy import select

from screening.extensions import db
from screening.models import Draft, utcnow
from screening.patient import steps
from tests.factories import BASELINE
from tests.patient.test_validation import walk_to
from tests.patient_client import Patient, clinic_today, page_data


def saved_draft(app) -> Draft:
    with app.app_context():
        return db.session.scalar(select(Draft))


def session_cookie(client) -> dict:
    cookie = client.get_cookie("screening_session")
    payload = cookie.value.split(".")[0 if not cookie.value.startswith(".") else 1]
    raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    if cookie.value.startswith("."):
        raw = zlib.decompress(raw)
    return json.loads(raw)


def test_each_page_is_saved_on_the_server_and_the_cookie_holds_only_a_token(app, patient):
    walk_to(patient, app, "where")
    draft = saved_draft(app)
    assert draft.answers["peg_p"] == 6 and draft.answers["dur"] == "m3_12"
    cookie = session_cookie(patient.client)
    assert set(cookie) <= {"draft", "csrf_token", "_permanent"}
    text = json.dumps(cookie)
    assert "m3_12" not in text and str(draft.personal["dob"]) not in text
    # The database keeps a hash of the token, never the token itself.
    assert cookie["draft"] != draft.token_hash


def test_save_and_come_back_later_on_another_device_with_the_link(app, patient):
    walk_to(patient, app, "how-bad")
    # A half-filled page is saved too (valid answers only).
    response = patient.post("/step/how-bad", {"peg_p": "7", "action": "save"})
    assert response.headers["Location"].endswith("/saved")
    page = patient.get("/saved").get_data(as_text=True)
    link = re.search(r'class="resume-link"><a href="([^"]+)"', page).group(1)
    code = re.search(r'id="resume-code">([^<]+)<', page).group(1)
    assert re.fullmatch(r"[2-9A-Z]{3}-[2-9A-Z]{3}-[2-9A-Z]{3}", code)

    other = Patient(app.test_client())
    path = link.replace("http://localhost", "")
    # Another browser is asked for the date of birth first (see test_resume_link.py).
    assert "Open your saved answers" in other.get(path).get_data(as_text=True)
    year, month, day = saved_draft(app).personal["dob"].split("-")
    response = other.post(path, {"dob_day": day, "dob_month": month, "dob_year": year})
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/step/how-bad")
    html = other.get("/step/how-bad").get_data(as_text=True)
    assert 'id="peg_p-7" name="peg_p" value="7" checked' in html
    assert other.get("/step/how-long").get_data(as_text=True).count("checked") == 3


def test_resume_with_code_and_date_of_birth(app, patient):
    walk_to(patient, app, "where")
    draft = saved_draft(app)
    year, month, day = draft.personal["dob"].split("-")
    other = Patient(app.test_client())
    other.get("/resume")
    wrong = other.post(
        "/resume",
        {
            "code": draft.resume_code,
            "dob_day": day,
            "dob_month": month,
            "dob_year": str(int(year) - 1),
        },
    )
    assert "We could not find saved answers with that code and date of birth" in wrong.get_data(
        as_text=True
    )
    typed = draft.resume_code.lower().replace("-", " ")
    response = other.post(
        "/resume", {"code": typed, "dob_day": day, "dob_month": month, "dob_year": year}
    )
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/step/where")
    # Resuming gives the draft a new token: the first browser's cookie no longer opens it.
    assert patient.get("/step/how-long").headers["Location"].endswith("/step/about-you")


def test_unknown_link_goes_to_the_code_page(patient):
    response = patient.get("/r/not-a-real-token")
    assert response.headers["Location"].endswith("/resume?expired=1")
    assert "That link has expired" in patient.get("/resume?expired=1").get_data(as_text=True)


def test_expired_draft_cannot_be_resumed_and_is_purged(app, patient, runner):
    walk_to(patient, app, "where")
    with app.app_context():
        draft = db.session.scalar(select(Draft))
        draft.expires_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
    assert patient.get("/step/where").headers["Location"].endswith("/step/about-you")
    result = runner.invoke(args=["drafts", "purge"])
    assert "Deleted 1 expired draft(s)." in result.output
    assert saved_draft(app) is None


def test_drafts_live_for_the_configured_time(make_app):
    app = make_app(DRAFT_LIFETIME_DAYS=2)
    patient = Patient(app.test_client())
    walk_to(patient, app, "how-long")
    draft = saved_draft(app)
    assert (
        timedelta(days=2) - timedelta(minutes=1)
        < draft.expires_at - draft.updated_at
        <= timedelta(days=2)
    )


def test_previous_button_saves_and_goes_back(app, patient):
    walk_to(patient, app, "how-bad")
    response = patient.post("/step/how-bad", {"peg_p": "3", "peg_e": "4", "action": "back"})
    assert response.headers["Location"].endswith("/step/how-long")
    html = patient.get("/step/how-bad").get_data(as_text=True)
    assert 'value="3" checked' in html and 'value="4" checked' in html


def test_browser_back_shows_saved_answers_and_pages_are_not_cached(app, patient):
    walk_to(patient, app, "where")
    response = patient.get("/step/how-long")
    assert response.headers["Cache-Control"] == "no-store"
    html = response.get_data(as_text=True)
    assert 'value="m3_12" checked' in html and 'value="gradual" checked' in html


def test_pages_must_be_done_in_order(app, patient):
    walk_to(patient, app, "how-bad")
    response = patient.get("/step/medicines")
    assert response.headers["Location"].endswith("/step/how-bad")
    # Posting a later page saves what was typed, then sends the person to the gap.
    data = page_data(steps.BY_ID["medicines"], BASELINE, clinic_today(app), {})
    response = patient.post("/step/medicines", data)
    assert response.headers["Location"].endswith("/step/how-bad")
    assert saved_draft(app).answers["diabetes"] == "no"


def test_change_link_returns_to_review(app, patient):
    patient.complete(BASELINE, clinic_today(app))
    patient.get("/step/medicines?return_to=review")
    data = page_data(steps.BY_ID["medicines"], BASELINE, clinic_today(app), {})
    data["diabetes"] = "insulin"
    response = patient.post("/step/medicines?return_to=review", data)
    assert response.headers["Location"].endswith("/review")
    assert "Yes, I take insulin" in patient.get("/review").get_data(as_text=True)


def test_change_that_adds_a_follow_up_asks_it_then_returns_to_review(app, patient):
    patient.complete(BASELINE, clinic_today(app))
    data = page_data(steps.BY_ID["treatments"], BASELINE, clinic_today(app), {})
    data["tx"] = ["tx_pt", "tx_otc", "tx_massage"]
    response = patient.post("/step/treatments?return_to=review", data)
    assert response.headers["Location"].endswith("/step/treatment-results?return_to=review")
    data = page_data(
        steps.BY_ID["treatment-results"],
        {**BASELINE, "tx_massage_effect": "helped_lot", "tx": data["tx"]},
        clinic_today(app),
        {},
    )
    response = patient.post("/step/treatment-results?return_to=review", data)
    assert response.headers["Location"].endswith("/review")


def test_review_cannot_be_skipped_to(app, patient):
    walk_to(patient, app, "feels-like")
    assert patient.get("/review").headers["Location"].endswith("/step/feels-like")
