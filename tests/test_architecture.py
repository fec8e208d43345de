"""The scoring package knows nothing about the web (architecture habit 1).

Importing ``screening.scoring`` runs ``screening/__init__.py``, which imports
Flask, so checking ``sys.modules`` would prove nothing; the imports are read
from the source with :mod:`ast` instead.
"""

from __future__ import annotations

import ast
import json
import re
import sqlite3
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

pytestmark = pytest.mark.database_free  # nothing here reads a database

ROOT = Path(__file__).resolve().parents[1]
SCORING = ROOT / "screening" / "scoring"
FILES = sorted(SCORING.rglob("*.py"))


def imported_modules(path: Path) -> list[str]:
    """Return every absolute module name a file imports."""
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        # A relative import (level > 0) stays inside the package by definition.
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module is not None:
            names.append(node.module)
    return names


def allowed(module: str) -> bool:
    top = module.partition(".")[0]
    return (
        top in sys.stdlib_module_names
        or module == "screening.scoring"
        or module.startswith("screening.scoring.")
    )


def test_scoring_package_has_files() -> None:
    assert SCORING / "__init__.py" in FILES


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_scoring_imports_only_stdlib_and_itself(path: Path) -> None:
    bad = [m for m in imported_modules(path) if not allowed(m)]
    assert bad == [], f"{path.name} imports {bad}"


def test_answer_generator_imports_only_stdlib_and_scoring() -> None:
    """The one answer generator (screening/demo/answers.py) serves the scorer's tests and
    benchmarks as well as the demo data: like the scorer, it knows nothing of the web."""
    path = ROOT / "screening" / "demo" / "answers.py"
    bad = [m for m in imported_modules(path) if not allowed(m)]
    assert bad == [], f"{path.name} imports {bad}"


@pytest.mark.parametrize(
    ("source", "ok"),
    [
        ("import flask", False),
        ("from screening import models", False),
        ("from screening.scoringx import y", False),
        ("import tomllib, json", True),
        ("from screening.scoring.engine import derive", True),
        ("from . import engine", True),
    ],
)
def test_checker_itself(tmp_path: Path, source: str, ok: bool) -> None:
    path = tmp_path / "mod.py"
    path.write_text(source, encoding="utf-8")
    assert all(allowed(m) for m in imported_modules(path)) is ok


#: Imports every module of the package on its own: ``screening.*`` is forgotten between two,
#: so each starts from nothing of ours (libraries stay loaded, which keeps it quick).
IMPORT_EACH = """
import importlib, sys
# Our modules are compiled once and read back from here on every later import, even when
# PYTHONDONTWRITEBYTECODE is set (as .ci/run sets it): compiling the package again for each
# of its modules was most of this test's time.
sys.dont_write_bytecode = False
sys.pycache_prefix = sys.argv[1]
failed = []
for name in sys.argv[2:]:
    for loaded in [m for m in sys.modules if m == "screening" or m.startswith("screening.")]:
        del sys.modules[loaded]
    try:
        importlib.import_module(name)
    except Exception as error:
        failed.append(f"{name}: {type(error).__name__}: {error}")
print("\\n".join(failed))
"""


def run_python(script: str, *args: str) -> str:
    """Run ``script`` in a fresh interpreter from the repository root; return its output."""
    return subprocess.run(
        [sys.executable, "-c", script, *args],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        timeout=300,
    ).stdout


@pytest.mark.slow
def test_every_module_imports_on_its_own(tmp_path: Path) -> None:
    """No module needs another imported first (a circular import that the app factory's
    import order hides breaks the CLI, a script or a worker that starts elsewhere)."""
    names = sorted(
        ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for path in (ROOT / "screening").rglob("*.py")
        if "migrations" not in path.parts
    )
    assert len(names) > 40
    out = run_python(IMPORT_EACH, str(tmp_path / "pycache"), *names)
    assert out.strip() == ""


#: Libraries loaded where they are used (making a PDF, running a migration), never by the
#: app factory: each takes longer to import than the app's own modules, and every worker
#: and every `flask` command would wait for them at start.
LOADED_ON_USE = ("weasyprint", "pypdf", "fontTools", "alembic", "flask_migrate", "mako")

#: Builds an app in a fresh interpreter, then uses what those libraries are for.
START_THEN_USE = """
import json, sys
from screening import create_app
watched = sys.argv[2:]
loaded = lambda: sorted(name for name in watched if name in sys.modules)
app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": sys.argv[1]})
at_start = loaded()
runner = app.test_cli_runner()
commands = runner.invoke(args=["--help"]).output
after_listing = loaded()
migrations = runner.invoke(args=["db", "--help"]).output
upgraded = runner.invoke(args=["db", "upgrade"]).exit_code
with app.app_context():
    from screening.pdf import render_pdfs_as_one
    pdf = render_pdfs_as_one(["<p>A page.</p>", "<p>Another.</p>"])
print(json.dumps({"at_start": at_start, "after_listing": after_listing, "commands": commands,
                  "migrations": migrations, "upgraded": upgraded, "pdf": pdf[:5].decode(),
                  "in_the_end": loaded()}))
"""


def test_the_app_starts_without_the_pdf_and_migration_libraries(tmp_path: Path) -> None:
    out = run_python(START_THEN_USE, f"sqlite:///{tmp_path}/x.db", *LOADED_ON_USE)
    seen = json.loads(out.strip().splitlines()[-1])
    assert seen["at_start"] == []
    # `flask --help` lists the migration commands without loading them...
    assert "db" in seen["commands"] and "Perform database migrations." in seen["commands"]
    assert seen["after_listing"] == []
    # ...and they, and PDFs, work once used, the libraries loaded then.
    assert "upgrade" in seen["migrations"] and "--x-arg" in seen["migrations"]
    assert seen["upgraded"] == 0
    with sqlite3.connect(tmp_path / "x.db") as database:
        tables = {row[0] for row in database.execute("SELECT name FROM sqlite_master")}
    assert {"alembic_version", "submission", "audit_event"} <= tables
    assert seen["pdf"] == "%PDF-"
    assert {"weasyprint", "pypdf", "alembic", "flask_migrate"} <= set(seen["in_the_end"])


# ------------------------------------------------------------------ the type check

#: What `mypy --help` says of --strict: the flags it turns on, wrapped over several lines.
STRICT_HELP = re.compile(r"--strict\s+Strict mode; enables the following flags:(.*?)\n  --", re.S)


def strict_flags() -> set[str]:
    """The flags `mypy --strict` turns on, by their names in a configuration file."""
    help_text = subprocess.run(
        [sys.executable, "-m", "mypy", "--help"], capture_output=True, text=True, check=True
    ).stdout
    found = STRICT_HELP.search(help_text)
    assert found, "mypy --help no longer lists the flags of --strict"
    words = re.sub(r"-\s*\n\s*", "-", found.group(1))  # "--check-untyped-\n   defs"
    return {flag.replace("-", "_") for flag in re.findall(r"--([a-z-]+[a-z])", words)}


def test_the_scoring_package_is_type_checked_with_every_strict_flag() -> None:
    # mypy's own `strict = true` cannot be given to one package (in an override it turns
    # strict on for every module), so pyproject.toml lists the flags: a mypy that adds one
    # to --strict fails this test until it is listed too.
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["mypy"]
    scoring = [o for o in config["overrides"] if "screening.scoring.*" in o["module"]]
    assert len(scoring) == 1, "one override for screening.scoring.*"
    assert "screening.scoring" in scoring[0]["module"]  # the package's __init__ too
    flags = strict_flags()
    assert {"disallow_untyped_defs", "warn_return_any"} <= flags, flags  # the parse works
    off = {f for f in flags if scoring[0].get(f, config.get(f)) is not True}
    assert off == set(), f"strict flags not on for screening/scoring/: {sorted(off)}"
    assert "strict" not in config and "strict" not in scoring[0]
