"""Properties of the scorer over generated valid answer sets (hypothesis)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from screening.demo.answers import WholeSpace, generate
from screening.scoring import CareLevel, Outcome, load_ruleset, questionnaire, score

# no_cover: 400 generated answer sets run lines the other scoring tests cover too (checked
# with coverage contexts); tracing them doubled the time.
pytestmark = pytest.mark.no_cover

#: Enough examples to find ordering and partition bugs while the whole scoring
#: suite stays well under 20 s on 2 cores. No example database: runs stay
#: independent of earlier ones and leave no files behind. No deadline and no "too slow"
#: health check: a busy machine (coverage, another process) must not fail a property.
PROPERTY = settings(
    max_examples=100,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
EMERGENCY_QUESTIONS = [
    "rf_bladder",
    "rf_bowel",
    "rf_saddle",
    "rf_chest",
    "rf_stroke",
    "rf_thunderclap",
    "rf_fever_neck",
]
ALWAYS = [f"Q{n:02d}" for n in range(1, 12)]


@st.composite
def answer_sets(draw: st.DrawFn) -> dict[str, Any]:
    """Any answer set the form accepts, from the one generator (screening/demo/answers.py).

    Hypothesis makes each of the generator's choices as an integer, 0 being the typical
    answer, so a failing set shrinks towards a typical patient with only the answers that
    matter left unusual.
    """
    return generate(WholeSpace(lambda n: draw(st.integers(0, n - 1))))


@PROPERTY
@given(answer_sets())
def test_generated_answers_are_valid(answers: dict[str, Any]) -> None:
    assert questionnaire.validate(answers) == ([], [])
    # Only shown questions are answered: nothing for the form to clear.
    assert questionnaire.visible_answers(answers) == answers


@PROPERTY
@given(answer_sets())
def test_same_input_same_output(answers: dict[str, Any]) -> None:
    assert score(answers).to_dict() == score(dict(answers)).to_dict()


@PROPERTY
@given(answer_sets(), st.sampled_from(EMERGENCY_QUESTIONS))
def test_any_emergency_yes_gives_emergency(answers: dict[str, Any], qid: str) -> None:
    result = score({**answers, qid: "yes"})
    assert result.outcome is Outcome.SEEK_CARE
    assert result.care_level is CareLevel.EMERGENCY


@PROPERTY
@given(answer_sets())
def test_result_invariants(answers: dict[str, Any]) -> None:
    result = score(answers)
    data = result.to_dict()
    # support_score is within 0..13 and equals the points of the fired S-rules.
    assert 0 <= data["support_score"] <= 13
    assert data["support_score"] == sum(rule.points for rule in result.supports)
    # One patient reason and one clinician note per fired rule, non-support first.
    non_support = [rule for rule in result.fired if not rule.is_support]
    assert data["patient_reasons"][: len(non_support)] == [r.patient_reason for r in non_support]
    assert len(data["patient_reasons"]) == len(data["fired_rules"])
    assert len(data["clinician_notes"]) == len(data["fired_rules"])
    # The 11 "always" questions appear once each, after the triggered ones; no repeats.
    questions = data["questions"]
    assert len(questions) == len(set(questions))
    assert questions[-11:] == ALWAYS
    # DISCUSS is only reached with support >= 4 and a core feature
    # (screening/scoring/README.md §4.1).
    if result.outcome is Outcome.DISCUSS:
        assert data["support_score"] >= 4
        assert "yes" in (answers["tp_knot"], answers["tp_spot"], answers["tp_referred"])
    assert data["blocking_contraindication"] == any(
        rule.effect == "ABSOLUTE" for rule in result.fired
    )
    assert data["fired_rules"] == sorted(
        data["fired_rules"], key=lambda rid: load_ruleset().by_id[rid].sort_key
    )
