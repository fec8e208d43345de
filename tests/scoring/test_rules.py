"""Every rule fires in some case and stays quiet in another (``cases/*.toml``)."""

from __future__ import annotations

from typing import Any

import pytest

from screening.scoring import load_ruleset, score

from .support import VIGNETTES, apply, load_cases

CASES = load_cases("rule_cases.toml")["case"]


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_rule_case(case: dict[str, Any]) -> None:
    fired = set(score(apply(case)).fired_rules)
    assert set(case.get("fires", [])) - fired == set()
    assert set(case.get("quiet", [])) & fired == set()


def test_every_rule_has_a_firing_and_a_quiet_case() -> None:
    rules = load_ruleset().by_id
    fires: set[str] = set()
    quiet: set[str] = set()
    for case in CASES:
        fires.update(case.get("fires", []))
        quiet.update(case.get("quiet", []))
    # A vignette's non-support set is exact: its rules fire and every other
    # non-support rule stays quiet.
    for vignette in VIGNETTES["vignette"]:
        if "expect" in vignette:
            named = set(vignette["expect"]["rules"])
            fires |= named
            quiet |= {rid for rid, r in rules.items() if not r.is_support} - named
    assert set(rules) - fires == set(), "rules no case fires"
    assert set(rules) - quiet == set(), "rules no case keeps quiet"
    assert (fires | quiet) - set(rules) == set(), "cases name unknown rules"
