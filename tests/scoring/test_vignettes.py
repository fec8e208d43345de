"""The acceptance vignettes of spec section 4, run from ``cases/vignettes.toml``."""

from __future__ import annotations

from typing import Any

import pytest

from screening.scoring import ScoringInputError, score

from .support import VIGNETTES, apply

CASES = VIGNETTES["vignette"]


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_vignette(case: dict[str, Any]) -> None:
    answers = apply(case)
    if "error" in case:
        with pytest.raises(ScoringInputError) as info:
            score(answers)
        assert info.value.missing == case["error"]["missing"]
        assert info.value.invalid == case["error"]["invalid"]
        return
    expect = case["expect"]
    result = score(answers)
    assert result.outcome == expect["outcome"]
    assert (result.care_level or "") == expect["care_level"]
    assert {rule.id for rule in result.concerns} == set(expect["rules"])
    assert result.support_score == expect["support_score"]
    assert result.blocking_contraindication is expect["blocking"]


def test_all_spec_vignettes_present() -> None:
    assert [case["name"][:3] for case in CASES] == [f"V{n:02d}" for n in range(1, 30)]


def test_baseline_support_rules_and_peg() -> None:
    # screening/scoring/README.md section 6: baseline B fires these nine support rules, score 10.
    result = score(VIGNETTES["baseline"])
    assert [rule.id for rule in result.supports] == [
        "S01_KNOT",
        "S02_SPOT",
        "S03_REFERRED",
        "S04_FAMILIAR",
        "S06_ROM",
        "S07_TRIGGERS",
        "S08_CHRONIC",
        "S09_CONSERVATIVE_TRIED",
        "S11_TYPICAL_REGION",
    ]
    assert result.peg_score == 5.7
