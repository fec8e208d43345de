"""The record systems' API: tokens, clinics, paging, audit, limits, and a full pull."""

from __future__ import annotations

import io
import json
import re
from datetime import timedelta
from urllib.parse import parse_qs, quote, urlencode, urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pypdf import PdfReader
from sqlalchemy import func, select

from screening import demo
from screening.audit import AuditEvent
from screening.extensions import db
from screening.fhir import resources
from screening.fhir.models import ApiReceipt, ApiToken
from screening.models import Clinic, StaffUser, Submission
from screening.staff import workflow
from tests.factories import BASELINE
from tests.fhir.helpers import (
    LONG_AGO,
    RecordSystem,
    as_json,
    fhir_model,
    make_token,
    send_form,
    store,
    submission,
)
from tests.patient_client import Patient, clinic_today
from tests.staff.conftest import START
from tests.staff.helpers import StaffClient, make_staff
from tests.staff.test_workflow import send

SEARCH = "/fhir/QuestionnaireResponse"


def audit_rows(app, action: str | None = None) -> list[AuditEvent]:
    with app.app_context():
        query = select(AuditEvent).order_by(AuditEvent.id)
        if action:
            query = query.where(AuditEvent.action == action)
        rows = db.session.scalars(query).all()
        db.session.expunge_all()
        return rows


def internal_ids(app, public_ids) -> list[int]:
    with app.app_context():
        found = dict(
            db.session.execute(
                select(Submission.public_id, Submission.id).where(
                    Submission.public_id.in_(list(public_ids))
                )
            ).all()
        )
    return [found[p] for p in public_ids]


def ids_of(entries) -> list[str]:
    return [e["resource"]["id"] for e in entries if e["search"]["mode"] == "match"]


def outcome_of(response) -> dict:
    """The response's resource, validated with the R4B models."""
    assert response.mimetype == "application/fhir+json"
    return as_json(fhir_model(response.data))


@pytest.fixture()
def north(app, clock):
    """Three old submissions at North Clinic and a read-only token for it."""
    ids = store(app, "North Clinic", count=3)
    return RecordSystem(app, make_token(app, "EHR bridge", ["North Clinic"])), ids


# ------------------------------------------------------------------ open documents


def test_metadata_questionnaire_and_code_systems_are_open_and_valid(app, clock):
    anyone = RecordSystem(app, None)
    statement = outcome_of(anyone.get("/fhir/metadata"))
    assert statement["resourceType"] == "CapabilityStatement"
    assert statement["fhirVersion"] == resources.FHIR_VERSION
    kinds = {r["type"] for r in statement["rest"][0]["resource"]}
    assert kinds == {"Questionnaire", "CodeSystem", "QuestionnaireResponse", "Bundle"}
    form = outcome_of(anyone.get("/fhir/Questionnaire/tpi-screening"))
    assert form["url"] == "http://localhost/fhir/Questionnaire/tpi-screening"
    for key in resources.CODE_SYSTEMS:
        assert outcome_of(anyone.get(f"/fhir/CodeSystem/{key}"))["id"] == key
    assert anyone.get("/fhir/CodeSystem/nothing").status_code == 404
    assert anyone.get("/fhir/Questionnaire/other").status_code == 404
    assert audit_rows(app, "api.read") == []  # no patient data, nothing to audit


def test_the_canonical_address_can_be_set(make_app, clock):
    app = make_app(FHIR_BASE_URL="https://forms.clinic.example/fhir/")
    form = outcome_of(RecordSystem(app, None).get("/fhir/Questionnaire/tpi-screening"))
    assert form["url"] == "https://forms.clinic.example/fhir/Questionnaire/tpi-screening"


def test_openapi_describes_exactly_the_routes(app):
    response = app.test_client().get("/fhir/openapi.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    spec = json.loads(response.data)
    assert spec["openapi"].startswith("3.")
    described = {(path, method.upper()) for path, item in spec["paths"].items() for method in item}
    routed = {
        (re.sub(r"<(?:[^:<>]+:)?(\w+)>", r"{\1}", rule.rule), method)
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/fhir/")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert described == routed
    # Every path parameter is described.
    for path, item in spec["paths"].items():
        for operation in item.values():
            names = {
                p.get("name") or p["$ref"].rsplit("/", 1)[-1]
                for p in operation.get("parameters", [])
            }
            assert set(re.findall(r"{(\w+)}", path)) <= names, path


# ------------------------------------------------------------------ tokens


def test_no_token_a_bad_token_and_a_malformed_header_get_401(app, north):
    _, ids = north
    for headers in (
        {},
        {"Authorization": "Bearer scr_not-a-real-token"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer " + "x" * 5000},
    ):
        for url in (SEARCH, f"{SEARCH}/{ids[0]}", "/fhir/Bundle/AAA-AAA-AAA", "/fhir/feed.json"):
            response = app.test_client().get(url, headers=headers)
            assert response.status_code == 401, (headers, url)
            assert response.headers["WWW-Authenticate"].startswith('Bearer realm="screening"')
            assert outcome_of(response)["issue"][0]["code"] == "login"
            assert ids[0] not in response.get_data(as_text=True)
    denied = audit_rows(app, "api.denied")
    assert len(denied) == 20
    assert {row.detail["reason"] for row in denied} == {"missing", "unknown", "malformed"}
    assert all(row.outcome == "denied" and row.actor_name is None for row in denied)


def test_a_revoked_token_gets_401_at_once(app, north):
    system, ids = north
    assert system.get(SEARCH).status_code == 200
    with app.app_context():
        from screening.fhir import tokens

        token = db.session.scalar(select(ApiToken))
        tokens.revoke(token)
        db.session.commit()
    response = system.get(SEARCH)
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
    assert "revoked" in outcome_of(response)["issue"][0]["diagnostics"]
    row = audit_rows(app, "api.denied")[-1]
    assert row.actor_name == "EHR bridge" and row.detail["reason"] == "revoked"


def test_another_clinics_submission_is_not_found(app, north):
    system, north_ids = north
    south_ids = store(app, "South Clinic", count=2, seed=2)
    south = submission(app, south_ids[0])
    assert outcome_of(system.get(f"{SEARCH}/{north_ids[0]}"))["id"] == north_ids[0]
    for url in (f"{SEARCH}/{south.public_id}", f"/fhir/Bundle/{south.reference}"):
        response = system.get(url)
        assert response.status_code == 404
        assert outcome_of(response)["issue"][0]["code"] == "not-found"
        assert south.reference not in response.get_data(as_text=True)
    # ... and looks exactly like one that does not exist.
    assert system.get(f"{SEARCH}/{'0' * 32}").data == system.get(f"{SEARCH}/{'1' * 32}").data
    listed = ids_of(system.pull(f"{SEARCH}?_count=1"))
    assert sorted(listed) == sorted(north_ids)
    south_token = RecordSystem(app, make_token(app, "South EHR", ["South Clinic"]))
    assert sorted(ids_of(south_token.pull(SEARCH))) == sorted(south_ids)


def test_a_read_only_token_cannot_write(app, north):
    system, ids = north
    response = system.post(f"{SEARCH}/{ids[0]}/$mark-received")
    assert response.status_code == 403
    assert outcome_of(response)["issue"][0]["code"] == "forbidden"
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ApiReceipt)) == 0
    row = audit_rows(app, "api.denied")[-1]
    assert row.detail["reason"] == "scope" and row.actor_name == "EHR bridge"


def test_no_cookie_no_session_no_csrf(make_app, clock):
    app = make_app(WTF_CSRF_ENABLED=True)
    (public_id,) = store(app, "North Clinic")
    secret = make_token(app, "EHR bridge", ["North Clinic"], write=True)
    # A browser that holds a patient's form and a staff sign-in.
    browser = StaffClient(app.test_client())
    browser.sign_in(make_staff(app, "ada.admin", "admin"))
    Patient(browser.client).get("/step/about-you")
    cookie = browser.client.get_cookie("screening_session")
    assert cookie is not None
    # The staff sign-in is no API credential.
    assert browser.client.get(SEARCH).status_code == 401
    headers = {"Authorization": f"Bearer {secret}"}
    for method, url in (
        ("GET", SEARCH),
        ("GET", f"{SEARCH}/{public_id}"),
        ("GET", "/fhir/metadata"),
        ("GET", "/fhir/nothing-here"),
        ("POST", f"{SEARCH}/{public_id}/$mark-received"),  # no CSRF token: none is needed
        ("GET", f"{SEARCH}?_count=x"),
    ):
        response = browser.client.open(url, method=method, headers=headers)
        assert response.status_code in (200, 400, 404), (url, response.status_code)
        assert "Set-Cookie" not in response.headers, url
        assert response.headers["Cache-Control"] == "no-store"
        assert response.mimetype == "application/fhir+json"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ApiReceipt)) == 1
    # The browser keeps the cookie it had: the API neither read nor replaced it, and the
    # staff member is still signed in.
    assert browser.client.get_cookie("screening_session").value == cookie.value
    assert browser.client.get("/staff/").status_code == 200


# ------------------------------------------------------------------ search and paging


def test_paging_across_ties_lists_each_submission_once(app, clock):
    tied = store(app, "North Clinic", count=7, at=LONG_AGO, seed=3)
    before = store(app, "North Clinic", count=2, at=LONG_AGO - timedelta(hours=1), seed=4)
    after = store(app, "North Clinic", count=2, at=LONG_AGO + timedelta(microseconds=1), seed=5)
    system = RecordSystem(app, make_token(app, "EHR bridge", ["North Clinic"]))
    entries = system.pull(f"{SEARCH}?_count=2")
    listed = ids_of(entries)
    assert len(listed) == len(set(listed)) == 11
    # In feed order: time, then id.
    assert set(listed[:2]) == set(before) and set(listed[-2:]) == set(after)
    assert listed[2:9] == sorted(tied)
    # A record system that stopped after the third tied one resumes where it stopped.
    third = entries[4]["resource"]
    cursor = f"{third['meta']['lastUpdated']},{third['id']}"
    rest = ids_of(system.pull(f"{SEARCH}?_count=3&_cursor={cursor}"))
    assert rest == listed[5:]
    # _lastUpdated=gt the tie's time leaves out all of it.
    stamp = third["meta"]["lastUpdated"].replace("+00:00", "Z")
    assert set(ids_of(system.pull(f"{SEARCH}?_lastUpdated=gt{stamp}"))) == set(after)
    assert len(ids_of(system.pull(f"{SEARCH}?_lastUpdated=ge{stamp}"))) == 9
    lt = ids_of(system.pull(f"{SEARCH}?_lastUpdated=lt{stamp}"))
    assert set(lt) == set(before)


def test_next_links_keep_the_search_and_add_the_cursor(app, north):
    system, _ = north
    page = outcome_of(system.get(f"{SEARCH}?_count=1&_lastUpdated=gt2020-01-01T00:00:00Z"))
    assert page["type"] == "searchset"
    links = {link["relation"]: link["url"] for link in page["link"]}
    query = parse_qs(urlsplit(links["next"]).query)
    assert query["_count"] == ["1"] and query["_lastUpdated"] == ["gt2020-01-01T00:00:00Z"]
    raw = json.loads(system.get(f"{SEARCH}?_count=1&_lastUpdated=gt2020-01-01T00:00:00Z").data)
    resource = raw["entry"][0]["resource"]
    assert query["_cursor"] == [f"{resource['meta']['lastUpdated']},{resource['id']}"]
    last = outcome_of(system.get(f"{SEARCH}?_count=5"))
    assert [link["relation"] for link in last["link"]] == ["self"]


def test_include_adds_each_patient(app, north):
    system, ids = north
    entries = system.pull(f"{SEARCH}?_include=QuestionnaireResponse:subject")
    patients = [e["resource"] for e in entries if e["search"]["mode"] == "include"]
    assert sorted(p["id"] for p in patients) == sorted(ids)
    assert all(p["resourceType"] == "Patient" and p["name"][0]["text"] for p in patients)


@pytest.mark.parametrize(
    "query",
    [
        "_lastUpdated=2026-01-01T00:00:00Z",
        "_lastUpdated=gt2026-01-01",
        "_lastUpdated=gt2026-13-01T00:00:00Z",
        "_lastUpdated=gt99999-01-01T00:00:00Z",
        "_lastUpdated=eq2026-01-01T00:00:00Z",
        "_lastUpdated=gt2026-01-01T00:00:00%00Z",
        "_count=0",
        "_count=-3",
        "_count=ten",
        "_count=%C2%B2",
        "_cursor=2026-01-01T00:00:00Z",
        "_cursor=2026-01-01T00:00:00Z,not-an-id",
        "_cursor=%00",
        "_include=Patient:link",
    ],
)
def test_bad_search_parameters_get_400(app, north, query):
    system, _ = north
    for path in (SEARCH, "/fhir/feed.json"):
        response = system.get(f"{path}?{query}")
        assert response.status_code == 400, (path, query)
        issue = outcome_of(response)["issue"][0]
        assert issue["code"] == "invalid" and issue["diagnostics"]


def test_a_huge_count_is_cut_to_the_largest_page(make_app, clock):
    app = make_app(FHIR_PAGE_MAX=4)
    store(app, "North Clinic", count=6)
    system = RecordSystem(app, make_token(app, "EHR bridge", ["North Clinic"]))
    response = system.get(f"{SEARCH}?_count=1000000")
    assert response.status_code == 200
    page = outcome_of(response)
    assert len(page["entry"]) == 4 and page["link"][-1]["relation"] == "next"


def test_new_submissions_wait_until_they_have_settled(app, clock):
    system = RecordSystem(app, make_token(app, "EHR bridge", ["North Clinic"]))
    fresh = send(app)  # a patient sends the form now
    with app.app_context():
        item = db.session.get(Submission, fresh.id)
        assert item.feed_updated_at == item.submitted_at
    assert ids_of(system.pull(SEARCH)) == []
    # ... but its own address works at once.
    assert system.get(f"{SEARCH}/{fresh.public_id}").status_code == 200
    clock.shift(timedelta(seconds=app.config["FHIR_FEED_DELAY_SECONDS"]))
    assert ids_of(system.pull(SEARCH)) == [fresh.public_id]


def test_a_submission_moved_to_the_clinic_comes_after_the_cursor(app, clock):
    north_ids = store(app, "North Clinic", count=2)
    (moved,) = store(app, "South Clinic", count=1, seed=9)
    system = RecordSystem(app, make_token(app, "EHR bridge", ["North Clinic"]))
    entries = system.pull(SEARCH)
    assert sorted(ids_of(entries)) == sorted(north_ids)
    last = entries[-1]["resource"]
    cursor = f"{last['meta']['lastUpdated']},{last['id']}"
    admin = make_staff(app, "ada.admin", "admin")
    with app.app_context():
        item = db.session.scalar(select(Submission).where(Submission.public_id == moved))
        north = db.session.scalar(select(Clinic).where(Clinic.name == "North Clinic"))
        workflow.move_to_clinic(
            item,
            item.version,
            north,
            "Sent to the wrong clinic",
            db.session.get(StaffUser, admin.id),
        )
        db.session.commit()
    clock.shift(timedelta(seconds=61))
    assert ids_of(system.pull(f"{SEARCH}?_cursor={cursor}")) == [moved]


# ------------------------------------------------------------------ reads and the audit trail


def test_each_read_writes_one_audit_row_with_the_ids_returned(app, north):
    system, ids = north
    before = len(audit_rows(app))
    page = outcome_of(system.get(f"{SEARCH}?_count=2"))
    returned = [e["resource"]["id"] for e in page["entry"]]
    rows = audit_rows(app)[before:]
    assert len(rows) == 1
    row = rows[0]
    assert row.action == "api.read" and row.outcome == "success"
    assert row.actor_name == "EHR bridge" and row.role == "api" and row.actor_id is None
    assert row.detail["ids"] == internal_ids(app, returned)
    assert row.detail["resource"] == "QuestionnaireResponse"

    item = submission(app, returned[0])
    response = system.get(f"/fhir/Bundle/{item.reference.lower()}")
    assert response.status_code == 200
    (row,) = audit_rows(app)[before + 1 :]
    assert row.submission_id == item.id and row.detail["ids"] == [item.id]
    assert row.detail["resource"] == "Bundle"

    assert system.get(f"{SEARCH}/{'0' * 32}").status_code == 404
    row = audit_rows(app)[-1]
    assert row.outcome == "failure" and row.detail["ids"] == []
    with app.app_context():
        token = db.session.scalar(select(ApiToken))
        assert token.last_used_at == START
    # "Who touched this submission" lists the search that returned it and the Bundle read.
    admin = StaffClient(app.test_client())
    admin.sign_in(make_staff(app, "ada.admin", "admin"))
    page = admin.get(f"/staff/admin/audit/submission?reference={item.reference}")
    rows = re.findall(r"<td>EHR bridge</td><td>api.read</td>", page.get_data(as_text=True))
    assert len(rows) == 2


def test_no_audit_no_data(app, north, monkeypatch):
    system, ids = north
    from screening import audit

    def broken(*args, **kwargs):
        raise audit.AuditError("down")

    monkeypatch.setattr(audit, "record", broken)
    response = system.get(SEARCH)
    assert response.status_code == 503
    assert outcome_of(response)["issue"][0]["code"] == "transient"
    assert not any(public_id in response.get_data(as_text=True) for public_id in ids)


def test_the_bundle_carries_the_summary_pdf(app, north):
    system, ids = north
    item = submission(app, ids[1])
    response = system.get(f"/fhir/Bundle/{item.reference}")
    bundle = fhir_model(response.data)
    document = bundle.entry[3].resource
    pdf = PdfReader(io.BytesIO(document.content[0].attachment.data))
    assert pdf.metadata.title == f"Clinician summary – {item.reference}"
    assert item.personal["full_name"] in pdf.pages[0].extract_text()
    assert document.content[0].attachment.size == len(document.content[0].attachment.data)
    assert item.reference in document.description
    answers = resources.answers_from_response(json.loads(response.data)["entry"][1]["resource"])
    assert answers == item.answers
    risk = bundle.entry[2].resource
    assert risk.prediction[0].outcome.coding[0].code == item.outcome


# ------------------------------------------------------------------ limits


def test_each_token_has_its_own_rate_limit(make_app, clock):
    app = make_app(RATELIMIT_API="3 per minute")
    store(app, "North Clinic")
    first = RecordSystem(app, make_token(app, "EHR bridge", ["North Clinic"]))
    other = RecordSystem(app, make_token(app, "Lab system", ["North Clinic"]))
    assert [first.get(SEARCH).status_code for _ in range(3)] == [200, 200, 200]
    response = first.get(SEARCH)
    assert response.status_code == 429
    assert outcome_of(response)["issue"][0]["code"] == "throttled"
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    assert other.get(SEARCH).status_code == 200
    clock.shift(timedelta(seconds=61))
    assert first.get(SEARCH).status_code == 200


def test_guessing_tokens_is_limited_per_address(make_app, clock):
    app = make_app(RATELIMIT_API_FAILURES="5 per minute")
    store(app, "North Clinic")
    guesser = RecordSystem(app, "scr_guess")
    assert [guesser.get(SEARCH).status_code for _ in range(5)] == [401] * 5
    assert guesser.get(SEARCH).status_code == 429
    assert len(audit_rows(app, "api.denied")) == 5  # the rest are counted, not audited
    # The real token still works from the same address.
    system = RecordSystem(app, make_token(app, "EHR bridge", ["North Clinic"]))
    assert system.get(SEARCH).status_code == 200


# ------------------------------------------------------------------ marking as received


def test_marking_as_received_shows_in_the_staff_timeline(app, clock):
    (public_id,) = store(app, "North Clinic")
    system = RecordSystem(app, make_token(app, "EHR bridge", ["North Clinic"], write=True))
    response = system.post(f"{SEARCH}/{public_id}/$mark-received")
    assert response.status_code == 200
    assert outcome_of(response)["issue"][0]["severity"] == "information"
    again = system.post(f"{SEARCH}/{public_id}/$mark-received")
    assert "already" in outcome_of(again)["issue"][0]["diagnostics"]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ApiReceipt)) == 1
    rows = audit_rows(app, "api.received")
    item = submission(app, public_id)
    assert [(r.submission_id, r.actor_name, r.detail["again"]) for r in rows] == [
        (item.id, "EHR bridge", False),
        (item.id, "EHR bridge", True),
    ]
    assert system.post(f"{SEARCH}/{'0' * 32}/$mark-received").status_code == 404
    # An intake worker sees it on the submission's page.
    desk = StaffClient(app.test_client())
    desk.sign_in(make_staff(app, "ivy", "intake", clinics=["North Clinic"]))
    page = desk.get(f"/staff/submissions/{public_id}").get_data(as_text=True)
    assert "EHR bridge (record system)" in page
    assert "Marked as received through the API" in page


# ------------------------------------------------------------------ a record system's pull


def test_a_record_system_pulls_every_submission_of_its_clinic_once(app, clock):
    """Seeded clinics, new forms arriving between polls; each poll resumes from the last
    response it stored. In the end it holds every North Clinic submission, once."""
    with app.app_context():
        demo.seed(240, clinics=["North Clinic", "South Clinic", "East Clinic"], now=LONG_AGO)
    store(app, "North Clinic", count=9, at=LONG_AGO, seed=11)  # ties at the newest time
    system = RecordSystem(app, make_token(app, "EHR bridge", ["North Clinic"]))
    held: list[str] = []
    cursor = None

    def poll() -> None:
        nonlocal cursor
        first = f"{SEARCH}?_count=25" + (f"&_cursor={cursor}" if cursor else "")
        entries = system.pull(first)
        for entry in entries:
            resource = entry["resource"]
            held.append(resource["id"])
            cursor = f"{resource['meta']['lastUpdated']},{resource['id']}"

    poll()
    # Patients send forms (one to South Clinic); an administrator moves one from East to
    # North after the first poll: the next polls still find it.
    sent = [send_form(app, "North Clinic"), send_form(app, "North Clinic", dur="gt_1y")]
    send_form(app, "South Clinic")
    (moved,) = store(app, "East Clinic", seed=12)
    poll()  # not settled yet
    clock.shift(timedelta(minutes=5))
    sent.append(send_form(app, "North Clinic"))
    admin = make_staff(app, "ada.admin", "admin")
    with app.app_context():
        item = db.session.scalar(select(Submission).where(Submission.public_id == moved))
        workflow.move_to_clinic(
            item,
            item.version,
            db.session.scalar(select(Clinic).where(Clinic.name == "North Clinic")),
            "The patient asked for North Clinic",
            db.session.get(StaffUser, admin.id),
        )
        db.session.commit()
    poll()
    clock.shift(timedelta(minutes=5))
    poll()
    poll()  # nothing new
    with app.app_context():
        expected = set(
            db.session.scalars(
                select(Submission.public_id).join(Clinic).where(Clinic.name == "North Clinic")
            )
        )
        total = db.session.scalar(select(func.count()).select_from(Submission))
    assert len(held) == len(set(held)), "a submission came twice"
    assert set(held) == expected and {*sent, moved} <= expected
    assert 100 < len(expected) < total
    # The plain JSON feed gives the same, in the same order.
    plain, url = [], "/fhir/feed.json?_count=40"
    while url:
        page = json.loads(system.get(url).data)
        plain += [item["id"] for item in page["items"]]
        url = page["next"]
    assert plain == held
    assert page["cursor"] == cursor


def test_the_plain_feed_resumes_from_its_cursor(app, north):
    system, ids = north
    page = json.loads(system.get("/fhir/feed.json?_count=2").data)
    assert len(page["items"]) == 2 and page["next"]
    item = page["items"][0]
    assert set(item) >= {"id", "reference", "lastUpdated", "outcome", "bundle"}
    rest = json.loads(system.get(f"/fhir/feed.json?_cursor={page['cursor']}").data)
    assert [i["id"] for i in page["items"] + rest["items"]] == sorted(
        ids, key=lambda p: (submission(app, p).feed_updated_at, p)
    )
    last = rest["items"][-1]
    assert rest["next"] is None and rest["cursor"] == f"{last['lastUpdated']},{last['id']}"
    # Nothing new: the same cursor comes back, to ask with again later.
    empty = json.loads(system.get(f"/fhir/feed.json?_cursor={rest['cursor']}").data)
    assert empty == {"items": [], "withheld": 0, "cursor": rest["cursor"], "next": None}


def test_unused_methods_and_unknown_paths_answer_in_fhir(app, north):
    system, _ = north
    for method, url, status in (
        ("PUT", SEARCH, 405),
        ("DELETE", "/fhir/metadata", 405),
        ("GET", "/fhir/Patient/abc", 404),
        ("GET", f"{SEARCH}/$mark-received", 404),
    ):
        response = system.client.open(url, method=method, headers=system.headers())
        assert response.status_code == status
        assert outcome_of(response)["resourceType"] == "OperationOutcome"


def test_patients_and_staff_keep_their_session_cookie(app, clock):
    """The no-session rule is for /fhir only."""
    patient = Patient(app.test_client())
    response = patient.get("/step/about-you")
    assert response.status_code == 200 and "Set-Cookie" in response.headers
    patient.complete(BASELINE, clinic_today(app))
    assert patient.get("/review").status_code == 200  # the form was kept in its session


# ------------------------------------------------------------------ hostile values

HOSTILE = [
    "",
    "\x00",
    "%00",
    "' OR 1=1 --",
    "9" * 40,
    "-1",
    "\u202eevil",
    "../../etc/passwd",
    "<script>alert(1)</script>",
    "Ｋ７Ｑ-Ｍ４Ｔ-２ＺＰ",
    "gt2026-02-30T00:00:00Z",
    "gt0001-01-01T00:00:00Z",
    "ge9999-12-31T23:59:59.999999+14:00",
    "2026-01-01T00:00:00Z," + "g" * 32,
    "\ud800",
    "x" * 5000,
]


@settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(value=st.one_of(st.sampled_from(HOSTILE), st.text(max_size=60)))
def test_hostile_values_with_a_valid_token_never_get_a_500(app, north, value):
    system, ids = north
    path = quote(value, safe="", errors="surrogatepass")
    requests = [
        ("GET", f"{SEARCH}/{path}"),
        ("GET", f"/fhir/Bundle/{path}"),
        ("GET", f"/fhir/Questionnaire/{path}"),
        ("GET", f"/fhir/CodeSystem/{path}"),
        ("POST", f"{SEARCH}/{path}/$mark-received"),
    ]
    for name in ("_lastUpdated", "_count", "_cursor", "_include"):
        query = urlencode([(name, value)], errors="surrogatepass")
        requests += [("GET", f"{SEARCH}?{query}"), ("GET", f"/fhir/feed.json?{query}")]
    for method, url in requests:
        response = system.client.open(url, method=method, headers=system.headers())
        assert response.status_code < 500, (method, url, response.status_code)
        if response.status_code >= 400:
            assert outcome_of(response)["resourceType"] == "OperationOutcome"
    try:
        header = f"Bearer {value}".encode("latin-1").decode("latin-1")
    except UnicodeEncodeError:
        return  # not something HTTP can carry in a header
    if "\n" in header or "\r" in header:
        return  # nor this (the test client refuses it before sending)
    response = system.client.get(SEARCH, headers={"Authorization": header})
    assert response.status_code in (401, 429)
