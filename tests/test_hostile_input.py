"""Hostile values on every route that takes parameters: never a 500.

The targets are found, not listed by hand. Each kind of visitor (a patient part way
through the form, someone not signed in, and a signed-in intake worker, clinician and
administrator) crawls the pages it can reach and keeps every form it sees: where it posts,
its fields and their values. Every route in ``app.url_map`` is then sent hostile values:

- as the fields of each form found for it (with a valid CSRF token, the rest of the form
  left as the page had it, so the hostile value gets past the checks before it);
- for a route no page has a form for, as every parameter name the code reads
  (``request.form.get("...")``, ``args.get("...")`` in ``screening/``), in the query
  string of a GET and the body of a POST;
- in each path parameter (``<int:user_id>``, ``<public_id>``, ``<token>``...).

The values are huge, negative and malformed numbers, out-of-range and impossible dates,
control characters (C0, C1, tab, newline, NUL), invalid UTF-8, right-to-left overrides,
full-width look-alikes, markup and very long strings: first a fixed corpus on every target
(:func:`test_every_route_survives_the_hostile_corpus`), then values hypothesis generates
(:func:`test_generated_hostile_values_never_get_a_500`). The visitors must still be signed
in at the end, so the values did reach the signed-in code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import quote, urlencode, urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from screening import create_app
from screening.extensions import db
from screening.models import Submission
from screening.public import is_public
from screening.staff import access, accounts
from tests.conftest import CLINIC, TEST_SECRET, database_url
from tests.factories import BASELINE
from tests.patient_client import Patient, clinic_today
from tests.staff.helpers import StaffClient, make_staff

#: All slow (the module shares one crawled site: its tests stay together, first).
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
#: Generated requests per form and per path parameter: the file stays well under a minute.
PER_TARGET = 6
PER_PATH = 3

#: Routes left out: static files, and the two posts that end the visitor's session or
#: draft (they take no parameters; the visitor would go on signed out).
SKIPPED = {"static", "staff.logout", "patient.start_again"}

#: Every parameter name the code reads from a query string or a form.
SOURCE_NAMES = sorted(
    {
        name
        for path in (ROOT / "screening").rglob("*.py")
        for name in re.findall(
            r"""(?:args|form|values)\.get(?:list)?\(\s*["']([A-Za-z_]\w*)["']""",
            path.read_text(encoding="utf-8"),
        )
    }
    | {"next", "return_to", "expired", "page", "id", "user_id", "assignee"}
)

CORPUS = [
    "",
    "0",
    "-1",
    "9" * 30,
    str(2**31),
    str(2**63),
    "9" * 5000,
    "1e309",
    "NaN",
    "0x1F",
    "١٢٣",
    "²",
    "9999-12-31",
    "0001-01-01",
    "0000-00-00",
    "2026-02-30",
    "10000-01-01",
    "-2026-11-30",
    "/\t/evil.example",
    "/\n/evil.example",
    "\\\\evil.example",
    "//evil.example",
    "javascript:alert(1)",
    "\x00",
    "a\x00b",
    "\x1b[2J\x85\x9b",
    "\r\nSet-Cookie: x=1",
    "\u202eevil\u202c",
    "\ufeff\u200b",
    "\ud800",  # a lone surrogate: sent as invalid UTF-8
    "<script>alert(1)</script>",
    "{{7*7}}{% raw %}",
    "' OR 1=1 --",
    "\uff1dHYPERLINK(1)",
    "😀" * 300,
    "x" * 70_000,
]

#: Sent to every target: values that once crashed routes here, and their kin.
ESSENTIAL = [
    "9" * 30,
    str(2**31),
    "9999-12-31",
    "0001-01-01",
    "/\t/evil.example",
    "/\n/evil.example",
    "a\x00b",
    "\ud800",
]

HOSTILE = st.one_of(
    st.sampled_from(CORPUS),
    st.integers(min_value=-(10**40), max_value=10**40).map(str),
    st.text(max_size=40),
    st.text(st.characters(codec="utf-8", min_codepoint=0, max_codepoint=0x9F), max_size=20),
    st.dates().map(lambda day: day.isoformat()),
    st.tuples(
        st.integers(min_value=-99999, max_value=99999),
        st.integers(min_value=-1, max_value=99),
        st.integers(min_value=-1, max_value=99),
    ).map(lambda t: f"{t[0]:04d}-{t[1]:02d}-{t[2]:02d}"),
    st.text(st.characters(min_codepoint=0x2000, max_codepoint=0xFFFF), min_size=1, max_size=8),
    st.integers(min_value=1000, max_value=200_000).map(lambda n: "7" * n),
)


# ------------------------------------------------------------------ forms on pages


@dataclass
class Form:
    method: str
    action: str
    #: (name, value) as a browser would send the form untouched.
    fields: list[tuple[str, str]] = field(default_factory=list)
    names: set[str] = field(default_factory=set)


class FormParser(HTMLParser):
    """Every form of a page: where it goes, its field names and their current values."""

    def __init__(self, page_url: str) -> None:
        super().__init__()
        self.page_url = page_url
        self.forms: list[Form] = []
        self.links: list[str] = []
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        form = self.forms[-1] if self.forms else None
        if tag == "a" and a.get("href", "").startswith("/"):
            self.links.append(a["href"])
        elif tag == "form":
            self.forms.append(
                Form(a.get("method", "get").upper(), a.get("action") or self.page_url)
            )
        elif form is None or not a.get("name") and tag != "option":
            return
        elif tag == "input":
            form.names.add(a["name"])
            kind = a.get("type", "text")
            if kind in ("checkbox", "radio") and "checked" not in a:
                return
            if kind not in ("submit", "button") or a.get("value"):
                form.fields.append((a["name"], a.get("value", "on" if kind == "checkbox" else "")))
        elif tag == "select":
            form.names.add(a["name"])
            self._select = a["name"]
        elif tag == "option" and self._select and "selected" in a:
            form.fields.append((self._select, a.get("value", "")))
        elif tag == "textarea":
            form.names.add(a["name"])
            self._textarea = a["name"]
            form.fields.append((a["name"], ""))
        elif tag == "button":
            form.names.add(a["name"])

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data: str) -> None:
        if self._textarea and self.forms and self.forms[-1].fields:
            name, value = self.forms[-1].fields[-1]
            self.forms[-1].fields[-1] = (name, value + data)


class Visitor(Patient):
    """A browser that keeps every form and same-site link of the pages it gets."""

    def __init__(self, client, name: str) -> None:
        super().__init__(client)
        self.name = name
        self.forms: dict[tuple[str, str], Form] = {}
        self.links: list[str] = []

    def _remember_token(self, response) -> None:
        super()._remember_token(response)
        if response.mimetype != "text/html" or response.status_code >= 300:
            return
        parser = FormParser(response.request.path)
        parser.feed(response.get_data(as_text=True))
        self.links.extend(parser.links)
        for form in parser.forms:
            action = urlsplit(form.action).path
            # The first form seen for an action keeps its values; the names add up.
            known = self.forms.setdefault((form.method, action), Form(form.method, action))
            known.fields = known.fields or form.fields
            known.names |= form.names

    def crawl(self, start: str, prefix: str, limit: int = 40) -> None:
        """Visit the same-site pages under ``prefix`` reachable from ``start`` (by path)."""
        seen: set[str] = set()
        queue = [start]
        while queue and len(seen) < limit:
            url = queue.pop(0)
            path = urlsplit(url).path
            if path in seen or not path.startswith(prefix) or path.endswith(".pdf"):
                continue
            seen.add(path)
            before = len(self.links)
            self.get(url)
            queue.extend(self.links[before:])


# ------------------------------------------------------------------ the site under attack


@dataclass
class Target:
    visitor: Visitor
    method: str
    url: str
    fields: list[tuple[str, str]]
    names: list[str]


@dataclass
class Site:
    app: object
    visitors: dict[str, Visitor]
    targets: list[Target]
    #: (visitor, method, rule, path parameter names) for every rule with a path parameter.
    paths: list[tuple[Visitor, str, object, list[str]]]
    staff: dict[str, Visitor]
    protected_ids: set[int]
    public_id: str


def build_site(app) -> Site:
    # A patient who has answered every page (a draft, not sent), and one who sent theirs.
    today = clinic_today(app)
    patient = Visitor(app.test_client(), "patient")
    patient.get("/")
    patient.complete(BASELINE, today)
    patient.get("/review")
    patient.get("/resume")
    sent = Visitor(app.test_client(), "sent")
    sent.complete(BASELINE, today)
    sent.get("/review")
    assert sent.post("/submit", {"consent": "y"}).status_code == 303
    sent.get("/done")
    anonymous = Visitor(app.test_client(), "anonymous")
    anonymous.get("/staff/login")
    anonymous.get("/resume")
    # A second clinic, for administrators' clinic pages (made after the patients chose).
    with app.app_context():
        spare_id = accounts.create_clinic("Spare Clinic").id
        db.session.commit()
    roles = {"intake": ["North Clinic"], "clinician": ["North Clinic"], "admin": []}
    staff: dict[str, Visitor] = {}
    protected = {spare_id}
    for role, clinics in roles.items():
        account = make_staff(app, f"fuzz.{role}", role, clinics=clinics)
        protected.add(account.id)
        visitor = Visitor(app.test_client(), role)
        StaffClient.sign_in(visitor, account)  # type: ignore[arg-type]
        staff[role] = visitor
    with app.app_context():
        public_id = db.session.scalar(select(Submission.public_id))
    for visitor in staff.values():
        visitor.crawl("/staff/", "/staff/")
        visitor.get(f"/staff/submissions/{public_id}")
        visitor.get(f"/staff/admin/clinics/{spare_id}")
        visitor.get("/staff/confirm")  # linked from no page: asked for by sensitive ones
    visitors = {"patient": patient, "sent": sent, "anonymous": anonymous, **staff}

    valid = {
        "step_id": "about-you",
        "public_id": public_id,
        "token": "0" * 43,
        "user_id": "999999",  # nobody: the visitors must not disable themselves
        "clinic_id": str(spare_id),
        "filename": "css/app.css",
        # The record systems' API (tests/fhir/test_api.py attacks it with a token too).
        "resource_id": "tpi-screening",
        "reference": "AAA-AAA-AAA",
    }
    targets: list[Target] = []
    covered: set[tuple[str, str]] = set()
    seen: set[tuple[str, str, str]] = set()
    for visitor in visitors.values():
        for (method, action), form in visitor.forms.items():
            endpoint, args = match(app, method, action)
            names = sorted(form.names - {"csrf_token"})
            # Forms acting on the visitors' own accounts or the patients' clinic would sign
            # them out or stop the form: those routes get hostile paths (below) instead.
            if endpoint is None or endpoint in SKIPPED or not names:
                continue
            if "user_id" in args or args.get("clinic_id", spare_id) != spare_id:
                continue
            key = (method, action, group(endpoint, visitor))
            if key not in seen:
                seen.add(key)
                targets.append(Target(visitor, method, action, form.fields, names))
                covered.add((endpoint, method))
    paths = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint in SKIPPED:
            continue
        who = visitors_for(app, rule.endpoint, visitors)
        for method in sorted(rule.methods & {"GET", "POST"}):
            url = re.sub(r"<(?:[^:<>]+:)?(\w+)>", lambda m: valid[m.group(1)], rule.rule)
            if (rule.endpoint, method) not in covered and not rule.rule.endswith(".pdf"):
                for visitor in who:
                    key = (method, url, group(rule.endpoint, visitor))
                    if key in seen:
                        continue
                    seen.add(key)
                    target = Target(visitor, method, url, [], SOURCE_NAMES)
                    # A role refused the page is refused before any value is read.
                    if send(target, []).status_code != 403:
                        targets.append(target)
            if rule.arguments:
                for visitor in who:
                    paths.append((visitor, method, rule, sorted(rule.arguments)))
    return Site(app, visitors, targets, paths, staff, protected, public_id)


def match(app, method: str, path: str) -> tuple[str | None, dict]:
    """The endpoint and path arguments of ``path`` (None when no route takes it)."""
    try:
        return app.url_map.bind("localhost").match(path, method=method)
    except Exception:
        return None, {}


def endpoint_of(app, method: str, path: str) -> str | None:
    return match(app, method, path)[0]


#: Staff pages that are the same for every role (no permission is checked on them): one
#: signed-in role is enough there.
ANY_ROLE = {
    "staff.login",
    "staff.second_factor",
    "staff.enrol",
    "staff.reauthenticate",
    "staff.password",
    "staff.session_status",
    "staff.keepalive",
}


def group(endpoint: str, visitor: Visitor) -> str:
    """Visitors whose answers from ``endpoint`` differ: a form is attacked once per group."""
    if visitor.name in ("patient", "sent"):
        return "patient"  # the same page; the patient who sent theirs only meets redirects
    if visitor.name != "anonymous" and endpoint in ANY_ROLE:
        return "staff"
    return visitor.name


def visitors_for(app, endpoint: str, visitors: dict[str, Visitor]) -> list[Visitor]:
    """Who sends values to ``endpoint``: each staff role, and someone not signed in where
    the page is open to them (elsewhere they only meet the redirect to the sign-in)."""
    if not endpoint.startswith("staff."):
        return [visitors["patient"], visitors["sent"]]
    roles = [visitors[name] for name in ("intake", "clinician", "admin")]
    if is_public(app, endpoint) or endpoint in access.SECOND_FACTOR:
        return [visitors["anonymous"], *roles]
    return roles


# ------------------------------------------------------------------ sending


def encode(pairs: list[tuple[str, str]]) -> str:
    """URL-encode as UTF-8; lone surrogates become the invalid bytes they stand for."""
    return urlencode(pairs, encoding="utf-8", errors="surrogatepass")


def send(target: Target, overrides: list[tuple[str, str]]):
    visitor = target.visitor
    replaced = {name for name, _ in overrides}
    pairs = [(n, v) for n, v in target.fields if n not in replaced and n != "csrf_token"]
    pairs += overrides
    if target.method == "GET":
        return visitor.client.get(target.url, query_string=encode(pairs))
    pairs.append(("csrf_token", visitor.token or ""))
    return visitor.client.post(
        target.url, data=encode(pairs), content_type="application/x-www-form-urlencoded"
    )


def send_path(visitor: Visitor, method: str, rule, values: dict[str, str]):
    url = rule.rule
    for name, value in values.items():
        url = re.sub(rf"<(?:[^:<>]+:)?{name}>", quote(value, safe="", errors="surrogatepass"), url)
    if method == "GET":
        return visitor.client.get(url)
    return visitor.client.post(
        url,
        data=encode([("csrf_token", visitor.token or "")]),
        content_type="application/x-www-form-urlencoded",
    )


def check(response, what) -> None:
    assert response.status_code < 500, (repr(what)[:600], response.status_code)
    response.close()


def assert_still_signed_in(site: Site) -> None:
    for role, visitor in site.staff.items():
        response = visitor.client.get("/staff/")
        assert response.status_code == 200, (role, response.status_code)


def safe_path_value(site: Site, value: str) -> bool:
    """Not an id of a visitor's account or the spare clinic (they would disable them)."""
    digits = value.lstrip("0") or "0"
    return not (value.isascii() and value.isdigit() and int(digits[:12]) in site.protected_ids)


# ------------------------------------------------------------------ the tests


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """One site for this module's tests (making it fills in forms and signs in: seconds).

    Made like conftest's ``make_app``, on the same test database.
    """
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": TEST_SECRET,
            "SQLALCHEMY_DATABASE_URI": database_url(tmp_path_factory.mktemp("hostile")),
            "SERVER_NAME": "localhost",
            "SESSION_COOKIE_SECURE": False,
            # Hostile sign-ins and passwords must not make the visitors wait: throttling
            # has tests of its own (tests/staff/test_secret_checks.py).
            "LOGIN_MAX_FAILURES": 10**6,
            "LOGIN_MAX_FAILURES_PER_ADDRESS": 10**6,
        }
    )
    with app.app_context():
        db.create_all()
        accounts.create_clinic(CLINIC)
        db.session.commit()
    yield build_site(app)
    with app.app_context():
        db.session.remove()
        db.drop_all()
        db.engine.dispose()


def test_every_route_with_parameters_is_attacked(site):
    """Every route but the skipped ones is a target for some visitor."""
    reached = {endpoint_of(site.app, t.method, urlsplit(t.url).path) for t in site.targets} | {
        rule.endpoint for _, _, rule, _ in site.paths
    }
    # A PDF's only parameter is its path (rendering one per value would take minutes).
    expected = {
        rule.endpoint
        for rule in site.app.url_map.iter_rules()
        if rule.arguments or not rule.rule.endswith(".pdf")
    } - SKIPPED
    assert expected <= reached, sorted(expected - reached)
    # The crawl found the forms people use, e.g. these, with their fields.
    forms = {(t.method, urlsplit(t.url).path): t.names for t in site.targets if t.fields}
    assert forms[("POST", "/staff/export")] == ["end", "start", "values"]
    assert forms[("GET", "/staff/admin/audit/activity")] == ["end", "start", "user"]
    assert "assignee" in forms[("POST", f"/staff/submissions/{site.public_id}/assign")]
    assert "dob_year" in forms[("POST", "/step/about-you")]
    assert forms[("POST", "/language")] == ["lang", "next"]


def test_every_route_survives_the_hostile_corpus(site):
    """Each target gets every value of :data:`ESSENTIAL` and a share of the rest."""
    rest = [value for value in CORPUS if value not in ESSENTIAL]
    for number, target in enumerate(site.targets):
        extra = [rest[number % len(rest)]]
        for index, value in enumerate(ESSENTIAL + extra):
            # Long values go in one field at a time (all at once is only a 413).
            names = target.names if len(value) < 1000 else [target.names[index % len(target.names)]]
            response = send(target, [(name, value) for name in names])
            check(response, (target.visitor.name, target.method, target.url, value))
    for number, (visitor, method, rule, names) in enumerate(site.paths):
        extra = [rest[number % len(rest)]]
        for value in ESSENTIAL + extra:
            if value and safe_path_value(site, value):
                response = send_path(visitor, method, rule, dict.fromkeys(names, value))
                check(response, (visitor.name, rule.rule, value))
    assert_still_signed_in(site)


#: Hypothesis settings of the generated attacks (one inner test per target).
GENERATED = settings(
    max_examples=PER_TARGET,
    deadline=None,
    database=None,  # each inner test has other arguments: stored examples would not fit
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def attack_form(target: Target) -> None:
    fields = st.dictionaries(
        st.sampled_from(target.names), HOSTILE, min_size=1, max_size=min(8, len(target.names))
    )

    @GENERATED
    @given(values=fields)
    def attack(values: dict[str, str]) -> None:
        check(send(target, list(values.items())), (target.visitor.name, target.url, values))

    attack()


def attack_path(site: Site, visitor: Visitor, method: str, rule, names: list[str]) -> None:
    value = HOSTILE.filter(lambda text: text != "" and safe_path_value(site, text))

    @settings(GENERATED, max_examples=PER_PATH)
    @given(values=st.fixed_dictionaries(dict.fromkeys(names, value)))
    def attack(values: dict[str, str]) -> None:
        check(send_path(visitor, method, rule, values), (visitor.name, rule.rule, values))

    attack()


def test_generated_hostile_values_never_get_a_500(site):
    """Hypothesis sends :data:`PER_TARGET` generated sets of values to every target and
    :data:`PER_PATH` generated path values to every route with a path parameter."""
    for target in site.targets:
        attack_form(target)
    for visitor, method, rule, names in site.paths:
        attack_path(site, visitor, method, rule, names)
    assert_still_signed_in(site)
