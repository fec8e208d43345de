"""Rate limits on the public posts, shared through the database (security.md E02)."""

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
from screening.extensions import db
from screening.ratelimit import DatabaseStorage, RateLimitCounter
from tests.patient import Patient
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
    for setting in ratelimit.DEFAULT_LIMITS:
        assert app.config[setting] == ratelimit.TESTING_LIMIT


def test_production_defaults():
    assert ratelimit.DEFAULT_LIMITS == {
        "RATELIMIT_PAGE": "600 per minute",
        "RATELIMIT_SUBMIT": "60 per minute",
        "RATELIMIT_RESUME": "10 per minute;50 per day",
        "RATELIMIT_LOGIN": "30 per minute;300 per hour",
    }
    assert ratelimit.ENDPOINT_LIMITS["staff.login"] == "RATELIMIT_LOGIN"


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


def test_submit_burst_is_limited(wired):
    app = wired(RATELIMIT_SUBMIT="3 per minute")
    patient = Patient(app.test_client())
    patient.get("/resume")  # for a CSRF token
    statuses = [patient.post("/submit", {}).status_code for _ in range(100)]
    assert statuses[:3] == [303] * 3  # no draft in this browser: back to the start
    assert set(statuses[3:]) == {429}


def test_page_posts_are_limited(wired):
    app = wired(RATELIMIT_PAGE="2 per minute")
    patient = Patient(app.test_client())
    statuses = [patient.answer("about-you", {"action": "save"}).status_code for _ in range(3)]
    assert statuses[-1] == 429 and 429 not in statuses[:2]


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
        from tests.patient import Patient

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


def test_login_limit_marks_any_view(wired):
    app = wired(RATELIMIT_LOGIN="2 per minute", WTF_CSRF_ENABLED=False)

    @ratelimit.login_limit
    def sign_in():
        return "form"

    app.add_url_rule("/elsewhere/sign-in", view_func=sign_in, methods=["GET", "POST"])
    client = app.test_client()
    statuses = [client.post("/elsewhere/sign-in").status_code for _ in range(3)]
    assert statuses[-1] == 429
    assert client.get("/elsewhere/sign-in").status_code != 429


def test_staff_login_post_is_limited_when_it_exists(wired):
    app = wired(RATELIMIT_LOGIN="2 per minute", WTF_CSRF_ENABLED=False)
    if "staff.login" not in app.view_functions:
        pytest.skip("no staff sign-in in this build")
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
