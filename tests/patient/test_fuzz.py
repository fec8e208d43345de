"""Hostile posts to every page: never a crash, never an invalid answer saved.

Every field is validated on the server against its allowed values, and odd bytes are
refused before the database, on both engines. For each page, hypothesis builds raw form bodies
(URL-encoded or multipart) that mix valid answer codes with invalid ones, over-long
text, NUL bytes, lone surrogates and other invalid UTF-8, huge and non-ASCII numbers,
duplicated keys, unknown keys, a missing or wrong CSRF token and odd "action" values.

Properties checked after every post:

- the status is never >= 500 (it is 200, 303, 400 or 413);
- no submission row exists;
- every stored answer passes :func:`screening.scoring.questionnaire.value_problem` and
  every stored personal value passes the page's own checks;
- a refused post (200 re-rendered with errors, 400, 413) changed nothing in the draft;
- script payloads never come back unescaped.

Each example starts from the same draft (a patient who has answered every page), so a
failing example can be replayed on its own.

The tests at the end pin a crash the fuzzing found (digits such as "²" that
str.isdigit() accepts but int() refuses), fixed in forms.DIGITS_RE.
"""

from __future__ import annotations

import os
import string
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import quote_from_bytes

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from screening.extensions import db
from screening.models import Draft, Submission
from screening.patient import forms, steps
from screening.patient.steps import DOB_FIELDS, Step
from screening.scoring import questionnaire
from tests.factories import answers
from tests.patient_client import Patient, clinic_today, page_data

#: Examples per page: 16 pages x 60 keeps the file near 25 s on SQLite (2 cores).
#: CI can raise it (2 000 per form is a thorough run) with FUZZ_EXAMPLES.
EXAMPLES_PER_PAGE = int(os.environ.get("FUZZ_EXAMPLES", "60"))

#: Baseline B with the optional branches opened, so more questions are live on their pages.
FUZZ_ANSWERS = answers(
    tx=["tx_pt", "tx_otc", "tx_tpi"],
    tpi_last="m3_12",
    tpi_sessions_12m="s1",
    tpi_relief="ge_half",
    tpi_duration="w1_6",
    tpi_problems=["bruising", "other"],
    tpi_problems_other="A sore arm",
    allergy=["alg_lidocaine"],
    la_reaction="other",
    la_reaction_other="Dizzy",
    bt=["bt_other"],
    bt_other_text="Something",
    other_location="Left calf",
)

SCRIPT_PAYLOADS = ("<script>fuzz(1)</script>", '"><img src=x onerror=fuzz(2)>')

#: Values that are wrong for most fields; bytes go on the wire as they are.
HOSTILE: tuple[str | bytes, ...] = (
    "",
    " ",
    "\r\n",
    b"\x00",
    b"no\x00",
    "%00",
    b"\xed\xa0\x80",  # a lone surrogate (U+D800) encoded as if it were UTF-8
    b"a\xed\xb3\xbfb",  # U+DCFF, a lone low surrogate
    b"\xff\xfe\xfd",  # never valid UTF-8
    b"\xc3",  # a truncated two-byte sequence
    b"\xc0\xaf",  # an overlong "/"
    "\u202eoy",
    "\ufeffyes",
    "🙂" * 40,
    "x" * 101,
    "x" * 201,
    "x" * 1001,
    "x" * 70_000,  # above MAX_FORM_MEMORY_SIZE (64 KiB)
    "-1",
    "11",
    "10.0",
    "1e309",
    "NaN",
    "0x0A",
    " 5 ",
    "٣",  # Arabic-Indic three: a real decimal digit
    "１０",  # full-width ten
    "9" * 30,
    "9" * 5000,  # more digits than int() converts
    "²",  # str.isdigit() is True, int() refuses it
    "①",
    "99999999999",  # fits in int, overflows the C int a date needs
    "' OR 1=1 --",
    "../../etc/passwd",
    *SCRIPT_PAYLOADS,
)

#: Fields the server turns into integers.
SCALE_FIELDS = frozenset(q.id for q in questionnaire.QUESTIONS.values() if q.type == "scale")
NUMERIC_FIELDS = SCALE_FIELDS | set(DOB_FIELDS)


@dataclass(frozen=True)
class Body:
    pairs: tuple[tuple[str, bytes], ...]
    multipart: bool

    def encode(self) -> tuple[bytes, str]:
        if not self.multipart:
            raw = "&".join(
                f"{quote_from_bytes(k.encode(), safe='')}={quote_from_bytes(v, safe='')}"
                for k, v in self.pairs
            )
            return raw.encode("ascii"), "application/x-www-form-urlencoded"
        boundary = "fuzzBoundary7f3a9c"
        parts = [
            b'--%s\r\nContent-Disposition: form-data; name="%s"\r\n\r\n%s\r\n'
            % (boundary.encode(), k.encode(), v)
            for k, v in self.pairs
        ]
        raw = b"".join(parts) + b"--%s--\r\n" % boundary.encode()
        return raw, f"multipart/form-data; boundary={boundary}"

    def decoded(self) -> dict[str, list[str]]:
        """What the server reads: each value decoded as UTF-8 with replacement."""
        values: dict[str, list[str]] = {}
        for k, v in self.pairs:
            values.setdefault(k, []).append(v.decode("utf-8", "replace"))
        return values


def as_bytes(value: str | bytes) -> bytes:
    return value if isinstance(value, bytes) else value.encode("utf-8")


# ------------------------------------------------------------------ strategies


def valid_values(name: str, step: Step, today: date) -> st.SearchStrategy[list[str]]:
    """Return values a careful patient could send for one field (a list: multi fields)."""
    if name in step.questions:
        question = questionnaire.QUESTIONS[name]
        codes = sorted(question.codes)
        if question.type == "multi":
            return st.lists(st.sampled_from(codes), min_size=1, max_size=4, unique=True)
        if question.type == "scale":
            return st.integers(0, 10).map(lambda n: [str(n)])
        if question.type == "bool":
            return st.sampled_from([["y"], [""]])
        if question.type == "text":
            limit = question.max_length or 200
            return st.text(max_size=limit).map(lambda s: [s])
        return st.sampled_from(codes).map(lambda c: [c])
    if name == "dob_day":
        return st.integers(1, 31).map(lambda n: [str(n)])
    if name == "dob_month":
        return st.integers(1, 12).map(lambda n: [str(n)])
    if name == "dob_year":
        return st.integers(today.year - 125, today.year + 1).map(lambda n: [str(n)])
    if name == "best_time":
        return st.sampled_from([code for code, _ in forms.BEST_TIMES]).map(lambda c: [c])
    if name == "phone":
        return st.text(alphabet="0123456789+()-. ", min_size=7, max_size=30).map(lambda s: [s])
    if name == "email":
        return st.sampled_from(["alex@example.com", "", "a@b.c"]).map(lambda s: [s])
    return st.text(max_size=100).map(lambda s: [s])  # full_name


def hostile_value(name: str) -> st.SearchStrategy[str | bytes]:
    strategies = [
        st.sampled_from(HOSTILE),
        st.text(max_size=50),
        st.binary(max_size=30),
        st.integers().map(str),
    ]
    if name in NUMERIC_FIELDS:
        # Anything that looks like a number: Unicode digits and numerals, huge values.
        numerals = st.characters(categories=("Nd", "No"))
        strategies += [
            st.text(numerals, min_size=1, max_size=4),
            st.integers(min_value=0, max_value=10**30).map(str),
        ]
    return st.one_of(strategies)


@st.composite
def bodies(draw, step: Step, token: str, today: date) -> Body:
    fields = [*step.questions, *step.personal]
    pairs: list[tuple[str, bytes]] = []
    baseline = page_data(step, FUZZ_ANSWERS, today, {"full_name": "Alex", "phone": "5551234567"})
    # How hostile this post is: from a clean page to every field tampered with.
    hostile_share = draw(st.sampled_from([0, 0, 1, 1, 2, 4]))
    choices = ["baseline"] * 3 + ["valid"] * 3 + ["omit"] * (1 + hostile_share)
    choices += ["hostile"] * hostile_share * 2
    for name in fields:
        choice = draw(st.sampled_from(choices))
        if choice == "omit":
            continue
        if choice == "baseline" and name in baseline:
            values = baseline[name] if isinstance(baseline[name], list) else [baseline[name]]
            pairs.extend((name, as_bytes(v)) for v in values)
        elif choice == "hostile":
            count = draw(st.sampled_from([1, 1, 1, 1, 2, 3]))
            pairs.extend((name, as_bytes(draw(hostile_value(name)))) for _ in range(count))
        else:
            pairs.extend((name, as_bytes(v)) for v in draw(valid_values(name, step, today)))
    action = draw(st.sampled_from(["continue", "continue", "save", "back", None, "delete"]))
    if action is not None:
        pairs.append(("action", action.encode()))
    csrf = draw(st.sampled_from(["valid"] * 12 + ["missing", "wrong", "twice"]))
    if csrf != "missing":
        pairs.append(("csrf_token", b"not-a-token" if csrf == "wrong" else token.encode()))
    if csrf == "twice":
        pairs.append(("csrf_token", token.encode()))
    if pairs and draw(st.integers(0, 9)) == 0:
        pairs.append(draw(st.sampled_from(pairs)))  # one key twice
    if draw(st.integers(0, 14)) == 0:
        pairs.append((draw(st.text(string.ascii_letters + "_[]", min_size=1)), b"1"))
    if draw(st.integers(0, 29)) == 0:
        pairs.extend(("x", b"1") for _ in range(500))  # more parts than MAX_FORM_PARTS
    pairs = draw(st.permutations(pairs))
    return Body(tuple(pairs), multipart=draw(st.booleans()))


# ------------------------------------------------------------------ checks


def stored_problems(draft: Draft) -> list[str]:
    """Return every stored answer or personal value that the pages should have refused."""
    problems = []
    for qid, value in draft.answers.items():
        if qid == "age":
            if not (isinstance(value, int) and questionnaire.MIN_AGE <= value <= 120):
                problems.append(f"age={value!r}")
            continue
        if qid not in questionnaire.QUESTIONS:
            problems.append(f"unknown {qid}")
        elif questionnaire.value_problem(questionnaire.QUESTIONS[qid], value, draft.answers):
            problems.append(f"{qid}={value!r}")
    personal = draft.personal
    if personal.get("dob"):
        try:
            date.fromisoformat(personal["dob"])
        except (TypeError, ValueError):
            problems.append(f"dob={personal['dob']!r}")
    for name, limit in forms.PERSONAL_LIMITS.items():
        value = personal.get(name)
        if value is not None and forms._text_problem(value, limit):
            problems.append(f"{name}={value!r}")
    if personal.get("phone") and not forms.PHONE_RE.match(personal["phone"]):
        problems.append(f"phone={personal['phone']!r}")
    if personal.get("email") and not forms.EMAIL_RE.match(personal["email"]):
        problems.append(f"email={personal['email']!r}")
    if personal.get("best_time") not in (None, *dict(forms.BEST_TIMES)):
        problems.append(f"best_time={personal['best_time']!r}")
    return problems


def state(draft: Draft) -> tuple[Any, Any, Any]:
    return dict(draft.answers), dict(draft.personal), list(draft.steps_done)


# no_cover: this volume of examples runs lines other tests cover too (checked with
# coverage contexts); tracing them doubled the time.
@pytest.mark.no_cover
@pytest.mark.slow
@pytest.mark.parametrize("step_id", [step.id for step in steps.STEPS])
def test_hostile_posts_never_crash_and_never_store_an_invalid_answer(app, step_id):
    # Given a patient who has answered every page, on page ``step_id``
    step = steps.BY_ID[step_id]
    today = clinic_today(app)
    patient = Patient(app.test_client())
    patient.complete(FUZZ_ANSWERS, today)
    url = f"/step/{step_id}"
    assert patient.get(url).status_code == 200
    token = patient.token
    assert token
    with app.app_context():
        draft_id = db.session.scalar(select(Draft.id))
        saved = state(db.session.get(Draft, draft_id))

    @settings(
        max_examples=EXAMPLES_PER_PAGE,
        database=None,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(body=bodies(step, token, today))
    def post_hostile_body(body: Body) -> None:
        with app.app_context():  # every example starts from the same saved draft
            draft = db.session.get(Draft, draft_id)
            draft.answers, draft.personal, draft.steps_done = saved
            db.session.commit()

        # When the body is posted as it is
        data, content_type = body.encode()
        response = patient.client.post(url, data=data, content_type=content_type)
        html = response.get_data(as_text=True)

        # Then the app answers without crashing, stores nothing invalid, and refuses
        # without changing anything
        assert response.status_code in (200, 303, 400, 413), response.status_code
        with app.app_context():
            assert db.session.scalar(select(func.count()).select_from(Submission)) == 0
            assert db.session.scalar(select(func.count()).select_from(Draft)) == 1
            draft = db.session.get(Draft, draft_id)
            assert stored_problems(draft) == []
            if response.status_code != 303:
                assert state(draft) == saved
        for payload in SCRIPT_PAYLOADS:
            assert payload not in html

    post_hostile_body()


# ------------------------------------------------------------------ digits int() cannot read


def _open_page(app, step_id: str) -> Patient:
    patient = Patient(app.test_client())
    patient.complete(FUZZ_ANSWERS, clinic_today(app))
    patient.get(f"/step/{step_id}")
    return patient


@pytest.mark.parametrize("value", ["²", "①", "9" * 5000], ids=["superscript", "circled", "5000"])
def test_a_pain_score_in_odd_digits_gets_a_message_not_a_500(app, value):
    # Given a patient on the pain-score page
    patient = _open_page(app, "how-bad")
    # When a score is sent as digits int() cannot read
    data = {"peg_p": value, "peg_e": "5", "peg_g": "6", "action": "continue"}
    response = patient.post("/step/how-bad", data)
    # Then the page comes back with a message, as for "11"
    assert response.status_code == 200
    assert "Select a number from 0 to 10." in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("day", "month"),
    [("²", "3"), ("9" * 5000, "3"), ("99999999999", "3"), ("1", "99999999999")],
    ids=["superscript-day", "5000-digit-day", "huge-day", "huge-month"],
)
def test_a_date_of_birth_in_odd_digits_gets_a_message_not_a_500(app, day, month):
    # Given a patient on the "About you" page
    patient = _open_page(app, "about-you")
    # When the date of birth has a day or month int() or date() cannot take
    data = {"dob_day": day, "dob_month": month, "dob_year": "1980", "preg": "no"}
    response = patient.post("/step/about-you", {**data, "breastfeed": "no"})
    # Then the page comes back with the date message
    assert response.status_code == 200
    assert "Date of birth must be" in response.get_data(as_text=True)


def test_resume_with_a_huge_day_of_birth_gets_a_message_not_a_500(app, client):
    # Given the resume page (it reads the date of birth with the same code)
    patient = Patient(client)
    patient.get("/resume")
    # When a code is sent with a day of birth date() cannot take
    data = {"code": "ABC-DEF-GHJ", "dob_day": "99999999999", "dob_month": "1", "dob_year": "1980"}
    response = patient.post("/resume", data)
    # Then the page comes back with a message
    assert response.status_code == 200
    assert "Date of birth must be" in response.get_data(as_text=True)
