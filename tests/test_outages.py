"""Outages answered, not crashed: a database that stops, restarts or cannot be reached.

A database restarted mid-submission, and a full disk. While the database is away,
a question page comes back (503) with every value as it was posted and its button to send
it again; "Send my answers" comes back as a button that sends again; other pages say "try
again". Nothing is lost, nothing is doubled, no page is a 500, and every response keeps
the security headers and a request id. Once the database is back, the very next request
works: the engine tests pooled connections before use (``pool_pre_ping``).

How the database is taken away, on the engine the suite runs on:

- PostgreSQL (DATABASE_URL names one): the server is really stopped and started again.
  Not the DATABASE_URL server: the other tests, and under ``make test`` the other xdist
  worker, use it at the same moment. This test starts a throwaway cluster of its own with
  the same PostgreSQL programs: ``SCREENING_TEST_PG_BIN`` (``.ci/run`` exports it), else
  ``pg_config --bindir``, else the newest ``/usr/lib/postgresql/*/bin``. When none can be
  run the test FAILS: it never skips. As root, the server runs as the ``postgres`` user.
- SQLite: the directory holding the database file is moved away (every pooled connection
  closed first), so opening the database fails as it does on a lost or unmounted disk
  ("unable to open database file"), then moved back.
"""

from __future__ import annotations

import glob
import logging
import os
import shutil
import socket
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from flask_babel import force_locale, gettext
from sqlalchemy import select, text
from sqlalchemy.engine import make_url
from werkzeug.datastructures import MultiDict

from screening import create_app, errors, safety_net
from screening.config import database_url_from_env
from screening.extensions import db
from screening.models import Draft, Submission
from screening.patient import steps
from screening.public import public
from screening.staff import accounts
from tests.conftest import TEST_SECRET
from tests.factories import BASELINE, CONTACT
from tests.html_forms import form_fields, typed
from tests.patient_client import Patient, clinic_today, page_data
from tests.test_reliability import COOKIE, REFERENCE_RE
from tests.test_security import check_headers

SECOND_CLINIC = "South Clinic"
#: Pages of the baseline journey, in order (the treatment follow-ups and "where it hurts
#: most" included: their questions depend on answers from earlier pages).
JOURNEY = [step.id for step in steps.applicable(BASELINE)]
KEPT_MESSAGE = "We could not save this page. Your answers are still here: try again in a minute."
SEND_AGAIN = "We could not send your answers just now. They are still saved."
#: Seconds any one wait in the load test may take before the test gives up (and fails).
PATIENCE = 120


def on_postgres() -> bool:
    url = database_url_from_env()
    return bool(url) and make_url(url).get_backend_name() == "postgresql"


# ------------------------------------------------------------------ taking the database away


def postgres_programs() -> Path:
    """The directory of ``initdb`` and ``pg_ctl``; fails the test when there is none."""
    candidates = [os.environ.get("SCREENING_TEST_PG_BIN", "")]
    if shutil.which("pg_config"):
        found = subprocess.run(
            ["pg_config", "--bindir"], capture_output=True, text=True, timeout=30, check=False
        )
        candidates.append(found.stdout.strip())
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version, reverse=True)
    for candidate in filter(None, candidates):
        path = Path(candidate)
        if (path / "initdb").is_file() and (path / "pg_ctl").is_file():
            return path
    pytest.fail(
        "DATABASE_URL is PostgreSQL, but no initdb and pg_ctl were found to run a throwaway "
        "server for the outage test: set SCREENING_TEST_PG_BIN to their directory.",
        pytrace=False,
    )


def _version(path: str) -> tuple[int, ...]:
    return tuple(int(part) for part in Path(path).parent.name.split(".") if part.isdigit())


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class ThrowawayPostgres:
    """A PostgreSQL cluster of this test's own, which it may stop and start at will."""

    def __init__(self, programs: Path) -> None:
        self.programs = programs
        self.port = free_port()
        self.home = Path(tempfile.mkdtemp(prefix="screening-outage-"))
        self.data = self.home / "data"
        self.as_postgres = os.geteuid() == 0  # PostgreSQL refuses to run as root
        if self.as_postgres:
            shutil.chown(self.home, "postgres", "postgres")
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/outage"

    def run(self, *args: str) -> None:
        command = [*(["runuser", "-u", "postgres", "--"] if self.as_postgres else []), *args]
        done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
        if done.returncode != 0:
            pytest.fail(
                f"could not control the throwaway PostgreSQL: {' '.join(args)}\n"
                f"{done.stdout}{done.stderr}{self.server_log()}",
                pytrace=False,
            )

    def server_log(self) -> str:
        log = self.home / "log"
        return log.read_text(errors="replace")[-2000:] if log.exists() else ""

    def create(self) -> None:
        self.run(
            str(self.programs / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust",
            "-E", "UTF8", "--locale=C.UTF-8", "--no-sync",
        )  # fmt: skip
        self.start()
        self.run(
            str(self.programs / "psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U",
            "postgres", "-q", "-c", "CREATE DATABASE outage",
        )  # fmt: skip

    def start(self, _app: Any = None) -> None:
        options = (
            f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.home} -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off"
        )
        self.run(
            str(self.programs / "pg_ctl"), "-D", str(self.data), "-l", str(self.home / "log"),
            "-w", "-t", "30", "-o", options, "start",
        )  # fmt: skip

    def stop(self, _app: Any = None) -> None:
        # "fast": connections in use are cut, as in a restart by the host's service manager.
        self.run(str(self.programs / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    def ensure_up(self) -> None:
        """Start the server again if a failed test left it stopped."""
        status = [str(self.programs / "pg_ctl"), "-D", str(self.data), "status"]
        if self.as_postgres:
            status = ["runuser", "-u", "postgres", "--", *status]
        if subprocess.run(status, capture_output=True, timeout=60, check=False).returncode:
            self.start()

    def destroy(self) -> None:
        command = [str(self.programs / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"]
        if self.as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, capture_output=True, timeout=60, check=False)
        shutil.rmtree(self.home, ignore_errors=True)


class MovableSqlite:
    """A SQLite file whose directory can be taken away (a lost disk) and put back."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.away = home.with_name(home.name + "-away")
        home.mkdir()
        self.url = f"sqlite:///{home / 'outage.sqlite3'}"

    def stop(self, app: Any) -> None:
        with app.app_context():
            db.engine.dispose()  # connections in the pool would still reach the moved file
        self.home.rename(self.away)

    def start(self, _app: Any = None) -> None:
        self.away.rename(self.home)

    def ensure_up(self) -> None:
        if self.away.exists():
            self.away.rename(self.home)

    def destroy(self) -> None:
        self.ensure_up()


@pytest.fixture()
def database_server(tmp_path) -> Iterator[ThrowawayPostgres | MovableSqlite]:
    """A database this test may take away. Request it before ``make_app``, so that it
    is torn down after the app's tables are dropped."""
    if on_postgres():
        server: ThrowawayPostgres | MovableSqlite = ThrowawayPostgres(postgres_programs())
        try:
            server.create()
        except BaseException:
            server.destroy()
            raise
    else:
        server = MovableSqlite(tmp_path / "db")
    try:
        yield server
    finally:
        server.destroy()


@pytest.fixture()
def outage_app(database_server, make_app):
    app = make_app(SQLALCHEMY_DATABASE_URI=database_server.url)
    with app.app_context():
        accounts.create_clinic(SECOND_CLINIC)
        db.session.commit()
    yield app
    database_server.ensure_up()  # so that the app's tables can be dropped after a failure


def unreachable_url(tmp_path) -> str:
    """A database address that cannot be opened: the same server, a database it does not
    have (PostgreSQL), or a file in a directory that does not exist (SQLite)."""
    if on_postgres():
        missing = make_url(database_url_from_env()).set(database="screening_no_such_db")
        return missing.render_as_string(hide_password=False)
    return f"sqlite:///{tmp_path / 'no-such-directory' / 'test.sqlite3'}"


# ------------------------------------------------------------------ one page, database away


def first_clinic_id(app) -> int:
    with app.app_context():
        return accounts.clinic_by_name("North Clinic").id


def journey_data(app, step_id: str, contact: dict) -> dict[str, Any]:
    data = page_data(steps.BY_ID[step_id], BASELINE, clinic_today(app), contact)
    if step_id == "about-you":
        data["clinic"] = str(first_clinic_id(app))
    return data


def broken_twin(app, tmp_path, browser):
    """The same app (same secret, so cookies and CSRF tokens carry over) on a database
    that cannot be reached, and a browser holding ``browser``'s cookie."""
    twin = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": TEST_SECRET,
            "SQLALCHEMY_DATABASE_URI": unreachable_url(tmp_path),
            "SERVER_NAME": "localhost",
            "SESSION_COOKIE_SECURE": False,
        }
    )
    client = twin.test_client()
    client.set_cookie(COOKIE, browser.get_cookie(COOKIE).value)
    return client


@pytest.fixture(autouse=True)
def live_loggers(monkeypatch):
    """Alembic's fileConfig (run in-process by the tests that migrate) disables loggers
    that exist at the time; these tests read the log."""
    for name in ("screening", "screening.database", "screening.errors", "screening.safety_net"):
        monkeypatch.setattr(logging.getLogger(name), "disabled", False)


def assert_shaped(response, status: int, reference: bool = True) -> str:
    """The status, every security header and the request id (in the page too, as its
    reference, unless ``reference`` is False: a question page sent back as typed)."""
    assert response.status_code == status, response.get_data(as_text=True)[:2000]
    check_headers(response)
    assert response.headers["Cache-Control"] == "no-store"
    html = response.get_data(as_text=True)
    request_id = response.headers["X-Request-ID"]
    assert len(request_id) == 16 and (request_id in html or not reference)
    assert "Traceback" not in html and "sqlalchemy" not in html.lower()
    return html


@pytest.mark.parametrize("step_id", ["about-you", "where-most", "treatment-results", "contact"])
def test_a_question_page_sent_while_the_database_is_away_comes_back_as_typed(
    make_app, tmp_path, caplog, step_id
):
    # Given two clinics, and a patient who answered every page before this one
    app = make_app()
    with app.app_context():
        accounts.create_clinic(SECOND_CLINIC)
        db.session.commit()
    browser = app.test_client()
    patient = Patient(browser)
    for earlier in JOURNEY[: JOURNEY.index(step_id)]:
        response = patient.answer(earlier, journey_data(app, earlier, CONTACT))
        assert response.status_code == 303
    patient.get(f"/step/{step_id}")
    typed_in = journey_data(app, step_id, CONTACT)

    # When the page is sent while the database cannot be reached (the same browser, so
    # the same cookie, on the same app whose database is gone)
    patient.client = broken_twin(app, tmp_path, browser)
    response = patient.post(f"/step/{step_id}", typed_in)

    # Then the page comes back, 503, with a message and every value as it was typed,
    # ready to be sent again, and the failure is in the log
    html = assert_shaped(response, 503, reference=False)
    assert KEPT_MESSAGE in html
    kept = form_fields(html, f"/step/{step_id}")
    assert typed(kept) == typed(typed_in)
    assert ("csrf_token", patient.token) in kept
    assert any("Database unavailable" in r.getMessage() for r in caplog.records)

    # And sending it again once the database is back saves it (the page's own form)
    patient.client = browser
    again = browser.post(f"/step/{step_id}", data=MultiDict([*kept, ("action", "continue")]))
    assert again.status_code == 303
    with app.app_context():
        [draft] = db.session.scalars(select(Draft)).all()
        assert step_id in draft.steps_done


def test_check_answers_send_and_other_pages_say_try_again(make_app, tmp_path):
    # Given a patient on the "check your answers" page
    app = make_app()
    browser = app.test_client()
    patient = Patient(browser)
    patient.complete(BASELINE, clinic_today(app))
    assert patient.get("/review").status_code == 200
    broken = broken_twin(app, tmp_path, browser)

    # When the database is away: opening the page, pressing "Send my answers", opening
    # the start page, and a staff sign-in
    review = broken.get("/review")
    sent = broken.post("/submit", data={"consent": "y", "csrf_token": patient.token})
    start = broken.get("/")
    staff = broken.post(
        "/staff/login", data={"username": "ivy", "password": "x" * 20, "csrf_token": patient.token}
    )

    # Then each is a 503 that says so and offers to try again; nothing is a 500
    html = assert_shaped(review, 503)
    assert "Sorry, the service is busy" in html and 'href="/review"' in html
    html = assert_shaped(sent, 503)
    assert SEND_AGAIN in html
    kept = form_fields(html, "/submit")
    assert ("consent", "y") in kept
    assert 'href="/"' in assert_shaped(start, 503)
    assert_shaped(staff, 503)

    # And pressing the button on that page once the database is back sends, once
    done = browser.post("/submit", data=MultiDict(kept))
    assert done.status_code == 303 and done.headers["Location"].endswith("/done")
    assert browser.post("/submit", data=MultiDict(kept)).headers["Location"].endswith("/done")
    with app.app_context():
        assert len(db.session.scalars(select(Submission)).all()) == 1


# ------------------------------------------------------------------ the waiting room


@dataclass
class WaitingRoom:
    """What the patients and the database's keeper share during the load test."""

    paused: threading.Barrier  # the scripted patients are at their page; take it away
    hit: threading.Barrier  # each scripted patient has met the outage; bring it back
    down: threading.Event = field(default_factory=threading.Event)
    restored: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    #: (status, sent after the database was back, method, path) of every request.
    seen: list[tuple[int, bool, str, str]] = field(default_factory=list)

    def abort(self) -> None:
        self.paused.abort()
        self.hit.abort()
        self.down.set()
        self.restored.set()

    def wait_for_outage(self) -> None:
        self.paused.wait(PATIENCE)
        assert self.down.wait(PATIENCE), "the database was not taken away"


class Visitor:
    """One patient in the waiting room: their own browser, name and script."""

    def __init__(self, app, room: WaitingRoom, name: str, scripted: bool) -> None:
        self.app = app
        self.room = room
        self.patient = Patient(app.test_client())
        self.contact = {**CONTACT, "full_name": name}
        self.name = name
        self.scripted = scripted
        self.outages = 0

    def _note(self, response, method: str, path: str, after: bool) -> None:
        with self.room.lock:
            self.room.seen.append((response.status_code, after, method, path))

    def get(self, path: str):
        """Open a page; during the outage, wait for the database and open it again."""
        after = self.room.restored.is_set()
        response = self.patient.get(path)
        self._note(response, "GET", path, after)
        if response.status_code == 503:
            html = assert_shaped(response, 503)
            assert f'href="{path}"' in html  # "Try again"
            self.met_outage()
            return self.get(path)
        return response

    def post(self, path: str, data) -> Any:
        after = self.room.restored.is_set()
        if isinstance(data, dict):  # typed in: the patient's CSRF token is added
            response = self.patient.post(path, data)
        else:  # the fields of a page the app sent back, as they are
            response = self.patient.client.post(path, data=MultiDict(data))
        self._note(response, "POST", path, after)
        return response

    def met_outage(self) -> None:
        self.outages += 1
        if self.scripted and self.outages == 1:
            self.room.hit.wait(PATIENCE)
        assert self.room.restored.wait(PATIENCE), "the database was not brought back"

    def send_page(self, step_id: str, pause: bool) -> None:
        path = f"/step/{step_id}"
        self.get(path)
        typed_in = journey_data(self.app, step_id, self.contact)
        if pause:
            self.room.wait_for_outage()
        response = self.post(path, typed_in)
        if response.status_code == 503:
            html = assert_shaped(response, 503, reference=False)
            assert KEPT_MESSAGE in html
            kept = form_fields(html, path)
            assert typed(kept) == typed(typed_in), "the page did not keep what was typed"
            self.met_outage()
            response = self.post(path, [*kept, ("action", "continue")])
        assert response.status_code == 303, (step_id, response.get_data(as_text=True)[:2000])

    def send_answers(self, pause: bool) -> str:
        """Check the answers, send them, and return the reference shown."""
        self.get("/review")
        if pause:
            self.room.wait_for_outage()
            review = self.patient.get("/review")
            self._note(review, "GET", "/review", False)
            assert "Sorry, the service is busy" in assert_shaped(review, 503)
        response = self.post("/submit", {"consent": "y"})
        if response.status_code == 503:  # the page sent back, or the review page again
            html = assert_shaped(response, 503, reference=False)
            assert SEND_AGAIN in html
            kept = form_fields(html, "/submit")
            assert ("consent", "y") in kept
            self.met_outage()
            response = self.post("/submit", kept)
        assert response.status_code == 303 and response.headers["Location"].endswith("/done")
        done = self.get("/done")
        assert done.status_code == 200
        shown = REFERENCE_RE.search(done.get_data(as_text=True))
        assert shown, "no reference on the result page"
        return shown.group(0)

    def walk(self, pause_at: str | None) -> str:
        for step_id in JOURNEY:
            self.send_page(step_id, pause=step_id == pause_at)
        return self.send_answers(pause=pause_at == "send")


def test_a_waiting_room_through_a_database_outage_loses_nothing(database_server, outage_app):
    # Given a waiting room of patients, each at a different point of the form when the
    # database goes away: sending the first page (no saved form yet), "where it hurts
    # most" and the treatment follow-ups (their questions depend on earlier pages), the
    # contact page, and two on "check your answers" pressing "Send"; one more patient
    # walks on without waiting for anything
    app = outage_app
    scripts = ["about-you", "where-most", "treatment-results", "contact", "send", "send"]
    room = WaitingRoom(
        paused=threading.Barrier(len(scripts) + 1), hit=threading.Barrier(len(scripts) + 1)
    )
    visitors = [Visitor(app, room, f"Patient Number {i}", True) for i in range(len(scripts))]
    stroller = Visitor(app, room, "Patient Walking On", False)

    def keeper() -> None:
        # When every scripted patient is at their page, the database goes away until
        # each of them has met the outage, then comes back
        room.paused.wait(PATIENCE)
        database_server.stop(app)
        room.down.set()
        try:
            room.hit.wait(PATIENCE)
        finally:
            database_server.start(app)
            room.restored.set()

    def run(job: Callable[[], Any]) -> Any:
        try:
            return job()
        except BaseException:
            room.abort()
            raise

    with ThreadPoolExecutor(max_workers=len(scripts) + 2) as pool:
        futures = [pool.submit(run, keeper), pool.submit(run, lambda: stroller.walk(None))]
        futures += [
            pool.submit(run, lambda v=v, s=s: v.walk(s))
            for v, s in zip(visitors, scripts, strict=True)
        ]
        results = [future.result(timeout=PATIENCE * 3) for future in futures]
    references = results[1:]

    # Then no request was a 500; every scripted patient met the outage (503) and none
    # after the database was back (the engine reconnected by itself)
    statuses = [status for status, _, _, _ in room.seen]
    assert [s for s in statuses if s >= 500 and s != 503] == []
    assert all(v.outages >= 1 for v in visitors)
    assert [seen for seen in room.seen if seen[0] == 503 and seen[1]] == []
    # And every acknowledged submission is stored exactly once, with the answers typed
    with app.app_context():
        rows = db.session.scalars(select(Submission)).all()
        drafts = db.session.scalars(select(Draft)).all()
    assert sorted(r.reference for r in rows) == sorted(references)
    assert len({r.submit_key for r in rows}) == len(rows) == len(visitors) + 1
    for row in rows:
        assert row.answers == BASELINE
        assert row.personal["phone"] == CONTACT["phone"]
    assert sorted(r.personal["full_name"] for r in rows) == sorted(
        v.name for v in [*visitors, stroller]
    )
    assert len(drafts) == len(rows) and all(d.submission_id is not None for d in drafts)

    # When the database restarts while nobody is using it
    database_server.stop(app)
    database_server.start(app)
    # Then the first request after it works: no stale connection is used
    response = visitors[0].patient.get("/done")
    assert response.status_code == 200


# ------------------------------------------------------------------ the engine and teardown


def test_postgresql_connections_are_tested_before_use_whatever_the_options(tmp_path):
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": TEST_SECRET,
            "SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://app@127.0.0.1:1/none",
            "SQLALCHEMY_ENGINE_OPTIONS": {"pool_size": 3},
        }
    )
    with app.app_context():
        assert db.engine.pool._pre_ping is True
        assert db.engine.pool.size() == 3
        assert db.engine.hide_parameters is True


def test_a_connection_lost_before_teardown_is_logged_and_never_escapes(app, caplog):
    # Given a page that reads the database, after which its connection dies before the
    # request's session is closed (the server ends it; on SQLite, the file handle closes)
    @app.get("/probe")
    def probe():
        db.session.execute(select(Draft.id)).all()  # a transaction is open
        if db.engine.dialect.name == "postgresql":
            pid = db.session.execute(text("SELECT pg_backend_pid()")).scalar_one()
            with db.engine.connect() as other:
                other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        else:
            db.session.connection().connection.dbapi_connection.close()
        return "read"

    public(probe)
    client = app.test_client()

    # When the page is asked for
    with caplog.at_level(logging.ERROR):
        response = client.get("/probe")

    # Then the page it made is delivered, with its headers; the failed close is logged
    # with the request's id; and the next request finds a working connection
    assert response.status_code == 200 and response.get_data(as_text=True) == "read"
    check_headers(response)
    request_id = response.headers["X-Request-ID"]
    failures = [r for r in caplog.records if r.name == "screening.database"]
    assert failures and failures[0].request_id == request_id
    assert client.get("/").status_code == 200


def test_an_error_that_escapes_flask_is_still_a_page_with_headers_and_an_id(app, caplog):
    # Given a failure after the response was made, outside every error page
    def broken_teardown(_error):
        raise RuntimeError("teardown failed")

    app.teardown_appcontext(broken_teardown)
    client = app.test_client()

    # When any page is asked for
    try:
        with caplog.at_level(logging.ERROR):
            response = client.get("/adults-only")
    finally:
        app.teardown_appcontext_funcs.remove(broken_teardown)

    # Then the person gets the plain "something went wrong" page, not the server's bare
    # one: the security headers, no-store and the request id are there, in the page too
    html = assert_shaped(response, 500)
    assert "Sorry, something went wrong" in html and "teardown failed" not in html
    assert any(response.headers["X-Request-ID"] in r.getMessage() for r in caplog.records)


def test_the_plain_failure_page_says_in_spanish_what_the_catalogue_says(app):
    title, text = errors.MESSAGES[500]
    with app.test_request_context(), force_locale("es"):
        assert gettext(title) == safety_net.FAILED_TITLE_ES
        assert gettext(text) == safety_net.FAILED_TEXT_ES
