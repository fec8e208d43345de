"""Nothing lost, nothing doubled: submit under races, replays and injected faults.

One submission per form, all or nothing, whatever the repeated, concurrent or double
posts. The app fixture uses a SQLite
*file* (or PostgreSQL when DATABASE_URL is set), so threads share one database. Each
thread talks to the app only through its own test client, which pushes its own app
context and therefore gets its own database session.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import event, select
from sqlalchemy.exc import OperationalError

from screening import submissions as submissions_module
from screening.extensions import db
from screening.models import Draft, Submission
from tests.factories import BASELINE, CONTACT
from tests.patient_client import Patient, clinic_today

COOKIE = "screening_session"
REFERENCE_RE = re.compile(r"\b[2-9A-HJ-NP-Z]{3}-[2-9A-HJ-NP-Z]{3}-[2-9A-HJ-NP-Z]{3}\b")


class RecordingClient:
    """Wraps a test client and records the status of every response it gets."""

    def __init__(self, client) -> None:
        self.client = client
        self.statuses: list[int] = []

    def get(self, *args: Any, **kwargs: Any):
        return self._record(self.client.get(*args, **kwargs))

    def post(self, *args: Any, **kwargs: Any):
        return self._record(self.client.post(*args, **kwargs))

    def _record(self, response):
        self.statuses.append(response.status_code)
        return response


def rows(app) -> list[Submission]:
    with app.app_context():
        return list(db.session.scalars(select(Submission).order_by(Submission.id)))


def only_draft(app) -> Draft:
    with app.app_context():
        drafts = list(db.session.scalars(select(Draft)))
        assert len(drafts) == 1
        db.session.expunge(drafts[0])
        return drafts[0]


def ready_to_submit(app, contact: dict | None = None) -> Patient:
    """Return a patient who answered every page and has the review page open."""
    patient = Patient(RecordingClient(app.test_client()))
    patient.complete(BASELINE, clinic_today(app), contact)
    review = patient.get("/review")
    assert review.status_code == 200
    return patient


def is_done_redirect(response) -> bool:
    return response.status_code == 303 and response.headers["Location"].endswith("/done")


def run_together(count: int, work: Callable[[int], Any]) -> list[Any]:
    """Run ``work(i)`` in ``count`` threads released at the same moment by a barrier."""
    # Timeouts are bounds for a hang, never reached on a busy machine that works.
    barrier = threading.Barrier(count, timeout=120)

    def start(i: int) -> Any:
        barrier.wait()
        return work(i)

    with ThreadPoolExecutor(max_workers=count) as pool:
        futures = [pool.submit(start, i) for i in range(count)]
        return [future.result(timeout=600) for future in futures]


# ------------------------------------------------------------------ same draft, many posts


@pytest.mark.parametrize("round_", range(3))
def test_eight_simultaneous_submits_of_one_draft_make_one_row_and_all_see_done(app, round_):
    # Given one patient on the review page, and 8 "tabs" holding the same session
    # cookie and CSRF token (a double click, two tabs, a retry after a dropped response)
    patient = ready_to_submit(app)
    cookie = patient.client.client.get_cookie(COOKIE)
    assert cookie is not None
    token = patient.token

    def send(_: int):
        tab = app.test_client()
        tab.set_cookie(COOKIE, cookie.value)
        return tab.post("/submit", data={"consent": "y", "csrf_token": token})

    # When all 8 press "Send" at the same moment
    responses = run_together(8, send)

    # Then every tab is sent to the one confirmation page and exactly one row exists
    assert [r.status_code for r in responses] == [303] * 8
    assert all(is_done_redirect(r) for r in responses)
    stored = rows(app)
    assert len(stored) == 1
    assert stored[0].answers == BASELINE
    draft = only_draft(app)
    assert draft.submission_id == stored[0].id
    # And each tab's confirmation shows the same reference
    done = patient.get("/done")
    assert done.status_code == 200
    assert stored[0].reference in done.get_data(as_text=True)


# ------------------------------------------------------------------ scenario 1: many patients


# no_cover: this volume of examples runs lines other tests cover too (checked with
# coverage contexts); tracing them doubled the time.
@pytest.mark.no_cover
def test_many_patients_submitting_at_once_are_each_stored_exactly_once(app):
    # Given 6 threads, each walking 3 patients through every page one after another
    threads, per_thread = 6, 3

    def walk(t: int) -> list[dict[str, Any]]:
        results = []
        for i in range(per_thread):
            name = f"Patient {t}-{i}"
            client = RecordingClient(app.test_client())
            patient = Patient(client)
            patient.complete(BASELINE, clinic_today(app), {**CONTACT, "full_name": name})
            patient.get("/review")
            # When each one submits
            response = patient.post("/submit", {"consent": "y"})
            reference = None
            if is_done_redirect(response):
                match = REFERENCE_RE.search(patient.get("/done").get_data(as_text=True))
                reference = match.group(0) if match else None
            results.append(
                {
                    "name": name,
                    "acknowledged": is_done_redirect(response),
                    "reference": reference,
                    "statuses": client.statuses,
                }
            )
        return results

    results = [r for batch in run_together(threads, walk) for r in batch]

    # Then no request failed, every patient was acknowledged, and the rows reconcile:
    # one row per acknowledged patient, found by the reference they were shown
    statuses = [s for r in results for s in r["statuses"]]
    assert [s for s in statuses if s >= 500] == []
    acknowledged = [r for r in results if r["acknowledged"]]
    assert len(acknowledged) == threads * per_thread
    stored = rows(app)
    assert len(stored) == len(acknowledged)
    by_reference = {row.reference: row for row in stored}
    assert len(by_reference) == len(stored), "duplicate reference codes"
    assert len({row.submit_key for row in stored}) == len(stored)
    for result in acknowledged:
        row = by_reference.get(result["reference"])
        assert row is not None, f"acknowledged but not stored: {result['name']}"
        assert row.personal["full_name"] == result["name"]
        assert row.answers == BASELINE


# ------------------------------------------------------------------ replays after success


def test_replayed_submit_and_reloaded_confirmation_leave_one_row(app):
    # Given a patient who has submitted and seen the confirmation page
    patient = ready_to_submit(app)
    first = patient.post("/submit", {"consent": "y"})
    assert is_done_redirect(first)
    reference = rows(app)[0].reference

    # When they reload the confirmation twice, press Back to the review page and the
    # last step, and replay the submit post
    reloads = [patient.get("/done") for _ in range(2)]
    back_to_review = patient.get("/review")
    back_to_step = patient.get("/step/contact")
    replay = patient.post("/submit", {"consent": "y"})

    # Then every path leads to the same confirmation, and there is still one row
    assert [r.status_code for r in reloads] == [200, 200]
    assert all(reference in r.get_data(as_text=True) for r in reloads)
    assert is_done_redirect(back_to_review)
    assert is_done_redirect(back_to_step)
    assert is_done_redirect(replay)
    assert len(rows(app)) == 1


# ------------------------------------------------------------------ atomic submit


class InjectedFault(RuntimeError):
    """Raised by a test to simulate a failure inside the submit transaction."""


def fail_drawing_the_reference(monkeypatch) -> Callable[[], None]:
    """The first reference code cannot be drawn (before anything is added)."""
    real = submissions_module.readable_code
    calls = []

    def failing(*args: Any, **kwargs: Any) -> str:
        calls.append(1)
        if len(calls) == 1:
            raise InjectedFault("no randomness")
        return real(*args, **kwargs)

    monkeypatch.setattr(submissions_module, "readable_code", failing)
    return lambda: monkeypatch.setattr(submissions_module, "readable_code", real)


def fail_after_the_insert(_monkeypatch) -> Callable[[], None]:
    """The submission's INSERT has run inside the transaction, then the flush fails."""
    calls = []

    def failing(mapper, connection, target) -> None:
        calls.append(1)
        if len(calls) == 1:
            raise InjectedFault("flush failed after INSERT")

    event.listen(Submission, "after_insert", failing)
    return lambda: event.remove(Submission, "after_insert", failing)


def fail_at_commit(_monkeypatch) -> Callable[[], None]:
    """Row and draft changes are flushed, then COMMIT fails (disk full, I/O error)."""
    real = db.session.commit
    calls = []

    def failing() -> None:
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("COMMIT", {}, Exception("disk I/O error"))
        real()

    db.session.commit = failing  # shadows the scoped session's proxy method
    return lambda: vars(db.session).pop("commit", None)


@pytest.mark.parametrize(
    "inject",
    [fail_drawing_the_reference, fail_after_the_insert, fail_at_commit],
    ids=["reference-draw", "after-insert", "commit"],
)
def test_a_failed_submit_stores_nothing_keeps_the_draft_and_can_be_retried(
    app, monkeypatch, caplog, inject
):
    # Given a patient on the review page with every answer saved in their draft
    patient = ready_to_submit(app)
    before = only_draft(app)
    assert before.answers and before.personal
    # (Alembic's fileConfig, run in-process by tests that migrate, disables existing
    # loggers; the app's error logger must be live for this test to see the record.)
    monkeypatch.setattr(logging.getLogger("screening.errors"), "disabled", False)

    # When the submit transaction fails part way
    remove_fault = inject(monkeypatch)
    try:
        failed = patient.post("/submit", {"consent": "y"})
    finally:
        remove_fault()
    html = failed.get_data(as_text=True)

    # Then they are not told it worked: a database failure gives the review page again
    # with a retry message (503); any other failure the plain error page; never a trace
    assert not is_done_redirect(failed)
    assert failed.status_code in (500, 503)
    if failed.status_code == 503:
        assert "We could not send your answers just now. They are still saved." in html
    # and the failure is in the log for the clinic to see
    assert any(record.levelname == "ERROR" for record in caplog.records)
    assert "Traceback" not in html
    assert "InjectedFault" not in html and "disk I/O error" not in html
    # And nothing was stored, while the draft still holds every answer
    assert rows(app) == []
    after = only_draft(app)
    assert after.submission_id is None
    assert after.answers == before.answers
    assert after.personal == before.personal
    assert after.steps_done == before.steps_done

    # When they press "Send" again
    review = patient.get("/review")
    assert review.status_code == 200
    retry = patient.post("/submit", {"consent": "y"})

    # Then exactly one submission is stored, with their answers
    assert is_done_redirect(retry)
    stored = rows(app)
    assert len(stored) == 1
    assert stored[0].answers == BASELINE
