"""CSRF on every post; an expired token re-shows the page with what was typed."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine
from sqlalchemy import func, select

from screening.extensions import csrf, db
from screening.models import Draft, Submission
from screening.public import OWN_AUTHENTICATION, authenticates_itself
from tests.factories import BASELINE
from tests.patient_client import Patient, clinic_today


def post_rules(app):
    return [r for r in app.url_map.iter_rules() if "POST" in r.methods]


def test_no_view_is_exempt_from_csrf_but_the_bearer_token_api(app):
    # The record systems' API (screening/fhir) takes bearer tokens only: a browser never
    # adds one to a request by itself, so there is nothing to forge.
    assert not csrf._exempt_views
    checks_itself = {
        name for name, bp in app.blueprints.items() if getattr(bp, OWN_AUTHENTICATION, False)
    }
    assert {bp.name for bp in csrf._exempt_blueprints} == checks_itself == {"fhir"}


def test_every_post_without_a_token_changes_nothing(app, patient):
    patient.complete(BASELINE, clinic_today(app))
    client = patient.client
    for rule in post_rules(app):
        url = (
            rule.rule.replace("<step_id>", "how-long")
            .replace("<int:user_id>", "1")
            .replace("<int:clinic_id>", "1")
        )
        response = client.post(url, data={"dur": "lt_2w", "consent": "y"})
        token_api = authenticates_itself(app, rule.endpoint)
        assert response.status_code in ((401,) if token_api else (200, 303, 400)), url
        with app.app_context():
            assert db.session.scalar(select(func.count()).select_from(Submission)) == 0
            assert db.session.scalar(select(Draft)).answers["dur"] == "m3_12"


ABOUT_YOU = {
    "dob_day": "3",
    "dob_month": "4",
    "dob_year": "1970",
    "preg": "not_applicable",
    "breastfeed": "no",
}


def test_expired_token_reshows_the_page_with_typed_answers(app):
    """The page was open longer than the app's token lifetime (the clock is moved on, not
    waited for): the page comes back with what was typed, and the next press saves."""
    limit = app.config["WTF_CSRF_TIME_LIMIT"]
    with time_machine.travel(datetime.now(UTC), tick=False) as clock:
        on_time = Patient(app.test_client())
        late = Patient(app.test_client())
        on_time.get("/step/about-you")
        late.get("/step/about-you")
        clock.shift(limit)  # a token exactly as old as the limit is still good
        assert on_time.post("/step/about-you", ABOUT_YOU).status_code == 303
        clock.shift(1)
        response = late.post("/step/about-you", ABOUT_YOU)
        html = response.get_data(as_text=True)
        assert response.status_code == 200
        assert "This page was open for a long time" in html
        assert 'value="1970"' in html and 'value="not_applicable" checked' in html
        # One more press, with the fresh token on the page, saves it.
        response = late.post("/step/about-you", ABOUT_YOU)
        assert response.status_code == 303
    with app.app_context():
        saved = db.session.scalars(select(Draft)).all()
        assert [draft.answers["preg"] for draft in saved] == ["not_applicable"] * 2


def test_expired_token_on_submit_keeps_the_review_page(app):
    with time_machine.travel(datetime.now(UTC), tick=False) as clock:
        patient = Patient(app.test_client())
        patient.complete(BASELINE, clinic_today(app))
        patient.get("/review")
        clock.shift(app.config["WTF_CSRF_TIME_LIMIT"] + 1)
        response = patient.post("/submit", {"consent": "y"})
        assert response.status_code == 200
        assert "This page was open for a long time" in response.get_data(as_text=True)
        assert patient.post("/submit", {"consent": "y"}).status_code == 303
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Submission)) == 1


@pytest.mark.parametrize("url", ["/start-again", "/resume"])
def test_other_posts_without_a_token_are_refused_plainly(client, url):
    response = client.post(url, data={})
    assert response.status_code in (303, 400)
    assert "Traceback" not in response.get_data(as_text=True)
