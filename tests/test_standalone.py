"""The repository stands alone, and the scoring specification keeps up with the data.

Someone who clones the repository must be able to read what the scorer implements without
any file from outside it. ``screening/scoring/README.md`` is that specification: these tests
fail when a document, or the code, templates and build files, point outside the repository,
and when the rule, question, vignette or source data gains, loses or changes something the
specification does not say.
"""

from __future__ import annotations

import re
import tomllib
from collections import defaultdict
from pathlib import Path

import pytest

from screening.scoring import Effect, load_ruleset, questionnaire
from screening.scoring.loader import RULES_FILE
from tests.scoring.support import VIGNETTES

pytestmark = pytest.mark.database_free

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "screening" / "scoring" / "README.md"
DOCUMENTS = (ROOT / "README.md", SPEC)
#: What a pointer to documents kept outside the repository looks like (spelled in two
#: parts, so this file does not match itself).
OUTSIDE = ("../" + "shared", "spec" + ".md", "security" + ".md", "docs/" + "ux.md")
#: The code, templates, data and build files that must not point outside either.
CODE = sorted(
    path
    for folder in ("screening", "templates", "tests")
    for pattern in ("*.py", "*.html", "*.toml")
    for path in (ROOT / folder).rglob(pattern)
) + [ROOT / "Makefile", ROOT / ".ci" / "run"]
#: Markdown link and image targets: ``[text](target)`` and ``src="target"``.
LINK = re.compile(r"\]\(([^)\s]+)\)|\bsrc=\"([^\"]+)\"")
TICKED = re.compile(r"`([^`]+)`")
RULE_ID = re.compile(r"[A-Z][0-9]{2}_[A-Z0-9_]+")
VIGNETTE_ID = re.compile(r"V[0-9]{2}_\w+")


def _relative(path: Path) -> str:
    return str(path.relative_to(ROOT))


def _slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to hyphens."""
    kept = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return kept.replace(" ", "-")


def _table_rows(text: str) -> dict[str, list[tuple[str, list[str]]]]:
    """Table rows by the id in their first cell, each with the heading it sits under.

    The id is the first code span of the first cell (```R01_CAUDA```), or the cell itself
    when it has none (``Q01``).
    """
    rows: dict[str, list[tuple[str, list[str]]]] = defaultdict(list)
    heading = ""
    for line in text.splitlines():
        if line.startswith("#"):
            heading = line
        elif line.startswith("| ") and not line.startswith("|---"):
            cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
            ticked = TICKED.search(cells[0])
            rows[ticked.group(1) if ticked else cells[0]].append((heading, cells))
    return rows


SPEC_TEXT = SPEC.read_text(encoding="utf-8")
ROWS = _table_rows(SPEC_TEXT)
RULESET = load_ruleset()
KNOWN_SOURCES = tomllib.loads(RULES_FILE.read_text(encoding="utf-8"))["known_sources"]


def _one_row(key: str) -> tuple[str, list[str]]:
    found = ROWS.get(key, [])
    assert len(found) == 1, f"{key}: {len(found)} rows in {_relative(SPEC)}, expected 1"
    return found[0]


def _ticked(cell: str) -> set[str]:
    return set(TICKED.findall(cell))


# ------------------------------------------------------------------ nothing outside


def _outside_pointers(path: Path) -> list[str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [
        f"{_relative(path)}:{number}: {line.strip()}"
        for number, line in enumerate(lines, start=1)
        if any(marker in line for marker in OUTSIDE)
    ]


@pytest.mark.parametrize("path", DOCUMENTS, ids=_relative)
def test_document_points_at_nothing_outside_the_repository(path: Path) -> None:
    assert _outside_pointers(path) == []


def test_code_points_at_nothing_outside_the_repository() -> None:
    assert len(CODE) > 100, "the file list found too little to be the repository"
    assert [hit for path in CODE for hit in _outside_pointers(path)] == []


@pytest.mark.parametrize("path", DOCUMENTS, ids=_relative)
def test_document_links_resolve_inside_the_repository(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    anchors = {_slug(line.lstrip("#")) for line in text.splitlines() if line.startswith("#")}
    broken = []
    for match in LINK.finditer(text):
        target = match.group(1) or match.group(2)
        if target.startswith(("http://", "https://", "mailto:")):
            continue
        if target.startswith("#"):
            if target[1:] not in anchors:
                broken.append(target)
            continue
        resolved = (path.parent / target.split("#")[0]).resolve()
        if not resolved.is_relative_to(ROOT) or not resolved.exists():
            broken.append(target)
    assert broken == []


# ------------------------------------------------------------------ the spec follows the data


def test_spec_names_the_versions_it_describes() -> None:
    for name, version in (("rule set", RULESET.version), ("questionnaire", questionnaire.VERSION)):
        stated = re.search(rf"{name}\s+\*\*`([^`]+)`\*\*", SPEC_TEXT)
        assert stated is not None and stated.group(1) == version, f"{name} {version}"


@pytest.mark.parametrize("rule", RULESET.rules, ids=lambda rule: rule.id)
def test_every_rule_is_described_under_its_effect(rule) -> None:
    heading, cells = _one_row(rule.id)
    assert f"(`{rule.effect}`)" in heading, f"{rule.id} is {rule.effect}, listed under {heading!r}"
    row = " | ".join(cells)
    assert set(rule.sources) <= _ticked(row), f"{rule.id}: sources {rule.sources}"
    if rule.effect is Effect.SUPPORT:
        assert cells[1] == str(rule.points), f"{rule.id}: {rule.points} points"
    else:
        assert cells[-1].split(", ") == list(rule.questions) or (
            cells[-1] == "" and not rule.questions
        ), f"{rule.id} adds {rule.questions}"


def test_spec_lists_no_rule_the_data_lacks() -> None:
    described = {key for key in ROWS if RULE_ID.fullmatch(key)}
    assert described - set(RULESET.by_id) == set()


QUESTIONS = [q for q in questionnaire.QUESTIONS.values() if q.about is None]
EXPANDED = [q.id for q in questionnaire.QUESTIONS.values() if q.about is not None]


@pytest.mark.parametrize("question", QUESTIONS, ids=lambda question: question.id)
def test_every_question_is_described_in_its_section(question) -> None:
    in_sections = [
        heading for heading, _ in ROWS.get(question.id, []) if heading.startswith("####")
    ]
    assert len(in_sections) == 1, f"{question.id}: {len(in_sections)} rows in section 2.2"
    assert in_sections[0].startswith(f"#### {question.section}. "), in_sections[0]


def test_every_expanded_treatment_question_is_named() -> None:
    _, cells = _one_row("{code}_effect")
    assert {name for name in _ticked(cells[1]) if name.endswith("_effect")} == set(EXPANDED)


def test_every_question_to_bring_is_described() -> None:
    added_by: dict[str, set[str]] = defaultdict(set)
    for rule in RULESET.rules:
        for qid in rule.questions:
            added_by[qid].add(rule.id)
    for qid, question in RULESET.catalogue.items():
        _, cells = _one_row(qid)
        if question.always:
            assert cells[1] == "always", qid
        else:
            assert _ticked(cells[1]) == added_by[qid], qid
    described = {key for key in ROWS if re.fullmatch(r"Q[0-9]{2}", key)}
    assert described == set(RULESET.catalogue)


CASES = VIGNETTES["vignette"]


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_every_vignette_is_described(case) -> None:
    _, cells = _one_row(case["name"])
    outcome, rules, support = cells[2], cells[3], cells[4]
    if "error" in case:
        named = case["error"]["missing"] + case["error"]["invalid"]
        assert outcome.startswith("not scored") and _ticked(outcome) == set(named)
        return
    expect = case["expect"]
    care = f" (`{expect['care_level']}`)" if expect["care_level"] else ""
    assert outcome.startswith(f"`{expect['outcome']}`{care}"), outcome
    assert ("blocking" in outcome) is expect["blocking"], outcome
    assert _ticked(rules) == set(expect["rules"])
    assert support == str(expect["support_score"])


def test_spec_lists_no_vignette_the_data_lacks() -> None:
    described = {key for key in ROWS if VIGNETTE_ID.fullmatch(key)}
    assert described == {case["name"] for case in CASES}


def test_every_source_key_has_its_reference() -> None:
    listed = set(re.findall(r"^- `([A-Z0-9-]+)`: ", SPEC_TEXT, flags=re.MULTILINE))
    assert listed == set(KNOWN_SOURCES) - {"JUDGMENT"}
