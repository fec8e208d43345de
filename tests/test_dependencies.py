"""Dependencies and static analysis: no installed release with a published advisory.

No installed library is a release with a known security advisory: the list is
tests/known_vulnerable.toml, the advisories of the libraries we use with their affected
versions. It works offline, unlike pip-audit here (which, with no advisory feed reachable,
reports nothing found while checking nothing).

bandit runs in `make check` (config: [tool.bandit] in pyproject.toml). Its exceptions are
kept honest here: every ``# nosec`` names its check and says why on the same line, and the
one check skipped for the whole package (B101, asserts) stays safe to skip: asserts are
found only where they check the questionnaire's data files.
"""

from __future__ import annotations

import ast
import re
import tomllib
from collections import Counter
from importlib import metadata
from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet
from packaging.version import Version

pytestmark = pytest.mark.database_free  # nothing here reads a database

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "screening"
LIST = ROOT / "tests" / "known_vulnerable.toml"
ADVISORIES = tomllib.loads(LIST.read_text())["advisory"]
ADVISORY_ID = re.compile(r"GHSA(-[23456789cfghjmpqrvwx]{4}){3}|CVE-\d{4}-\d{4,}")


def vulnerable(installed: dict[str, str]) -> list[str]:
    """The advisories whose affected range holds the installed version of their package."""
    return [
        f"{a['package']} {installed[a['package']]}: {', '.join(a['ids'])} ({a['summary']})"
        for a in ADVISORIES
        if Version(installed[a["package"]]) in SpecifierSet(a["affected"])
    ]


def test_no_installed_library_is_a_known_vulnerable_release():
    installed = {a["package"]: metadata.version(a["package"]) for a in ADVISORIES}
    assert vulnerable(installed) == []


def test_the_list_is_well_formed_and_names_installed_libraries():
    assert len(ADVISORIES) >= 15
    for advisory in ADVISORIES:
        assert set(advisory) == {"package", "affected", "ids", "summary"}, advisory
        # A misspelt name would never match: every package must be one we have.
        assert metadata.version(advisory["package"]), advisory["package"]
        assert SpecifierSet(advisory["affected"]), advisory
        assert advisory["ids"] and all(ADVISORY_ID.fullmatch(i) for i in advisory["ids"])
        assert advisory["summary"].strip()


@pytest.mark.parametrize(
    ("package", "version", "caught"),
    [
        ("werkzeug", "3.0.5", True),
        ("werkzeug", "3.1.5", True),
        ("werkzeug", "3.1.6", False),
        ("jinja2", "3.1.5", True),
        ("flask", "2.3.1", True),
        ("flask", "2.2.5", True),  # before 3.1.3
        ("flask", "3.1.3", False),
        ("gunicorn", "22.0.0", True),
    ],
)
def test_the_check_catches_a_listed_release(package, version, caught):
    installed = {a["package"]: metadata.version(a["package"]) for a in ADVISORIES}
    found = vulnerable({**installed, package: version})
    assert bool(found) is caught and all(line.startswith(package) for line in found)


# ------------------------------------------------------------------ bandit's exceptions


def test_every_bandit_exception_names_its_check_and_says_why():
    marks = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if not re.search(r"#\s*nosec\b", line):
                continue
            where = f"{path.relative_to(ROOT)}:{number}"
            marks.append(where)
            assert re.search(r"#\s*nosec\s+B\d{3}\b", line), f"{where}: name the check"
            comment = line.split("#", 1)[1]
            reason = re.sub(r"nosec(\s+B\d{3})*|noqa:\s*[A-Z]+\d+", " ", comment)
            assert len(re.findall(r"[A-Za-z]{2,}", reason)) >= 2, f"{where}: say why"
    assert marks, "no exceptions found: is the scan looking in the right place?"


def test_asserts_only_check_data_files_so_bandit_may_skip_b101():
    found: Counter[str] = Counter()
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Assert):
                found[str(path.relative_to(ROOT))] += 1
    # The page order's own consistency (steps.py) and a type narrowing in the demo data
    # generator. An assert anywhere else may be guarding something: raise an error there,
    # or explain it in pyproject.toml's [tool.bandit] and here.
    assert found == {"screening/patient/steps.py": 3, "screening/demo/answers.py": 1}
