"""A digest per submission, checked on every staff read (README, "A digest per submission").

Tampering is done as someone with the database but not the app would: plain SQL.
"""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import select, text

from screening import integrity
from screening.audit import AuditEvent
from screening.extensions import db
from screening.models import Submission
from tests.factories import CONTACT, answers, send_directly
from tests.staff.helpers import StaffClient, make_staff
from tests.test_summaries import page_texts

WARNING = "Integrity warning"


def send(app, name: str, **overrides) -> Submission:
    return send_directly(app, answers(**overrides), {**CONTACT, "full_name": name})


@pytest.fixture()
def desk(app, clock):
    client = StaffClient(app.test_client())
    client.sign_in(make_staff(app, "ivy", "intake", clinics=["North Clinic"]))
    return client


def sql(app, statement: str, **params) -> None:
    with app.app_context(), db.engine.begin() as conn:
        conn.execute(text(statement), params)


def tamper_events(app) -> list[tuple[int | None, dict]]:
    with app.app_context():
        rows = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "submission.tamper")
        ).all()
        return [(row.submission_id, row.detail) for row in rows]


def verify(app):
    return app.test_cli_runner().invoke(args=["submissions", "verify"])


def test_a_submission_sent_through_the_app_is_sound_on_every_read(app, desk, tmp_path):
    item = send(app, "Olive Sound")
    assert item.digest and len(item.digest) == 64
    url = f"/staff/submissions/{item.public_id}"
    assert WARNING not in desk.get(url).get_data(as_text=True)
    assert WARNING not in desk.get(f"{url}/print").get_data(as_text=True)
    pdf = desk.get(f"{url}/summary.pdf").data
    assert WARNING not in " ".join(page_texts(pdf, tmp_path))
    result = verify(app)
    assert result.exit_code == 0 and "All 1 submission(s) match their digest." in result.output
    assert tamper_events(app) == []


def test_an_edited_plain_column_is_shown_and_audited_wherever_staff_read_it(app, desk, tmp_path):
    item = send(app, "Pia Urgent", rf_saddle="yes")
    assert item.urgency == 0
    # Someone lowers an emergency so it leaves the top of the queue.
    sql(app, "UPDATE submission SET outcome = 'DISCUSS', care_level = NULL, urgency = 2")
    url = f"/staff/submissions/{item.public_id}"
    page = desk.get(url).get_data(as_text=True)
    assert WARNING in page and integrity.MISMATCH in page
    assert integrity.MISMATCH in desk.get(f"{url}/print").get_data(as_text=True)
    pdf = desk.get(f"{url}/summary.pdf").data
    assert "does not match its seal" in " ".join(page_texts(pdf, tmp_path))
    desk.get("/staff/export")
    export = desk.post("/staff/export", {"start": "2000-01-01", "end": "2100-01-01"})
    rows = list(csv.reader(io.StringIO(export.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[1][-1] == "integrity" and rows[2][-1] == integrity.MISMATCH
    events = tamper_events(app)
    assert events == [(item.id, {"kind": "mismatch"})] * 4  # page, print, PDF, export
    result = verify(app)
    assert result.exit_code == 1
    assert f"{item.reference}: {integrity.MISMATCH}" in result.output


def test_contact_details_copied_from_another_submission_are_detected(app, desk):
    first = send(app, "Quin First")
    second = send(app, "Rhea Second")
    # The copy decrypts (same column, same key): only the digest can tell.
    sql(
        app,
        "UPDATE submission SET personal = (SELECT personal FROM submission WHERE id = :a)"
        " WHERE id = :b",
        a=first.id,
        b=second.id,
    )
    page = desk.get(f"/staff/submissions/{second.public_id}").get_data(as_text=True)
    assert "Quin First" in page and integrity.MISMATCH in page
    assert WARNING not in desk.get(f"/staff/submissions/{first.public_id}").get_data(as_text=True)


def test_data_that_does_not_decrypt_is_never_shown_and_is_audited(app, desk):
    item = send(app, "Sol Broken")
    sql(app, "UPDATE submission SET personal = answers")  # moved from another column
    response = desk.get(f"/staff/submissions/{item.public_id}")
    assert response.status_code == 500
    assert integrity.UNREADABLE in response.get_data(as_text=True)
    assert (None, {"kind": "unreadable"}) in tamper_events(app)
    result = verify(app)
    assert result.exit_code == 1 and f"{item.reference}: {integrity.UNREADABLE}" in result.output


def test_a_bulk_insert_without_a_digest_is_not_shown_as_sound(app, desk):
    item = send(app, "Tam Unsealed")
    sql(app, "UPDATE submission SET digest = NULL")
    page = desk.get(f"/staff/submissions/{item.public_id}").get_data(as_text=True)
    assert integrity.UNSEALED in page


def test_rescoring_through_the_app_keeps_the_digest_sound(app):
    send(app, "Uma Rescored")
    result = app.test_cli_runner().invoke(args=["rules", "rescore"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        row = db.session.scalar(select(Submission))
        row.personal = {**row.personal, "phone": "555 000 1111"}  # a correction via the app
        db.session.commit()
    assert verify(app).exit_code == 0
