"""Incomplete or invalid answers raise ScoringInputError and are never scored."""

from __future__ import annotations

from typing import Any

import pytest

from screening.scoring import ScoringInputError, score

from .support import BASELINE


def without(*qids: str) -> dict[str, Any]:
    return {k: v for k, v in BASELINE.items() if k not in qids}


@pytest.mark.parametrize(
    ("answers", "missing", "invalid"),
    [
        pytest.param(without("tp_knot"), ["tp_knot"], [], id="missing-one"),
        pytest.param(
            without("rf_chest", "age"), ["age", "rf_chest"], [], id="missing-in-form-order"
        ),
        pytest.param({}, None, [], id="empty"),
        pytest.param(
            {**BASELINE, "tx": ["tx_pt", "tx_massage"]},
            ["tx_massage_effect"],
            [],
            id="shown-follow-up",
        ),
        pytest.param({**BASELINE, "consent": False}, ["consent"], [], id="consent-unticked"),
        pytest.param({**BASELINE, "preg": "maybe"}, [], ["preg"], id="unknown-code"),
        pytest.param(
            {**BASELINE, "quality": ["dull_ache", "itchy"]},
            [],
            ["quality"],
            id="unknown-multi-code",
        ),
        pytest.param({**BASELINE, "peg_p": True}, [], ["peg_p"], id="bool-for-int"),
        pytest.param({**BASELINE, "age": "45"}, [], ["age"], id="str-for-int"),
        pytest.param({**BASELINE, "peg_e": 11}, [], ["peg_e"], id="out-of-range"),
        pytest.param({**BASELINE, "triggers": "trig_stress"}, [], ["triggers"], id="str-for-list"),
        pytest.param({**BASELINE, "tp_knot": ["yes"]}, [], ["tp_knot"], id="list-for-code"),
        pytest.param({**BASELINE, "bt": ["bt_none", "bt_warfarin"]}, [], ["bt"], id="exclusive-bt"),
        pytest.param(
            {**BASELINE, "allergy": ["alg_latex", "alg_none"]},
            [],
            ["allergy"],
            id="exclusive-allergy",
        ),
        pytest.param({**BASELINE, "triggers": []}, [], ["triggers"], id="empty-multi"),
        pytest.param(
            {**BASELINE, "primary_region": "neck_l"},
            [],
            ["primary_region"],
            id="primary-not-selected",
        ),
        pytest.param({**BASELINE, "age": 17}, [], ["age"], id="age-17"),
        pytest.param({**BASELINE, "age": 0}, [], ["age"], id="age-0"),
        pytest.param(
            {**BASELINE, "favourite_colour": "blue"}, [], ["favourite_colour"], id="unknown-id"
        ),
    ],
)
def test_not_scored(answers: dict[str, Any], missing: list[str] | None, invalid: list[str]) -> None:
    with pytest.raises(ScoringInputError) as info:
        score(answers)
    if missing is None:
        assert len(info.value.missing) > 40
    else:
        assert info.value.missing == missing
    assert info.value.invalid == invalid


def test_age_18_is_scored() -> None:
    assert score({**BASELINE, "age": 18}).support_score == 10


@pytest.mark.parametrize(
    ("changes", "invalid"),
    [
        ({"quality": ["dull_ache", "dull_ache"]}, ["quality"]),
        ({"med_list": "x" * 1001}, ["med_list"]),
        ({"goals": "walk\x00again"}, ["goals"]),
    ],
    ids=["duplicate-code", "text-too-long", "text-bad-character"],
)
def test_more_invalid_answers(changes: dict[str, Any], invalid: list[str]) -> None:
    with pytest.raises(ScoringInputError) as info:
        score({**BASELINE, **changes})
    assert info.value.invalid == invalid
