"""The scoring tests' case files, and baseline answer set B (the one copy: vignettes.toml)."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

CASES_DIR = Path(__file__).with_name("cases")


def load_cases(name: str) -> dict[str, Any]:
    """Read one TOML case file from ``cases/``."""
    return tomllib.loads((CASES_DIR / name).read_text(encoding="utf-8"))


VIGNETTES = load_cases("vignettes.toml")
#: Baseline answer set B of the clinical specification (screening/scoring/README.md §6),
#: in the scorer's format. Every vignette and rule case changes it; ``tests/factories.py``
#: hands it to the other tests.
BASELINE: dict[str, Any] = VIGNETTES["baseline"]


def apply(case: dict[str, Any]) -> dict[str, Any]:
    """Return baseline B with a case's ``set`` applied and its ``unset`` ids removed."""
    answers = {**BASELINE, **case.get("set", {})}
    for qid in case.get("unset", []):
        del answers[qid]
    return answers
