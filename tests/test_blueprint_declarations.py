"""Each blueprint owns its access, limits, CSRF failures and language; the app applies them.

Open endpoints are declared by the blueprint that has them (screening/public.py), rate
limits on the views (tests/test_limits.py), the answer to a failed CSRF check by each
blueprint's own error handler, English-only pages by the staff blueprint.
"""

from __future__ import annotations

import ast
from pathlib import Path

from flask import Blueprint
from flask_wtf.csrf import CSRFError
from sqlalchemy import select

from screening import errors, i18n
from screening.audit import AuditEvent
from screening.extensions import db
from screening.patient import sending
from screening.public import (
    authenticates_itself,
    is_public,
    own_authentication,
    public,
    public_blueprint,
)
from screening.staff import csrf_failures
from tests.patient_client import Patient

ROOT = Path(__file__).resolve().parents[1]

PATIENT_PAGES = {
    "patient.start",
    "patient.step",
    "patient.adults_only",
    "patient.saved",
    "patient.resume_link",
    "patient.resume",
    "patient.review",
    "patient.submit",
    "patient.done",
    "patient.result_print",
    "patient.result_pdf",
    "patient.start_again",
    "patient.language",
    "patient.email_saved_link",
    "patient.email_reference",
}
API_DESCRIPTIONS = {"fhir.metadata", "fhir.openapi", "fhir.questionnaire", "fhir.code_system"}


def endpoints(app) -> set[str]:
    return {rule.endpoint for rule in app.url_map.iter_rules()}


def test_every_endpoint_is_declared_open_by_its_blueprint_or_needs_a_sign_in(app):
    every = endpoints(app)
    open_ = {endpoint for endpoint in every if is_public(app, endpoint)}
    assert open_ == {"static", "staff.login", *PATIENT_PAGES, *API_DESCRIPTIONS}
    # The API checks its own bearer tokens (tests/fhir/test_api.py); every other endpoint
    # needs a staff sign-in (tests/staff/test_access.py asks each one without).
    token = {endpoint for endpoint in every if authenticates_itself(app, endpoint)}
    assert token == {endpoint for endpoint in every if endpoint.startswith("fhir.")}
    staff = every - open_ - token
    assert staff and all(endpoint.startswith("staff.") for endpoint in staff)
    # The whole patient blueprint is open, every page added to it included.
    assert all(endpoint.startswith("patient.") for endpoint in open_ & PATIENT_PAGES)
    assert getattr(app.blueprints["patient"], "public_blueprint", False) is True


def test_only_what_a_blueprint_declares_is_open(app):
    # Given a new blueprint with one view marked open and one not, a wholly open
    # blueprint, and one that checks its own credentials
    probe = Blueprint("probe", __name__, url_prefix="/probe")

    @probe.get("/open")
    @public
    def opened():
        return "open"

    @probe.get("/closed")
    def closed():
        return "closed"

    everyone = public_blueprint(Blueprint("everyone", __name__, url_prefix="/everyone"))

    @everyone.get("/page")
    def page():
        return "page"

    tokens = own_authentication(Blueprint("tokens", __name__, url_prefix="/tokens"))

    @tokens.get("/data")
    def data():
        return "data"

    for blueprint in (probe, everyone, tokens):
        app.register_blueprint(blueprint)
    client = app.test_client()

    # Then the undeclared view needs a staff sign-in, the declared ones are open
    denied = client.get("/probe/closed")
    assert denied.status_code == 302
    assert denied.headers["Location"].startswith("/staff/login")
    assert client.get("/probe/open").get_data(as_text=True) == "open"
    assert client.get("/everyone/page").get_data(as_text=True) == "page"
    # The staff gate leaves it to the blueprint (which, here, checks nothing).
    assert client.get("/tokens/data").get_data(as_text=True) == "data"
    assert not is_public(app, "tokens.data") and authenticates_itself(app, "tokens.data")
    # Unknown or missing endpoints are never open.
    assert not is_public(app, None) and not is_public(app, "nothing.here")


def test_a_route_added_to_the_app_itself_needs_a_sign_in_until_declared(app):
    @app.get("/plain")
    def plain():
        return "plain"

    client = app.test_client()
    assert client.get("/plain").status_code == 302
    public(plain)
    assert client.get("/plain").get_data(as_text=True) == "plain"


# ------------------------------------------------------------------ CSRF


def audited_csrf_failures(app) -> list[AuditEvent]:
    with app.app_context():
        return list(
            db.session.scalars(select(AuditEvent).where(AuditEvent.action == "authz.csrf_failed"))
        )


def test_each_blueprint_registers_its_own_csrf_handler(app):
    handlers = app.error_handler_spec
    assert handlers["patient"][400][CSRFError] is sending.csrf_failed
    assert handlers["staff"][400][CSRFError] is csrf_failures.csrf_failed
    assert handlers[None][400][CSRFError] is errors.handle_csrf  # the rest


def test_a_blueprints_handler_answers_a_csrf_failure_raised_in_an_app_hook(app):
    # The CSRF check is an app-wide before_request hook, not part of any view: Flask still
    # gives its error to the handler of the blueprint whose address matched.
    assert "csrf_protect" in {f.__name__ for f in app.before_request_funcs[None]}
    client = app.test_client()

    # A staff post without a token: the staff handler audits it
    refused = client.post("/staff/login", data={"username": "x"})
    assert refused.status_code == 400
    assert "This page has expired" in refused.get_data(as_text=True)
    assert [row.detail for row in audited_csrf_failures(app)] == [{"endpoint": "staff.login"}]

    # A patient post without a token: the patient handler shows the page again; no audit
    patient = Patient(app.test_client())
    patient.get("/")
    answered = patient.client.post("/step/about-you", data={"dob_day": "3"})
    assert answered.status_code == 200
    assert "This page was open for a long time" in answered.get_data(as_text=True)
    assert len(audited_csrf_failures(app)) == 1


def test_a_csrf_failure_outside_every_blueprint_gets_the_apps_page(app):
    @app.post("/plain")
    @public
    def plain():
        return "sent"

    refused = app.test_client().post("/plain")
    assert refused.status_code == 400
    body = refused.get_data(as_text=True)
    assert "This page has expired" in body and "Go back, reload the page" in body
    assert audited_csrf_failures(app) == []


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_the_patient_side_and_the_shared_modules_know_nothing_of_staff():
    for path in [*(ROOT / "screening" / "patient").glob("*.py"), ROOT / "screening/errors.py"]:
        staff = {name for name in imported_modules(path) if name.startswith("screening.staff")}
        assert not staff, (path.name, staff)
    for name in ("errors", "i18n", "public", "ratelimit"):
        imported = imported_modules(ROOT / "screening" / f"{name}.py")
        assert not {m for m in imported if m.startswith(("screening.staff", "screening.audit"))}


# ------------------------------------------------------------------ language


def test_english_only_pages_are_the_blueprints_declaration(app):
    assert getattr(app.blueprints["staff"], i18n.ENGLISH_ONLY, False) is True
    assert not getattr(app.blueprints["patient"], i18n.ENGLISH_ONLY, False)

    english = i18n.english_only(Blueprint("clinic_only", __name__, url_prefix="/clinic-only"))
    either = Blueprint("either", __name__, url_prefix="/either")
    for blueprint in (english, either):
        blueprint.add_url_rule("/language", "language", public(lambda: i18n.current()))
        app.register_blueprint(blueprint)
    spanish = {"Accept-Language": "es"}
    client = app.test_client()
    assert client.get("/either/language", headers=spanish).get_data(as_text=True) == "es"
    assert client.get("/clinic-only/language", headers=spanish).get_data(as_text=True) == "en"
    # The real blueprints: the staff pages in English, the patient's in the browser's.
    for path, language in (("/staff/login", "en"), ("/", "es")):
        with app.test_request_context(path, headers=spanish):
            assert i18n.select_locale() == language, path
