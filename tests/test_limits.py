"""Rate limits on the public posts, shared through the database: 429, never a 5xx."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
import time_machine
from sqlalchemy import select

from screening import ratelimit
from screening.config import TESTING_LIMIT
from screening.extensions import db
from screening.models import Draft, Submission
from screening.patient import steps
from screening.ratelimit import DatabaseStorage, RateLimitCounter
from tests.factories import BASELINE, CONTACT
from tests.patient_client import Patient, clinic_today, page_data
from tests.test_security import check_headers

ROOT = Path(__file__).resolve().parents[1]
WRONG = {"code": "AAA-BBB-CCC", "dob_day": "1", "dob_month": "2", "dob_year": "1980"}
OTHER_ADDRESS = {"REMOTE_ADDR": "198.51.100.23"}


@pytest.fixture()
def wired(make_app):
    """Build apps (keyword arguments are config); the factory wires both modules."""
    return make_app


def burst(patient: Patient, url: str, count: int, **kwargs) -> list:
    responses = [patient.post(url, WRONG, **kwargs) for _ in range(count)]
    for response in responses:
        response.close()
    return responses


def test_limits_are_on_under_testing_but_high(wired):
    app = wired()
    assert ratelimit.limiter in app.extensions["limiter"]
    assert app.config["RATELIMIT_STORAGE_URI"] == "screening-db://"
    assert app.config["RATELIMIT_STRATEGY"] == "fixed-window"
    limits = {
        *ratelimit.DEFAULT_LIMITS,
        *ratelimit.SEND_LIMITS,
        *ratelimit.FORM_CHECK_LIMITS,
        "RATELIMIT_API",
        "RATELIMIT_API_FAILURES",
    }
    for setting in limits:
        assert app.config[setting] == TESTING_LIMIT


def test_production_defaults():
    assert ratelimit.DEFAULT_LIMITS == {
        "RATELIMIT_PAGE": "30 per minute;300 per hour",
        "RATELIMIT_SUBMIT": "10 per minute;30 per hour",
        "RATELIMIT_PATIENT_ADDRESS": "1200 per minute;15000 per hour",
        "RATELIMIT_RESUME": "30 per minute;300 per day",
        "RATELIMIT_LOGIN": "30 per minute;300 per hour",
    }
    assert ratelimit.FORM_CHECK_LIMITS == {"RATELIMIT_RESUME_FORM": "5 per hour;10 per day"}


def test_each_view_declares_its_limits(wired):
    # Declared on the views (screening/patient/views.py, screening/staff/views.py), read
    # by the limiter: patients' page posts and sends per form, and per address together;
    # resuming with the code or a link per address together; the staff sign-in per address.
    assert ratelimit.declared_limits(wired()) == {
        "patient.step": {"address": "RATELIMIT_PATIENT_ADDRESS", "form": "RATELIMIT_PAGE"},
        "patient.submit": {"address": "RATELIMIT_PATIENT_ADDRESS", "form": "RATELIMIT_SUBMIT"},
        "patient.resume": {"address": "RATELIMIT_RESUME"},
        "patient.resume_link": {"address": "RATELIMIT_RESUME"},
        "staff.login": {"address": "RATELIMIT_LOGIN"},
    }


def test_resume_burst_gets_429_with_retry_after_on_the_generic_page(wired):
    app = wired(RATELIMIT_RESUME="5 per minute;50 per day")
    patient = Patient(app.test_client())
    responses = burst(patient, "/resume", 8)
    assert [r.status_code for r in responses] == [200] * 5 + [429] * 3

    refused = responses[-1]
    body = refused.get_data(as_text=True)
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert "Too many tries. Please wait a minute and try again." in body
    assert f"Reference: {refused.headers['X-Request-ID']}" in body
    for leak in ("Traceback", "sqlalchemy", "SELECT", "Flask", "Werkzeug", "5 per 1 minute"):
        assert leak not in body
    check_headers(refused)


def test_a_long_wait_does_not_say_a_minute(wired):
    app = wired(RATELIMIT_RESUME="2 per day")
    responses = burst(Patient(app.test_client()), "/resume", 3)
    refused = responses[-1]
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) > 23 * 3600
    assert "Please try again later." in refused.get_data(as_text=True)


def test_another_address_is_not_limited(wired):
    app = wired(RATELIMIT_RESUME="2 per minute")
    assert burst(Patient(app.test_client()), "/resume", 3)[-1].status_code == 429
    other = Patient(app.test_client())
    statuses = [r.status_code for r in burst(other, "/resume", 2, environ_base=OTHER_ADDRESS)]
    assert statuses == [200, 200]


def test_pages_people_read_are_never_limited(wired):
    app = wired(RATELIMIT_RESUME="1 per minute", RATELIMIT_PAGE="1 per minute")
    client = app.test_client()
    assert burst(Patient(client), "/resume", 2)[-1].status_code == 429
    for _ in range(5):
        for url in ("/resume", "/step/about-you", "/"):
            response = client.get(url)
            response.close()
            assert response.status_code in (200, 303), url


def test_submit_burst_from_one_address_is_limited(wired):
    app = wired(RATELIMIT_PATIENT_ADDRESS="3 per minute")
    patient = Patient(app.test_client())
    patient.get("/resume")  # for a CSRF token
    statuses = [patient.post("/submit", {}).status_code for _ in range(100)]
    assert statuses[:3] == [303] * 3  # no draft in this browser: back to the start
    assert set(statuses[3:]) == {429}


def test_one_form_is_limited_and_its_neighbours_behind_the_same_address_are_not(wired):
    app = wired(RATELIMIT_PAGE="3 per minute", RATELIMIT_SUBMIT="2 per minute")
    hurried = Patient(app.test_client())
    # The first post makes the form (no form yet: only the address counts it), then three
    # posts of that form are allowed and the fourth is refused.
    statuses = [hurried.answer("about-you", {"action": "save"}).status_code for _ in range(5)]
    assert statuses == [303, 303, 303, 303, 429]
    refused = hurried.post("/step/about-you", {"action": "save"})
    assert refused.status_code == 429 and 1 <= int(refused.headers["Retry-After"]) <= 60
    # Sending is counted for the form on its own.
    assert [hurried.post("/submit", {}).status_code for _ in range(3)][-1] == 429
    # Another person at the same address (the same REMOTE_ADDR) goes on.
    neighbour = Patient(app.test_client())
    statuses = [neighbour.answer("about-you", {"action": "save"}).status_code for _ in range(4)]
    assert statuses == [303] * 4
    with time_machine.travel(time.time() + 61, tick=False):
        assert hurried.post("/step/about-you", {"action": "save"}).status_code == 303


def test_the_address_ceiling_counts_every_patient_post_form_or_not(wired):
    app = wired(RATELIMIT_PATIENT_ADDRESS="6 per minute")
    one, two = Patient(app.test_client()), Patient(app.test_client())
    statuses = [one.answer("about-you", {"action": "save"}).status_code for _ in range(3)]
    statuses += [two.answer("about-you", {"action": "save"}).status_code for _ in range(2)]
    statuses.append(two.post("/submit", {}).status_code)  # page posts and submits together
    assert 429 not in statuses
    # Dropping the cookie (a new form every time) does not get round it.
    fresh = Patient(app.test_client())
    assert fresh.answer("about-you", {"action": "save"}).status_code == 429
    other = Patient(app.test_client())
    assert (
        other.answer("about-you", {"action": "save"}, environ_base=OTHER_ADDRESS).status_code == 303
    )


def test_form_counters_are_keyed_by_a_hash_never_the_token(wired):
    app = wired(RATELIMIT_PAGE="5 per minute")
    patient = Patient(app.test_client())
    for _ in range(2):
        patient.answer("about-you", {"action": "save"})
    cookie = patient.client.get_cookie("screening_session").value
    token = app.session_interface.get_signing_serializer(app).loads(cookie)["draft"]
    with app.app_context():
        keys = list(db.session.scalars(select(RateLimitCounter.key)))
        draft = db.session.scalar(select(Draft))
    assert any("form:" in key for key in keys)
    for key in keys:
        assert token not in key and draft.token_hash not in key


# ------------------------------------------------------------------ a waiting room, one address

WAITING_ROOM = 100
#: One page every 10 seconds for everyone at once: the fastest pace people keep up.
PACE_SECONDS = 10
WAITING_ROOM_ADDRESS = "203.0.113.10"


def waiting_room_journey(patient: Patient, app, number: int):
    """One person's posts, one at a time: a mistake, every page, Back once, and send.

    Only the posts: pages people read are never limited
    (``test_pages_people_read_are_never_limited``), so the page views between them would
    add time but nothing to what is counted. The first page is opened for its CSRF token,
    which then serves every post of the session, as it does in a browser.

    Yields (what was posted, the response, the status it should have).
    """
    today = clinic_today(app)
    contact = {**CONTACT, "full_name": f"Waiting Room Patient {number:03d}"}
    first = patient.answer("about-you", {"preg": "no", "breastfeed": "no", "action": "continue"})
    yield "about-you without a date of birth", first, 200
    for step in steps.STEPS:
        if not step.applies(BASELINE):
            continue
        data = page_data(step, BASELINE, today, contact)
        if step.id == "how-bad":
            # "Previous page", then the page before again, then on.
            yield "back", patient.post(f"/step/{step.id}", {**data, "action": "back"}), 303
            before = page_data(steps.BY_ID["how-long"], BASELINE, today, contact)
            yield "how-long again", patient.post("/step/how-long", before), 303
        yield step.id, patient.post(f"/step/{step.id}", data), 303
    yield "submit", patient.post("/submit", {"consent": "y"}), 303


@pytest.mark.slow
@pytest.mark.no_cover  # 2,000 posts through code the other tests here measure
def test_a_waiting_room_of_100_behind_one_address_all_send_with_the_defaults(wired):
    """With production defaults everyone behind one address finishes.

    100 people, one address, everyone posting a page every 10 seconds at the same time
    (the module docstring of screening/ratelimit.py has the arithmetic).
    """
    app = wired(**ratelimit.DEFAULT_LIMITS, **ratelimit.FORM_CHECK_LIMITS)
    assert app.config["RATELIMIT_ENABLED"] is True
    for setting, value in ratelimit.DEFAULT_LIMITS.items():
        assert app.config[setting] == value
    patients = []
    for _ in range(WAITING_ROOM):
        client = app.test_client()
        client.environ_base["REMOTE_ADDR"] = WAITING_ROOM_ADDRESS
        patients.append(Patient(client))
    journeys = [waiting_room_journey(p, app, n) for n, p in enumerate(patients)]
    posts = 0
    with time_machine.travel(time.time(), tick=False) as clock:
        while journeys:
            for journey in list(journeys):
                try:
                    what, response, expected = next(journey)
                except StopIteration:
                    journeys.remove(journey)
                    continue
                posts += 1
                assert response.status_code == expected, (what, response.status_code)
            clock.shift(PACE_SECONDS)
    assert all(p.last.headers["Location"].endswith("/done") for p in patients)
    with app.app_context():
        sent = db.session.scalars(select(Submission)).all()
    assert len(sent) == WAITING_ROOM
    assert {s.personal["full_name"] for s in sent} == {
        f"Waiting Room Patient {n:03d}" for n in range(WAITING_ROOM)
    }
    # A mistake, every page that applies, Back and the page before again, and send.
    pages = sum(1 for step in steps.STEPS if step.applies(BASELINE))
    assert posts == WAITING_ROOM * (1 + pages + 2 + 1)
    # All of it was counted against the one address (and each form on its own).
    with app.app_context():
        keys = list(db.session.scalars(select(RateLimitCounter.key)))
    assert any(WAITING_ROOM_ADDRESS in k and "RATELIMIT_PATIENT_ADDRESS" in k for k in keys)
    assert sum("form:" in k for k in keys) >= WAITING_ROOM


def test_limit_is_shared_by_two_app_instances_on_one_database(wired):
    first = wired(RATELIMIT_RESUME="4 per minute")
    second = wired(RATELIMIT_RESUME="4 per minute")
    one, two = Patient(first.test_client()), Patient(second.test_client())
    statuses = [(one if turn % 2 else two).post("/resume", WRONG).status_code for turn in range(6)]
    assert statuses == [200] * 4 + [429] * 2

    # The count is in the table both instances read, not in either process.
    with second.app_context():
        [count] = db.session.scalars(select(RateLimitCounter.count)).all()
    assert count == 6


def test_limit_holds_for_another_process(wired, tmp_path):
    """A separate Python process, as a second gunicorn worker would be."""
    app = wired(RATELIMIT_RESUME="3 per minute")
    assert [r.status_code for r in burst(Patient(app.test_client()), "/resume", 3)] == [200] * 3
    script = textwrap.dedent(
        """
        import json, sys
        from screening import create_app
        from tests.patient_client import Patient

        app = create_app(json.loads(sys.argv[1]))
        patient = Patient(app.test_client())
        print(patient.post("/resume", json.loads(sys.argv[2])).status_code)
        """
    )
    config = {
        key: app.config[key]
        for key in ("TESTING", "SECRET_KEY", "SQLALCHEMY_DATABASE_URI", "SERVER_NAME")
    }
    config.update(SESSION_COOKIE_SECURE=False, RATELIMIT_RESUME="3 per minute")
    result = subprocess.run(
        [sys.executable, "-c", script, json.dumps(config), json.dumps(WRONG)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), "PYTHONWARNINGS": "ignore"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().splitlines()[-1] == "429"


def test_counters_expire_after_the_window(wired):
    app = wired(RATELIMIT_RESUME="2 per minute")
    patient = Patient(app.test_client())
    with time_machine.travel(time.time(), tick=False) as clock:
        assert burst(patient, "/resume", 3)[-1].status_code == 429
        clock.shift(59)
        assert burst(patient, "/resume", 1)[-1].status_code == 429
        clock.shift(2)
        assert [r.status_code for r in burst(patient, "/resume", 3)] == [200, 200, 429]


def test_fails_open_and_logs_when_the_counter_table_is_gone(wired, caplog):
    app = wired(RATELIMIT_RESUME="1 per minute")
    with app.app_context():
        RateLimitCounter.__table__.drop(db.engine)
    patient = Patient(app.test_client())
    statuses = [r.status_code for r in burst(patient, "/resume", 3)]
    assert statuses == [200, 200, 200]
    failures = [r for r in caplog.records if r.name == "flask-limiter" and r.exc_info]
    assert failures and all(r.levelno == logging.ERROR for r in failures)


def test_a_limit_declared_on_any_view_is_enforced(wired):
    app = wired(RATELIMIT_LOGIN="2 per minute", WTF_CSRF_ENABLED=False)

    @ratelimit.limit_posts(address="RATELIMIT_LOGIN")
    def sign_in():
        return "form"

    app.add_url_rule("/elsewhere/sign-in", view_func=sign_in, methods=["GET", "POST"])
    client = app.test_client()
    statuses = [client.post("/elsewhere/sign-in").status_code for _ in range(3)]
    assert statuses[-1] == 429
    assert client.get("/elsewhere/sign-in").status_code != 429


def test_staff_login_post_is_limited(wired):
    app = wired(RATELIMIT_LOGIN="2 per minute", WTF_CSRF_ENABLED=False)
    url = next(r.rule for r in app.url_map.iter_rules() if r.endpoint == "staff.login")
    client = app.test_client()
    data = {"username": "nobody", "password": "wrong password here"}
    statuses = [client.post(url, data=data).status_code for _ in range(3)]
    assert statuses[-1] == 429
    assert client.get(url).status_code == 200


def test_disabled_app_is_not_limited_and_does_not_disable_others(wired):
    limited = wired(RATELIMIT_RESUME="1 per minute")
    unlimited = wired(RATELIMIT_ENABLED=False, RATELIMIT_RESUME="1 per minute")
    assert [r.status_code for r in burst(Patient(unlimited.test_client()), "/resume", 3)] == [
        200
    ] * 3
    assert burst(Patient(limited.test_client()), "/resume", 2)[-1].status_code == 429


# ------------------------------------------------------------------ the storage itself


@pytest.fixture()
def storage(wired):
    app = wired()
    with app.app_context():
        yield DatabaseStorage()


def test_storage_counts_expires_and_clears(storage):
    with time_machine.travel(1_900_000_000, tick=False) as clock:
        assert storage.check()
        assert storage.get("k") == 0
        assert storage.incr("k", 60) == 1
        assert storage.incr("k", 60, amount=2) == 3
        assert storage.get("k") == 3
        assert storage.get_expiry("k") == 1_900_000_060
        clock.shift(60)
        assert storage.get("k") == 0
        assert storage.incr("k", 60) == 1  # a new window
        assert storage.get_expiry("k") == 1_900_000_120
        storage.incr("other", 10)
        clock.shift(30)
        assert storage.purge_expired() == 1
        storage.clear("k")
        assert storage.get("k") == 0
        storage.incr("k", 60)
        assert storage.reset() == 1


def test_storage_keeps_long_keys_apart(storage):
    long_a, long_b = "a" * 300 + "1", "a" * 300 + "2"
    assert storage.incr(long_a, 60) == 1
    assert storage.incr(long_b, 60) == 1
    assert storage.incr(long_a, 60) == 2


def test_storage_increments_are_atomic(wired):
    app = wired()
    errors = []

    def hit():
        try:
            with app.app_context():
                for _ in range(10):
                    DatabaseStorage().incr("shared", 60)
        except Exception as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=hit) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with app.app_context():
        assert DatabaseStorage().get("shared") == 40


def test_storage_is_registered_under_its_scheme():
    from limits.storage import storage_from_string

    assert isinstance(storage_from_string("screening-db://"), DatabaseStorage)


def test_purge_command(wired):
    app = wired()
    with app.app_context():
        DatabaseStorage().incr("gone", -1)
    result = app.test_cli_runner().invoke(args=["ratelimit", "purge"])
    assert result.exit_code == 0, result.output
    assert "Deleted 1 expired" in result.output
