"""The record systems' API at ``/fhir``: FHIR R4 JSON, bearer tokens only.

=============================================================  =============================
``GET  /fhir/metadata``                                        CapabilityStatement (open)
``GET  /fhir/openapi.json``                                    OpenAPI description (open)
``GET  /fhir/Questionnaire/tpi-screening``                     the questionnaire (open)
``GET  /fhir/CodeSystem/<id>``                                 answer, outcome, care level
                                                               and rule codes (open)
``GET  /fhir/QuestionnaireResponse?_lastUpdated=gt<instant>``  search, paged; ``_count``,
                                                               ``_cursor``, ``_include=
                                                               QuestionnaireResponse:subject``
``GET  /fhir/QuestionnaireResponse/<id>``                      one response
``GET  /fhir/Bundle/<reference>``                              a submission: Patient,
                                                               QuestionnaireResponse,
                                                               RiskAssessment, and the
                                                               summary PDF (DocumentReference)
``POST /fhir/QuestionnaireResponse/<id>/$mark-received``       the record system holds it
                                                               (``write`` scope)
``GET  /fhir/feed.json``                                       the same feed as plain JSON
=============================================================  =============================

Everything but the open documents needs ``Authorization: Bearer <token>`` (deny by default:
the views marked :func:`screening.public.public` are the exceptions). A missing, unknown or
revoked token gets 401 with an ``OperationOutcome``; a submission of a clinic the token is
not for is "not found" (404), like one that does not exist; a write without the ``write``
scope is 403. Every request with a token writes one audit row under the token's name,
listing the submissions it returned, before the data leaves (no audit, no data). Requests
are counted per token (``RATELIMIT_API``, ``60 per minute;1800 per hour``: a Bundle renders
the summary PDF, about a third of a second of one core, so one token keeps at most a sixth
of a core busy on average); requests without a valid token per address
(``RATELIMIT_API_FAILURES``, ``30 per minute;300 per hour``), which also bounds the audit
rows they write.

No cookie is read or set here and there is no session (:class:`screening.fhir.NoSessionForApi`),
so no CSRF token either: a browser never adds a bearer token to a request by itself.

Each submission's digest is checked before it is served, as on the staff pages
(:func:`screening.integrity.check`, which audits a failure as ``submission.tamper``). One
that fails is never served as if sound: a read of it answers 500 with an
``OperationOutcome`` that says why, and a search or the plain feed leaves it out (the
cursor still moves past it, so paging does not stall) and says how many it withheld (an
``OperationOutcome`` entry with ``search.mode`` ``outcome``; ``withheld`` in the plain feed).
"""

from __future__ import annotations

import json
import logging
import math
import time
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, current_app, g, render_template, request
from limits import parse_many
from sqlalchemy import select
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.wrappers import Response

from screening import audit, integrity
from screening.clinics import zone_of
from screening.extensions import db
from screening.fhir import PREFIX, feed, resources, tokens
from screening.fhir.models import ApiReceipt, ApiToken
from screening.models import Submission, normalise_code, utcnow
from screening.pdf import render_pdf
from screening.public import is_public, own_authentication, public
from screening.ratelimit import limiter
from screening.scoring.questionnaire import VERSION as QUESTIONNAIRE_VERSION
from screening.summaries import STYLESHEETS, build_summary

log = logging.getLogger(__name__)

#: Bearer tokens, checked here (:func:`_authenticate`), instead of a staff sign-in.
bp = own_authentication(Blueprint("fhir", __name__, url_prefix=PREFIX))

FHIR_JSON = "application/fhir+json; charset=utf-8"
PLAIN_JSON = "application/json; charset=utf-8"
OPENAPI_FILE = Path(__file__).with_name("openapi.json")

#: HTTP status -> FHIR issue type.
ISSUE_CODES = {
    400: "invalid",
    401: "login",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    413: "too-costly",
    429: "throttled",
    500: "exception",
    503: "transient",
}

#: What a refused token is told.
REFUSED = {
    "missing": "Send the token the clinic gave you: Authorization: Bearer <token>.",
    "malformed": "Send the token as Authorization: Bearer <token>.",
    "unknown": "The token is not valid.",
    "revoked": "The token was revoked. Ask the clinic for a new one.",
}

INCLUDE_SUBJECT = ("QuestionnaireResponse:subject", "QuestionnaireResponse:subject:Patient")


# ------------------------------------------------------------------ responses


def respond(
    resource: Any,
    status: int = 200,
    headers: dict[str, str] | None = None,
    content_type: str = FHIR_JSON,
) -> Response:
    """``resource`` as JSON, never stored by any cache."""
    body = json.dumps(resource, ensure_ascii=False, separators=(",", ":"))
    response = Response(body, status=status, content_type=content_type, headers=headers)
    response.headers["Cache-Control"] = "no-store"
    return response


def problem(status: int, text: str, headers: dict[str, str] | None = None) -> Response:
    """An ``OperationOutcome`` for an error ``status``."""
    code = ISSUE_CODES.get(status, "exception" if status >= 500 else "invalid")
    return respond(resources.operation_outcome(code, text), status, headers)


def error_page(code: int, request_id: str | None) -> Response:
    """What any error under ``/fhir/`` answers (registered with screening.errors)."""
    text = HTTP_STATUS_CODES.get(code, "Error")
    return problem(code, f"{text}. Reference {request_id}." if request_id else f"{text}.")


def base_url() -> str:
    """The API's address: ``FHIR_BASE_URL`` when set, else this request's own."""
    configured = current_app.config["FHIR_BASE_URL"]
    return str(configured or request.url_root.rstrip("/") + PREFIX).rstrip("/")


# ------------------------------------------------------------------ tokens and limits


def _hit(setting: str, *identifiers: str) -> int | None:
    """Count one request against ``app.config[setting]``; seconds to wait when over it.

    Fails open (and logs) when the counters cannot be reached, like the other limits.
    """
    if not current_app.config["RATELIMIT_ENABLED"]:
        return None
    try:
        strategy = limiter.limiter
        for item in parse_many(str(current_app.config[setting])):
            if not strategy.hit(item, setting, *identifiers):
                reset = strategy.get_window_stats(item, setting, *identifiers).reset_time
                return max(1, math.ceil(reset - time.time()))
    except Exception:
        log.warning("Could not count an API request against its limits", exc_info=True)
    return None


def _throttled(seconds: int) -> Response:
    return problem(
        429, f"Too many requests. Try again in {seconds} seconds.", {"Retry-After": str(seconds)}
    )


def _actor(token: ApiToken | None) -> audit.Actor:
    """Who the audit trail names: the token's name (role ``api``), or nobody."""
    return audit.Actor(None, token.name if token else None, "api" if token else None)


@bp.before_request
def _authenticate() -> Response | None:
    """Deny by default: every endpoint needs an active bearer token but the views marked
    :func:`~screening.public.public` (descriptions of the API and the questionnaire, no
    patient data)."""
    if is_public(current_app, request.endpoint):
        return None
    token, reason = tokens.authenticate(request.headers.get("Authorization"))
    token_id = token.id if token is not None else None
    # End the lookup's transaction before counting: the counters are written on a
    # connection of their own (screening/ratelimit.py), and on SQLite this request's
    # transaction would hold the write lock they wait for.
    db.session.rollback()
    if reason != "ok" or token is None:
        wait = _hit("RATELIMIT_API_FAILURES", request.remote_addr or "-")
        if wait:
            return _throttled(wait)
        audit.record(
            "api.denied",
            outcome="denied",
            actor=_actor(token),
            detail={
                "reason": reason,
                "endpoint": request.endpoint,
                **({"token": token_id} if token_id is not None else {}),
            },
        )
        db.session.commit()  # nothing else is written
        challenge = 'Bearer realm="screening"'
        if reason in ("unknown", "revoked"):
            challenge += ', error="invalid_token"'
        return problem(401, REFUSED[reason], {"WWW-Authenticate": challenge})
    wait = _hit("RATELIMIT_API", str(token_id))
    if wait:
        return _throttled(wait)
    g.api_token = token
    return None


def _audit(action: str, ids: list[int], outcome: str = "success", **detail: Any) -> None:
    """The request's one audit row: the token's name, the submissions it returned.

    Committed here, the view's one commit: with the token's last use, and whatever the
    view wrote (a receipt, a failed digest check's audit row). Call it last, before the
    data leaves (no audit, no data).
    """
    token: ApiToken = g.api_token
    token.last_used_at = utcnow()
    audit.record(
        action,
        outcome=outcome,
        actor=_actor(token),
        submission_id=ids[0] if len(ids) == 1 else None,
        detail={"ids": ids, "token": token.id, **detail},
    )
    db.session.commit()


def _visible(*conditions: Any) -> Submission | None:
    """The submission matching ``conditions`` if it belongs to one of the token's clinics."""
    clinic_ids = g.api_token.clinic_ids
    if not clinic_ids:
        return None
    return db.session.scalar(
        select(Submission).where(Submission.clinic_id.in_(clinic_ids), *conditions)
    )


def _not_found(resource: str) -> Response:
    _audit("api.read", [], outcome="failure", resource=resource)
    return problem(404, f"No such {resource} for this token's clinics.")


#: What a record system is told about a submission whose digest fails.
UNSOUND = (
    "The stored content of this submission fails its integrity check, so it is not sent. "
    "The clinic has been told; ask it to check the submission."
)


def _unsound(item: Submission, resource: str) -> Response | None:
    """500 (audited) when ``item`` fails its digest check; None when it is sound."""
    if item.id not in integrity.check([item]):  # a failure is audited as submission.tamper
        return None
    _audit("api.read", [], outcome="failure", resource=resource, withheld=[item.id])
    return problem(500, UNSOUND)


def _sound(items: list[Submission]) -> tuple[list[Submission], list[int]]:
    """``items`` that pass their digest check, and the ids of those left out (audited)."""
    failed = integrity.check(items)
    return [item for item in items if item.id not in failed], sorted(failed)


def _withheld_entry(count: int) -> dict[str, Any]:
    text = (
        f"{count} submission(s) on this page fail their integrity check and are not sent. "
        "The clinic has been told."
    )
    return {
        "resource": resources.operation_outcome("processing", text, "warning"),
        "search": {"mode": "outcome"},
    }


# ------------------------------------------------------------------ open documents


def capability_statement(base: str) -> dict[str, Any]:
    """What this server does, for FHIR clients (``GET /fhir/metadata``)."""
    search_params = [
        {
            "name": "_lastUpdated",
            "type": "date",
            "documentation": "gt, ge, lt or le and an instant with its time zone.",
        },
        {
            "name": "_cursor",
            "type": "string",
            "documentation": (
                "Resume after a response: its meta.lastUpdated and id joined by a comma. "
                "The next links carry it."
            ),
        },
    ]
    return {
        "resourceType": "CapabilityStatement",
        "id": "screening",
        "url": f"{base}/metadata",
        "name": "ScreeningRecordSystemsAPI",
        "title": "TPI screening: the record systems' API",
        "status": "active",
        "date": resources.version_date(QUESTIONNAIRE_VERSION) or "2026-01-01",
        "publisher": current_app.config["CLINIC_NAME"] or "screening",
        "kind": "instance",
        "software": {"name": "screening"},
        "implementation": {"description": "TPI screening questionnaires", "url": base},
        "fhirVersion": resources.FHIR_VERSION,
        "format": ["json"],
        "rest": [
            {
                "mode": "server",
                "documentation": (
                    "Read-only bearer tokens made by the clinic's administrators, each for "
                    "its clinics; the write scope adds $mark-received."
                ),
                "security": {
                    "cors": False,
                    "description": "Authorization: Bearer <token>. No cookies, no sessions.",
                },
                "resource": [
                    {"type": "Questionnaire", "interaction": [{"code": "read"}]},
                    {"type": "CodeSystem", "interaction": [{"code": "read"}]},
                    {
                        "type": "QuestionnaireResponse",
                        "interaction": [{"code": "read"}, {"code": "search-type"}],
                        "searchInclude": list(INCLUDE_SUBJECT[:1]),
                        "searchParam": search_params,
                        "operation": [
                            {
                                "name": "mark-received",
                                "definition": f"{base}/OperationDefinition/mark-received",
                                "documentation": "POST with a token that has the write scope.",
                            }
                        ],
                    },
                    {"type": "Bundle", "interaction": [{"code": "read"}]},
                ],
            }
        ],
    }


@bp.get("/metadata")
@public
def metadata() -> Response:
    return respond(capability_statement(base_url()))


@bp.get("/openapi.json")
@public
def openapi() -> Response:
    return Response(OPENAPI_FILE.read_bytes(), content_type=PLAIN_JSON)


@bp.get("/Questionnaire/<resource_id>")
@public
def questionnaire(resource_id: str) -> Response:
    if resource_id != resources.QUESTIONNAIRE_ID:
        return problem(404, "No such Questionnaire.")
    return respond(resources.questionnaire_resource(base_url()))


@bp.get("/CodeSystem/<resource_id>")
@public
def code_system(resource_id: str) -> Response:
    found = resources.code_system(base_url(), resource_id)
    if found is None:
        return problem(404, "No such CodeSystem.")
    return respond(found)


# ------------------------------------------------------------------ patient data


def _summary_pdf(item: Submission, zone: str) -> bytes:
    """The clinician's one-page summary, as staff download it."""
    summary = build_summary(item, timezone=zone)
    html = render_template(
        "print/summary.html", summary=summary, paper=current_app.config["SUMMARY_PAPER"], pdf=True
    )
    return render_pdf(html, stylesheets=STYLESHEETS)


@bp.get("/Bundle/<reference>")
def bundle(reference: str) -> Response:
    """A submission by its reference code: Patient, answers, assessment and summary PDF."""
    code = normalise_code(reference) if len(reference) <= 20 and reference.isascii() else ""
    item = _visible(Submission.reference == code) if code else None
    if item is None:
        return _not_found("Bundle")
    if unsound := _unsound(item, "Bundle"):
        return unsound
    clinic = item.clinic
    zone = zone_of(clinic)
    # The PDF takes a good part of a second: make it outside any transaction (on SQLite an
    # open one holds the write lock every patient's next page waits for). Both rows stay
    # loaded, detached from the session the rollback ends.
    db.session.expunge(item)
    if clinic is not None:
        db.session.expunge(clinic)
    db.session.rollback()
    made_at = utcnow()
    response = respond(resources.bundle(item, base_url(), _summary_pdf(item, zone), made_at))
    _audit("api.read", [item.id], resource="Bundle")  # before anything is sent
    return response


@bp.get("/QuestionnaireResponse/<public_id>")
def questionnaire_response(public_id: str) -> Response:
    item = _visible(Submission.public_id == public_id) if feed.ID_RE.fullmatch(public_id) else None
    if item is None:
        return _not_found("QuestionnaireResponse")
    if unsound := _unsound(item, "QuestionnaireResponse"):
        return unsound
    response = respond(resources.questionnaire_response(item, base_url()))
    _audit("api.read", [item.id], resource="QuestionnaireResponse")
    return response


def _page_size() -> int:
    raw = request.args.get("_count")
    largest = current_app.config["FHIR_PAGE_MAX"]
    if raw is None:
        return min(current_app.config["FHIR_PAGE_DEFAULT"], largest)
    if not (raw.isascii() and raw.isdigit() and 0 < len(raw) <= 12 and int(raw) > 0):
        raise feed.BadQuery("_count: give a whole number from 1.")
    return min(int(raw), largest)


def _search(resource: str) -> tuple[list[Submission], bool, feed.Bounds] | Response:
    """Read the search parameters and the page they ask for, or answer 400 (audited)."""
    try:
        count = _page_size()
        delay = timedelta(seconds=current_app.config["FHIR_FEED_DELAY_SECONDS"])
        bounds = feed.bounds_from(
            request.args.getlist("_lastUpdated"), request.args.get("_cursor"), utcnow() - delay
        )
        if any(value not in INCLUDE_SUBJECT for value in request.args.getlist("_include")):
            raise feed.BadQuery("_include: only QuestionnaireResponse:subject is supported.")
    except feed.BadQuery as error:
        _audit("api.read", [], outcome="failure", resource=resource)
        return problem(400, str(error))
    items, more = feed.page(g.api_token.clinic_ids, bounds, count)
    return items, more, bounds


def _link(path: str, cursor: feed.Position | None) -> str:
    """This search's address, starting after ``cursor``."""
    pairs = [(key, value) for key, value in request.args.items(multi=True) if key != "_cursor"]
    if cursor is not None:
        pairs.append(("_cursor", str(cursor)))
    query = urlencode(pairs)
    return f"{base_url()}/{path}" + (f"?{query}" if query else "")


@bp.get("/QuestionnaireResponse")
def search() -> Response:
    """The token's clinics' responses in feed order (screening/fhir/feed.py), paged."""
    found = _search("QuestionnaireResponse")
    if isinstance(found, Response):
        return found
    page, more, bounds = found
    items, withheld = _sound(page)
    base = base_url()
    include = bool(request.args.getlist("_include"))
    entries = []
    for item in items:
        entries.append(
            {
                "fullUrl": resources.url(base, "QuestionnaireResponse", item.public_id),
                "resource": resources.questionnaire_response(item, base),
                "search": {"mode": "match"},
            }
        )
        if include:
            entries.append(
                {
                    "fullUrl": resources.url(base, "Patient", item.public_id),
                    "resource": resources.patient(item, base),
                    "search": {"mode": "include"},
                }
            )
    links = [{"relation": "self", "url": _link("QuestionnaireResponse", bounds.after)}]
    if more:
        links.append(
            {
                "relation": "next",
                "url": _link("QuestionnaireResponse", feed.Position.of(page[-1])),
            }
        )
    if withheld:
        entries.append(_withheld_entry(len(withheld)))
    response = respond(
        {
            "resourceType": "Bundle",
            "type": "searchset",
            "timestamp": resources.instant(utcnow()),
            "link": links,
            "entry": entries,
        }
    )
    detail: dict[str, Any] = {"resource": "QuestionnaireResponse"}
    if withheld:
        detail["withheld"] = withheld
    _audit("api.read", [item.id for item in items], **detail)
    return response


@bp.get("/feed.json")
def plain_feed() -> Response:
    """The same feed for integrations without FHIR: ids, outcome and where to fetch each."""
    found = _search("feed")
    if isinstance(found, Response):
        return found
    page, more, bounds = found
    items, withheld = _sound(page)
    base = base_url()
    last = feed.Position.of(page[-1]) if page else bounds.after
    response = respond(
        {
            "items": [
                {
                    "id": item.public_id,
                    "reference": item.reference,
                    "lastUpdated": resources.instant(item.feed_updated_at),
                    "submitted": resources.instant(item.submitted_at),
                    "clinic": item.clinic.name if item.clinic else None,
                    "outcome": item.outcome,
                    "careLevel": item.care_level,
                    "questionnaireResponse": resources.url(
                        base, "QuestionnaireResponse", item.public_id
                    ),
                    "bundle": resources.url(base, "Bundle", item.reference),
                }
                for item in items
            ],
            "withheld": len(withheld),
            "cursor": str(last) if last is not None else None,
            "next": _link("feed.json", last) if more else None,
        },
        content_type=PLAIN_JSON,
    )
    detail: dict[str, Any] = {"resource": "feed"}
    if withheld:
        detail["withheld"] = withheld
    _audit("api.read", [item.id for item in items], **detail)
    return response


@bp.post("/QuestionnaireResponse/<public_id>/$mark-received")
def mark_received(public_id: str) -> Response:
    """The record system holds this submission: staff see it in the timeline."""
    token: ApiToken = g.api_token
    if not token.can_write:
        _audit("api.denied", [], outcome="denied", reason="scope", endpoint=request.endpoint)
        return problem(403, "This token may only read. Ask the clinic for one with write scope.")
    item = _visible(Submission.public_id == public_id) if feed.ID_RE.fullmatch(public_id) else None
    if item is None:
        _audit("api.received", [], outcome="failure", resource="QuestionnaireResponse")
        return problem(404, "No such QuestionnaireResponse for this token's clinics.")
    already = db.session.scalar(
        select(ApiReceipt.id).where(
            ApiReceipt.submission_id == item.id, ApiReceipt.token_id == token.id
        )
    )
    if already is None:
        db.session.add(ApiReceipt(submission_id=item.id, token_id=token.id, at=utcnow()))
    text = "Marked as received." if already is None else "It was already marked as received."
    response = respond(resources.operation_outcome("informational", text, "information"))
    _audit("api.received", [item.id], again=already is not None)  # commits the receipt too
    return response
