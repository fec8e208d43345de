"""The API checks each submission's digest before serving it, as the staff pages do.

Tampering is done as someone with the database but not the app would: plain SQL.
"""

from __future__ import annotations

import json

from sqlalchemy import select

from screening import integrity
from screening.audit import AuditEvent
from screening.extensions import db
from screening.fhir import views
from tests.fhir.helpers import RecordSystem, fhir_model, make_token, store, submission
from tests.fhir.test_api import SEARCH, internal_ids, outcome_of
from tests.staff.test_integrity import sql, tamper_events


def lower_urgency(app, public_id: str) -> None:
    """Someone lowers an emergency so it leaves the top of the queue."""
    sql(
        app,
        "UPDATE submission SET outcome = 'DISCUSS', care_level = NULL, urgency = 2 "
        "WHERE public_id = :public_id",
        public_id=public_id,
    )


def api_reads(app) -> list[AuditEvent]:
    with app.app_context():
        rows = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "api.read").order_by(AuditEvent.id)
        ).all()
        db.session.expunge_all()
        return rows


def test_a_tampered_submission_is_not_served_by_a_read(app, clock):
    sound, bad = store(app, "North Clinic", count=2)
    ehr = RecordSystem(app, make_token(app, "EHR bridge", ["North Clinic"]))
    lower_urgency(app, bad)
    bad_id = internal_ids(app, [bad])[0]
    reference = submission(app, bad).reference

    assert ehr.get(f"/fhir/QuestionnaireResponse/{sound}").status_code == 200
    for url in (f"/fhir/QuestionnaireResponse/{bad}", f"/fhir/Bundle/{reference}"):
        response = ehr.get(url)
        assert response.status_code == 500, url
        outcome = outcome_of(response)
        assert outcome["resourceType"] == "OperationOutcome"
        assert outcome["issue"][0]["diagnostics"] == views.UNSOUND
        body = response.get_data(as_text=True)
        assert bad not in body and reference not in body and "DISCUSS" not in body

    assert tamper_events(app) == [(bad_id, {"kind": "mismatch"})] * 2
    failed = [row for row in api_reads(app) if row.outcome == "failure"]
    assert [(row.detail["resource"], row.detail["withheld"]) for row in failed] == [
        ("QuestionnaireResponse", [bad_id]),
        ("Bundle", [bad_id]),
    ]


def test_a_tampered_submission_is_left_out_of_searches_and_the_feed(app, clock):
    store(app, "North Clinic", count=3)
    ehr = RecordSystem(app, make_token(app, "EHR bridge", ["North Clinic"]))
    ids = [e["resource"]["id"] for e in ehr.pull(SEARCH)]  # in feed order
    # The last of the first page of two: the cursor must still move past it.
    lower_urgency(app, ids[1])
    bad_id = internal_ids(app, [ids[1]])[0]

    entries = ehr.pull(f"{SEARCH}?_count=2")  # follows next links, validates each page
    matched = [e["resource"]["id"] for e in entries if e["search"]["mode"] == "match"]
    assert matched == [ids[0], ids[2]]
    outcomes = [e["resource"] for e in entries if e["search"]["mode"] == "outcome"]
    assert len(outcomes) == 1 and outcomes[0]["issue"][0]["code"] == "processing"
    assert "1 submission(s)" in outcomes[0]["issue"][0]["diagnostics"]

    first = json.loads(ehr.get("/fhir/feed.json?_count=2").data)
    assert [item["id"] for item in first["items"]] == [ids[0]]
    assert first["withheld"] == 1 and first["next"]
    second = json.loads(ehr.get(first["next"]).data)
    assert [item["id"] for item in second["items"]] == [ids[2]] and second["withheld"] == 0

    assert tamper_events(app) == [(bad_id, {"kind": "mismatch"})] * 2
    withheld = [row.detail.get("withheld") for row in api_reads(app)]
    assert withheld == [None, [bad_id], None, [bad_id], None]


def test_an_unsealed_submission_is_not_served_either(app, clock):
    (public_id,) = store(app, "North Clinic")
    ehr = RecordSystem(app, make_token(app, "EHR bridge", ["North Clinic"]))
    sql(app, "UPDATE submission SET digest = NULL")
    response = ehr.get(f"/fhir/QuestionnaireResponse/{public_id}")
    assert response.status_code == 500
    fhir_model(response.data)
    assert tamper_events(app) == [(internal_ids(app, [public_id])[0], {"kind": "unsealed"})]
    assert integrity.UNSEALED not in response.get_data(as_text=True)  # staff wording stays in
