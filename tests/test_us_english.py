"""American English: the people who read this app are in the US.

Every English string a person can read is checked against a list of British spellings and
words: the patient text (the same extraction the translators get), the staff and print
templates, the staff side's messages in Python, and the clinical data files (clinician
notes included). A British form fails with the place it was found.
"""

from __future__ import annotations

import ast
import re
import tomllib
from collections.abc import Iterator
from datetime import date

import pytest

from screening import i18n
from tests.catalogue import ROOT, english

#: British form -> the American one to use instead (whole words, any case).
BRITISH = {
    r"tick(?:s|ed|ing)?": "check / select",
    r"untick(?:s|ed|ing)?": "uncheck",
    r"colours?": "color",
    r"favour(?:s|ed|ite|ites)?": "favor",
    r"behaviours?": "behavior",
    r"centres?": "center",
    r"(?:milli|centi|kilo)?metres?": "meter",
    r"litres?": "liter",
    r"\w*(?:organ|recogn|real|apolog|summar|priorit|author|minim|optim|normal|special)"
    r"is(?:e|es|ed|ing|ation|ations)": "-ize / -ization",
    r"analys(?:e|es|ed|ing)": "analyze",
    r"catalogues?": "catalog",
    r"judgements?": "judgment",
    r"programmes?": "program",
    r"licence": "license",
    r"defence|offence": "defense, offense",
    r"grey": "gray",
    r"whilst|amongst": "while, among",
    r"fortnights?": "two weeks",
    r"postcodes?": "ZIP code",
    r"mobile phones?": "cell phone",
    r"surnames?": "last name",
    r"GP|A&E": "primary care doctor, emergency room",
    r"\w*anaesth\w*": "anesthetic",
    r"\w*haem\w*": "hem-",
    r"\w*aemi\w*": "-emia (hyperglycemia, anemia)",
    r"o?edema": "edema",
    r"paediatric\w*|orthopaedic\w*|oesophag\w*|foet\w*|diarrhoea": "US medical spelling",
    r"faec\w*|\w*aesthesi\w*": "fecal, paresthesia",
    r"enrol|enrols|enrolment": "enroll, enrollment",
    r"cancelled|cancelling|travelled|labelled|modelled": "single l",
    r"jewellery|cheques?|tyres?|kerbs?": "US spelling",
}
PATTERN = re.compile(r"(?<![\w-])(" + "|".join(BRITISH) + r")(?![\w-])", re.IGNORECASE)

TEMPLATES = ROOT / "templates"
#: Jinja comments, statements and tags are not text a person reads (attribute names such
#: as aria-labelledby are HTML's own spelling).
HIDDEN = re.compile(r"\{#.*?#\}|\{%.*?%\}|<[^>]*>", re.DOTALL)


def _template_text() -> Iterator[tuple[str, str]]:
    for path in sorted(TEMPLATES.rglob("*.html")):
        text = HIDDEN.sub(" ", path.read_text(encoding="utf-8"))
        yield str(path.relative_to(ROOT)), text


def _python_text() -> Iterator[tuple[str, str]]:
    """String literals of the app's Python code, docstrings left out (not shown to anyone)."""
    for path in sorted((ROOT / "screening").rglob("*.py")):
        if "migrations" in path.parts:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = {
            id(node.body[0].value)
            for node in ast.walk(tree)
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
            and node.body
            and isinstance(node.body[0], ast.Expr)
            and isinstance(node.body[0].value, ast.Constant)
        }
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and id(node) not in docstrings
                and " " in node.value  # words, not identifiers such as "staff.enrol"
            ):
                yield f"{path.relative_to(ROOT)}:{node.lineno}", node.value


def _toml_strings(data) -> Iterator[str]:
    if isinstance(data, str):
        yield data
    elif isinstance(data, list):
        for item in data:
            yield from _toml_strings(item)
    elif isinstance(data, dict):
        for value in data.values():
            yield from _toml_strings(value)


def _data_text() -> Iterator[tuple[str, str]]:
    for path in sorted((ROOT / "screening").rglob("*.toml")):
        for text in _toml_strings(tomllib.loads(path.read_text(encoding="utf-8"))):
            yield str(path.relative_to(ROOT)), text


def _patient_text() -> Iterator[tuple[str, str]]:
    for text, message in english().items():
        yield message.places[0], text


SOURCES = {
    "patient": _patient_text,
    "templates": _template_text,
    "python": _python_text,
    "data": _data_text,
}


@pytest.mark.database_free
@pytest.mark.parametrize("source", SOURCES)
def test_english_is_american(source):
    found = [
        f"{place}: “{match.group(0)}” ({american(match.group(0))}) in {text[:80]!r}"
        for place, text in SOURCES[source]()
        for match in PATTERN.finditer(text)
    ]
    assert not found, "British English for a US audience:\n" + "\n".join(found)


def american(word: str) -> str:
    """The American form to use for a British word found."""
    for pattern, american in BRITISH.items():
        if re.fullmatch(pattern, word, re.IGNORECASE):
            return american
    return "?"


@pytest.mark.database_free
def test_the_check_knows_a_british_word_when_it_sees_one():
    """The list itself works: these would all be reported."""
    for word in (
        "Tick",
        "unticked",
        "colour",
        "organise",
        "haemorrhage",
        "anaesthetic",
        "judgement",
        "centre",
        "enrolment",
        "GP",
    ):
        assert PATTERN.fullmatch(word), word
    for word in (
        "check",
        "color",
        "organize",
        "hemorrhage",
        "anesthetic",
        "judgment",
        "aria-labelledby",
        "ticket",
        "stick",
        "dialogue",
    ):
        assert not PATTERN.fullmatch(word), word


def test_dates_are_us_style(app):
    with app.test_request_context("/", headers={"Accept-Language": "en-US"}):
        assert i18n.long_date(date(1980, 6, 15)) == "June 15, 1980"
    with app.test_request_context("/", headers={"Accept-Language": "es"}):
        assert i18n.long_date(date(1980, 6, 15)) == "15 de junio de 1980"
