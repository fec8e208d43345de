"""The scoring package knows nothing about the web (architecture habit 1).

Importing ``screening.scoring`` runs ``screening/__init__.py``, which imports
Flask, so checking ``sys.modules`` would prove nothing; the imports are read
from the source with :mod:`ast` instead.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

SCORING = Path(__file__).resolve().parents[1] / "screening" / "scoring"
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
