"""Security requirements that had no test of their own.

- Not in URLs: no patient data in any URL: a full patient journey and a crawl of the staff side
  (queue, search, submission, print, PDF, export, audit pages), every request, redirect,
  link, form action and GET form; and none in the cookies either.
- Bound parameters only: no SQL text built by string formatting anywhere in the
  package, and a hostile name stored and found again by the staff search on the engine
  the suite runs on.
- Headers: HSTS (outside development), CORP, COOP and the frame headers on every response.
- Caches: pages with patient data are never stored by a cache nor shared between cookies.
- Browser storage: none in our scripts, and ``Clear-Site-Data`` on staff sign-out (the
  browser half, storage after a journey and the back button, is
  tests/browser/test_storage_and_back_button.py).
"""

from __future__ import annotations

import ast
import re
from collections import deque
from datetime import date, timedelta
from html import unescape
from pathlib import Path
from urllib.parse import unquote_plus, urlencode, urlsplit

import pytest
from sqlalchemy import func, select

from screening import create_app
from screening.extensions import db
from screening.models import Clinic, StaffUser, Submission
from screening.patient import steps
from screening.security import HSTS
from tests.conftest import TEST_SECRET
from tests.free_text import TEXT_QUESTIONS, every_text
from tests.html_forms import addresses, forms
from tests.patient_client import Patient, clinic_today, page_data
from tests.staff.helpers import StaffClient, make_staff
from tests.test_security import check_headers

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "screening"

NAME = "Zorba Canaryfield"
EMAIL = "zorba.canaryfield@example.com"
PHONE = "555 867 5309"
CONTACT = {"full_name": NAME, "phone": PHONE, "email": EMAIL, "best_time": "morning"}
#: Every free-text answer holds a word found nowhere else.
ANSWERS = every_text(lambda qid: f"Zqcanary {qid} words")


class Recorder:
    """A test client that keeps every request it sends and every response it gets."""

    def __init__(self, client) -> None:
        self.client = client
        self.seen: list[tuple[str, str, object]] = []

    def get(self, url: str, **kwargs):
        return self._keep("GET", url, self.client.get(url, **kwargs))

    def post(self, url: str, **kwargs):
        return self._keep("POST", url, self.client.post(url, **kwargs))

    def get_cookie(self, name: str):
        return self.client.get_cookie(name)

    def _keep(self, method: str, url: str, response):
        self.seen.append((method, url, response))
        return response

    def addresses(self) -> list[tuple[str, str]]:
        """Every URL that went over the wire or sat in a page: ``(where, url)``."""
        found = []
        for method, url, response in self.seen:
            found.append((f"{method} request", url))
            if location := response.headers.get("Location"):
                found.append((f"Location of {method} {url}", location))
            if response.mimetype == "text/html":
                html = response.get_data(as_text=True)
                found += [(f"page {url}", address) for address in addresses(html)]
                for form_method, action, fields in forms(html):
                    found.append((f"form on {url}", action))
                    if form_method == "get":  # what the browser puts in the address
                        found.append((f"GET form on {url}", f"{action}?{urlencode(fields)}"))
        return found


def born(app) -> date:
    today = clinic_today(app)
    return date(today.year - ANSWERS["age"], today.month, min(today.day, 28))


def patient_data_in(text: str, dob: date) -> list[str]:
    """What of the patient's data ``text`` (a URL or a cookie) holds, in any usual form."""
    plain = unquote_plus(text).lower()
    digits = re.sub(r"\D", "", plain)
    words = {"name": "zorba", "last name": "canaryfield", "free text": "zqcanary"}
    found = [label for label, word in words.items() if word in plain]
    if "zorba.canaryfield" in plain or "example.com" in plain:
        found.append("email")
    if "5558675309" in digits or "8675309" in digits:
        found.append("phone")
    for shape in (
        dob.isoformat(),
        f"{dob.month}/{dob.day}/{dob.year}",
        f"{dob.month:02d}/{dob.day:02d}/{dob.year}",
        dob.strftime("%Y%m%d"),
    ):
        if shape.lower() in plain:
            found.append("date of birth")
    return list(dict.fromkeys(found))


def send_every_page(app, browser: Recorder) -> Patient:
    """The patient's journey with every page they can reach along the way."""
    patient = Patient(browser)
    today = clinic_today(app)
    patient.get("/")
    for step in steps.STEPS:
        if not step.applies(ANSWERS):
            continue
        response = patient.answer(step.id, page_data(step, ANSWERS, today, CONTACT))
        assert response.status_code == 303, step.id
        if step.id == "contact":
            patient.get("/saved")  # the "come back later" page, with the resume link
    for url in ("/review", "/resume"):
        assert patient.get(url).status_code == 200
    assert patient.post("/submit", {"consent": "y"}).status_code == 303
    for url in ("/done", "/done/print", "/done/result.pdf"):
        assert patient.get(url).status_code == 200, url
    return patient


def crawl_staff(staff: Recorder, starts: list[str], per_path: int = 4) -> set[str]:
    """Open every staff page reachable by links and GET forms from ``starts``.

    The queue links to itself with many filters (each status, outcome, page...): the
    same page with other rows. Only the first ``per_path`` addresses of each path are
    followed, so the crawl covers every page without opening every filter.
    """
    queue, seen = deque(starts), set(starts)
    opened: dict[str, int] = {}
    while queue:
        url = queue.popleft()
        response = staff.get(url)
        # 400: a GET form sent as it stands, empty (the page says what is missing)
        assert response.status_code in (200, 302, 303, 400), (url, response.status_code)
        if response.mimetype != "text/html":
            continue
        html = response.get_data(as_text=True)
        links = [unescape(a) for a in re.findall(r'<a\s[^>]*?href="([^"]+)"', html)]
        found = [a for a in links if a.startswith("/staff/")]
        found += [f"{a}?{urlencode(f)}" for m, a, f in forms(html) if m == "get"]
        for address in found:
            address = address.split("#")[0]
            path = urlsplit(address).path
            if address in seen or path.startswith("/staff/logout") or "/static/" in path:
                continue
            if opened.get(path, 0) >= per_path:
                continue
            opened[path] = opened.get(path, 0) + 1
            seen.add(address)
            queue.append(address)
    return seen


# ------------------------------------------------------------------ no patient data in URLs


def test_no_patient_data_in_any_url_or_cookie_of_a_journey_and_the_staff_side(app, clock):
    # Given a patient who fills every page, every free-text question included, with
    # words found nowhere else, sends the form and opens the result, print view and PDF
    browser = Recorder(app.test_client())
    send_every_page(app, browser)
    dob = born(app)
    with app.app_context():
        item = db.session.scalars(select(Submission)).one()
        assert item.personal["full_name"] == NAME  # the words were really stored
        assert all(item.answers[qid].startswith("Zqcanary") for qid in TEXT_QUESTIONS)

    # When an administrator crawls the staff side from the queue (every link and GET
    # form: filters, pages, the submission, print view, PDF, audit reports, accounts),
    # searches by name and phone, opens the audit trail of the submission and exports
    account = make_staff(app, "ada.admin", "admin")
    staff = Recorder(app.test_client())
    StaffClient(staff).sign_in(account)
    today = clinic_today(app).isoformat()
    days = {"start": (clinic_today(app) - timedelta(days=1)).isoformat(), "end": today}
    crawled = crawl_staff(
        staff,
        [
            "/staff/",
            f"/staff/submissions/{item.public_id}",
            f"/staff/admin/audit/submission?reference={item.reference}",
            f"/staff/admin/audit/activity?{urlencode({**days, 'user': account.id})}",
        ],
    )
    desk = StaffClient(staff)
    for term in (NAME, PHONE, "Canaryfield"):
        desk.get("/staff/")
        found = desk.post("/staff/search", {"q": term})
        assert found.status_code == 200 and item.reference in found.get_data(as_text=True)
    desk.get("/staff/export")
    exported = desk.post("/staff/export", {"start": today, "end": today})
    assert exported.mimetype == "text/csv" and NAME in exported.get_data(as_text=True)

    # Then no address the browsers sent, were sent to, or were shown holds any of it
    leaks = [
        (where, url, patient_data_in(url, dob))
        for recorder in (browser, staff)
        for where, url in recorder.addresses()
        if patient_data_in(url, dob)
    ]
    assert leaks == []
    visited = {urlsplit(url).path for url in crawled}
    for page in (
        "/staff/",
        f"/staff/submissions/{item.public_id}",
        f"/staff/submissions/{item.public_id}/print",
        f"/staff/submissions/{item.public_id}/summary.pdf",
        "/staff/export",
        "/staff/admin/audit/activity",
        "/staff/admin/audit/submission",
        "/staff/admin/users",
        "/staff/admin/clinics",
    ):
        assert page in visited, page
    # And neither browser's cookie holds any (it is signed, not encrypted: anyone with
    # the browser can read it)
    serializer = app.session_interface.get_signing_serializer(app)
    for recorder in (browser, staff):
        cookie = recorder.get_cookie("screening_session")
        assert cookie is not None
        assert patient_data_in(str(serializer.loads(cookie.value)), dob) == []


def test_the_leak_check_recognises_each_kind_of_patient_data(app):
    dob = date(1981, 6, 15)
    assert patient_data_in("/x?q=Zorba+Canaryfield", dob) == ["name", "last name"]
    assert patient_data_in("/x?e=zorba.canaryfield%40example.com", dob) == [
        "name",
        "last name",
        "email",
    ]
    assert patient_data_in("/x?p=(555)%20867-5309", dob) == ["phone"]
    assert patient_data_in("/x?d=06/15/1981", dob) == ["date of birth"]
    assert patient_data_in("/x?t=zqcanary", dob) == ["free text"]
    assert patient_data_in("/staff/submissions/3f2a?page=2", dob) == []


# ------------------------------------------------------------------ bound parameters only

#: Calls whose first argument is SQL text: SQLAlchemy's and the drivers'.
SQL_CALLS = {"execute", "exec_driver_sql", "executescript", "executemany", "DDL"}
SQL_CALLS |= {"literal_column", "from_statement"}
#: ``text`` is SQL only as SQLAlchemy's (``self.text(...)`` elsewhere measures text).
SQLALCHEMY = {"sa", "sqlalchemy", "sql"}


def _is_string(node: ast.AST) -> bool:
    return isinstance(node, ast.JoinedStr) or (
        isinstance(node, ast.Constant) and isinstance(node.value, str)
    )


def _built_string(node: ast.AST) -> bool:
    """An f-string, or text made with ``%``, ``+``, ``.format`` or ``.join`` (values bound
    in an ORM expression are not text: ``select(...).where(X.name == f"...")`` is fine)."""
    if isinstance(node, ast.JoinedStr):
        return True
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod | ast.Add):
        return any(_is_string(side) or _built_string(side) for side in (node.left, node.right))
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in ("format", "join")
        and _is_string(node.func.value)
    )


def _sql_call(func: ast.AST) -> bool:
    if isinstance(func, ast.Name):
        return func.id in SQL_CALLS or func.id == "text"
    if isinstance(func, ast.Attribute):
        owner = func.value.id if isinstance(func.value, ast.Name) else None
        return func.attr in SQL_CALLS or (func.attr == "text" and owner in SQLALCHEMY)
    return False


def formatted_sql(tree: ast.AST) -> list[int]:
    """Lines where SQL is handed text built by f-string, ``%``, ``+`` or ``.format``."""
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and node.args
        and _sql_call(node.func)
        and _built_string(node.args[0])
    ]


def test_no_sql_is_built_from_strings_anywhere_in_the_package():
    # Given every module of the package, migrations included
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        lines = formatted_sql(ast.parse(path.read_text(), str(path)))
        if lines:
            found[str(path.relative_to(ROOT))] = lines
    # Then none hands SQL text built from strings to the database: values are bound
    assert found == {}


@pytest.mark.parametrize(
    "source",
    [
        "db.session.execute(text(f\"SELECT * FROM submission WHERE name = '{name}'\"))",
        'conn.exec_driver_sql("DELETE FROM draft WHERE id = %s" % draft_id)',
        'session.execute(text("SELECT " + column + " FROM submission"))',
        'cursor.execute("SELECT {} FROM t".format(column))',
        "op.execute(sa.text(\"UPDATE clinic SET name = '%s'\" % name))",
    ],
)
def test_the_sql_scan_finds_text_built_from_strings(source):
    assert formatted_sql(ast.parse(source)) == [1]


@pytest.mark.parametrize(
    "source",
    [
        'db.session.execute(text("SELECT 1 WHERE x = :x"), {"x": name})',
        "db.session.execute(update(T).values(version=expected + 1))",
        'db.session.execute(select(T).where(T.name == f"{first} {last}"))',
        "height = self.text(len(label) + 4, width)",
    ],
)
def test_the_sql_scan_leaves_bound_values_and_other_text_alone(source):
    assert formatted_sql(ast.parse(source)) == []


def test_a_hostile_name_is_stored_as_typed_and_found_only_by_itself(app, clock):
    # Given two patients: one whose name is an injection attempt with LIKE wildcards,
    # and one with a plain name sharing its first letters
    hostile = "O'Brien\"); DROP TABLE submission; -- %_ Smith"
    for name in (hostile, "Obrien Plain"):
        patient = Patient(app.test_client())
        patient.complete(ANSWERS, clinic_today(app), {**CONTACT, "full_name": name})
        patient.get("/review")
        assert patient.post("/submit", {"consent": "y"}).status_code == 303
    desk = StaffClient(app.test_client())
    desk.sign_in(make_staff(app, "ivy", "intake", clinics=["North Clinic"]))

    def search(term: str) -> list[str]:
        desk.get("/staff/")
        response = desk.post("/staff/search", {"q": term})
        assert response.status_code == 200
        return re.findall(r"[2-9A-HJ-NP-Z]{3}-[2-9A-HJ-NP-Z]{3}-[2-9A-HJ-NP-Z]{3}", response.text)

    # When staff search for the start of the hostile name, and for bare wildcards
    with app.app_context():
        stored = {
            s.personal["full_name"]: s.reference for s in db.session.scalars(select(Submission))
        }
    # Then the name is stored exactly as typed, found by itself, and the wildcards match
    # only themselves; the table is still there with both rows
    assert set(stored) == {hostile, "Obrien Plain"}
    assert set(search("o'brien\"); drop")) == {stored[hostile]}
    # Search forgives punctuation and case (blind indexes of folded words), so the
    # apostrophe does not tell the two apart; a second word does.
    assert set(search("O'Brien")) == {stored[hostile], stored["Obrien Plain"]}
    assert set(search("obrien plain")) == {stored["Obrien Plain"]}
    # As LIKE patterns "o%" and "_brien" would match both names and "%" everything; here
    # the signs are folded away like other punctuation ("o" and "brien" are words of the
    # hostile name only) and a bare sign finds nothing.
    plain = stored["Obrien Plain"]
    assert plain not in search("o%") and plain not in search("_brien")
    assert search("%") == [] and search("_") == []
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Submission)) == 2


# ---------------------------------------------------- headers, caches, browser storage


def example_urls(app, public_id: str) -> list[str]:
    """One URL for every rule of the app (its GET form; POST-only rules answer 405)."""
    with app.app_context():
        clinic_id = db.session.scalar(select(Clinic.id))
        user_id = db.session.scalar(select(StaffUser.id))
    urls = []
    for rule in app.url_map.iter_rules():
        urls.append(
            rule.rule.replace("<step_id>", "about-you")
            .replace("<token>", "not-a-token")
            .replace("<path:filename>", "css/app.css")
            .replace("<int:user_id>", str(user_id))
            .replace("<int:clinic_id>", str(clinic_id))
            .replace("<public_id>", public_id)
        )
    return sorted(set(urls))


def check_browser_headers(response, hsts: bool) -> None:
    check_headers(response)  # CSP (frame-ancestors 'none'), nosniff, Referrer, COOP
    assert response.headers["Cross-Origin-Resource-Policy"] == "same-origin"
    assert response.headers["Cross-Origin-Opener-Policy"] == "same-origin"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers.get("Strict-Transport-Security") == (HSTS if hsts else None)
    if hsts:
        max_age = int(re.search(r"max-age=(\d+)", HSTS).group(1))
        assert max_age >= 31536000 and "includeSubDomains" in HSTS


def test_every_response_has_hsts_corp_and_the_frame_headers(app, clock):
    # Given a submission and an administrator signed in, and an anonymous browser
    patient = send_every_page(app, Recorder(app.test_client()))
    with app.app_context():
        item = db.session.scalars(select(Submission)).one()
    admin = StaffClient(app.test_client())
    admin.sign_in(make_staff(app, "ada.admin", "admin"))
    anonymous = app.test_client()
    urls = example_urls(app, item.public_id)
    assert len(urls) == len(list(app.url_map.iter_rules()))

    # When every rule is asked for by each, and errors are provoked (404, 405, 413)
    responses = []
    for url in urls:
        responses += [(url, admin.get(url)), (url, anonymous.get(url)), (url, patient.get(url))]
    responses.append(("404", anonymous.get("/no-such-page")))
    responses.append(("405", anonymous.delete("/")))
    responses.append(("413", anonymous.post("/step/about-you", data={"x": "y" * 300_000})))

    # Then every response has every header (HSTS: the app runs in production mode here)
    statuses = set()
    for url, response in responses:
        response.close()  # static files are streamed from an open file
        try:
            check_browser_headers(response, hsts=True)
        except AssertionError as error:
            raise AssertionError(f"{url} ({response.status_code}): {error}") from error
        statuses.add(response.status_code)
    assert {200, 302, 404, 405, 413} <= statuses


def test_hsts_only_outside_development(tmp_path):
    # Plain-HTTP development would pin the browser to HTTPS for a year on localhost.
    app = create_app(
        {
            "TESTING": True,
            "ENVIRONMENT": "development",
            "SECRET_KEY": TEST_SECRET,
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'dev.sqlite3'}",
            "SERVER_NAME": "localhost",
        }
    )
    response = app.test_client().get("/adults-only")
    check_browser_headers(response, hsts=False)


def test_pages_with_patient_data_are_never_cached_nor_shared(app, clock):
    # Given a patient mid-way, one who has sent the form, and staff working on it
    patient = send_every_page(app, Recorder(app.test_client()))
    halfway = Patient(app.test_client())
    halfway.complete(ANSWERS, clinic_today(app), CONTACT)
    with app.app_context():
        item = db.session.scalars(select(Submission)).first()
    desk = StaffClient(app.test_client())
    desk.sign_in(make_staff(app, "ada.admin", "admin"))
    desk.get("/staff/")
    today = clinic_today(app).isoformat()

    # When they open every page that shows patient data (pages, print views, files)
    shown = {
        "step": halfway.get("/step/contact"),
        "review": halfway.get("/review"),
        "saved": halfway.get("/saved"),
        "done": patient.get("/done"),
        "print": patient.get("/done/print"),
        "result PDF": patient.get("/done/result.pdf"),
        "queue": desk.get("/staff/"),
        "search": desk.post("/staff/search", {"q": NAME}),
        "submission": desk.get(f"/staff/submissions/{item.public_id}"),
        "staff print": desk.get(f"/staff/submissions/{item.public_id}/print"),
        "summary PDF": desk.get(f"/staff/submissions/{item.public_id}/summary.pdf"),
        "export": desk.post("/staff/export", {"start": today, "end": today}),
        "audit": desk.get(f"/staff/admin/audit/submission?reference={item.reference}"),
    }

    # Then no cache may keep them, and a shared cache could not hand one person's page
    # to another (Vary: Cookie)
    for page, response in shown.items():
        assert response.status_code == 200, page
        assert response.headers["Cache-Control"] == "no-store", page
        assert "cookie" in {v.strip().lower() for v in response.headers["Vary"].split(",")}, page
    for page in ("review", "search", "submission", "staff print", "export"):
        assert NAME in shown[page].get_data(as_text=True), page  # they do show patient data


def test_our_scripts_keep_nothing_in_the_browser():
    # localStorage and its kin outlive the tab and the sign-out: nothing of ours uses them.
    pattern = re.compile(
        r"localStorage|sessionStorage|indexedDB|document\.cookie|caches\.open|openDatabase"
    )
    scripts = sorted((ROOT / "static").rglob("*.js"))
    assert scripts, "no scripts found"
    assert {str(s.relative_to(ROOT)): pattern.findall(s.read_text()) for s in scripts} == {
        str(s.relative_to(ROOT)): [] for s in scripts
    }


def test_staff_sign_out_tells_the_browser_to_forget_the_cache_and_storage(app, clock):
    desk = StaffClient(app.test_client())
    desk.sign_in(make_staff(app, "ivy", "intake", clinics=["North Clinic"]))
    desk.get("/staff/")
    response = desk.post("/staff/logout", {})
    assert response.status_code == 302 and response.headers["Location"].endswith("/staff/login")
    kinds = {part.strip() for part in response.headers["Clear-Site-Data"].split(",")}
    assert {'"cache"', '"storage"'} <= kinds
    # The cookie holds only a random id whose session is gone from the server.
    assert desk.get("/staff/").headers["Location"].startswith("/staff/login")
