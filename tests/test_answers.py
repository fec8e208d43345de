"""The one answer generator (screening/demo/answers.py) and its weights file.

Realistic sets (the demo data, the benchmarks) and sets from the whole answer space (the
scoring property tests, where hypothesis makes the choices) come from the same code; these
tests check both kinds are valid, that the whole space is reached, and that a broken
weights file is refused with a message that says where.
"""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from screening.demo import answers
from screening.demo.answers import Realistic, WholeSpace, generate, generate_answers
from screening.scoring import load_ruleset, questionnaire, score

pytestmark = pytest.mark.database_free

Q = questionnaire.QUESTIONS


def realistic_sets(count: int) -> list[dict[str, Any]]:
    return [generate_answers(random.Random(seed)) for seed in range(count)]


def assert_valid(answer_set: dict[str, Any]) -> None:
    assert questionnaire.validate(answer_set) == ([], []), answer_set
    # Only shown questions are answered: nothing for the form to clear.
    assert questionnaire.visible_answers(answer_set) == answer_set
    for qid, value in answer_set.items():
        exclusive = Q[qid].exclusive
        if exclusive is not None and exclusive in value:
            assert value == [exclusive], (qid, value)
    assert answer_set["primary_region"] in answer_set["regions"]
    assert answer_set["consent"] is True


def test_realistic_sets_are_valid() -> None:
    for answer_set in realistic_sets(2000):
        assert_valid(answer_set)
        assert 18 <= answer_set["age"] <= 95


def test_realistic_sets_reach_conditional_questions_and_none_options() -> None:
    """Over many sets, conditional questions and exclusive options all turn up."""
    seen: Counter[str] = Counter()
    for answer_set in realistic_sets(2000):
        seen.update(answer_set.keys())
        for qid in ("tx", "bt", "allergy", "triggers", "tpi_problems"):
            if qid in answer_set:
                seen.update(f"{qid}={code}" for code in answer_set[qid])
    for qid in ("tpi_duration", "tpi_problems_other", "pt_weeks", "bt_other_text", "ha_new"):
        assert seen[qid] > 0, qid
    assert seen["la_reaction"] > 0
    for code in ("tx=tx_none", "bt=bt_none", "allergy=alg_none", "triggers=trig_none"):
        assert seen[code] > 0, code
    assert seen["tpi_problems=none"] > 0


def test_realistic_sets_look_like_a_clinic() -> None:
    sets = realistic_sets(1000)
    outcomes = Counter(score(answer_set).outcome.value for answer_set in sets)
    assert set(outcomes) == {"SEEK_CARE", "NOT_A_FIT", "DISCUSS_WITH_CONCERNS", "DISCUSS"}
    assert outcomes["SEEK_CARE"] < 250  # warning signs are the exception
    few_places = sum(1 <= len(answer_set["regions"]) <= 3 for answer_set in sets)
    assert few_places > 700
    chronic = sum(answer_set["dur"] in ("m3_12", "gt_1y") for answer_set in sets)
    assert chronic > 600


def test_same_seed_same_answers() -> None:
    assert generate_answers(random.Random(5)) == generate_answers(random.Random(5))
    assert generate(Realistic(random.Random(5))) == generate_answers(random.Random(5))


def test_whole_space_reaches_every_answer_and_every_rule() -> None:
    """1,000 seeded whole-space sets: valid, and together they give every code of every
    question, every number in every range (age 18 to the form's maximum), an answer to
    every question, and fire every scoring rule."""
    rng = random.Random(0)
    sets = [generate(WholeSpace(rng.randrange)) for _ in range(1000)]
    given: set[tuple[str, Any]] = set()
    fired: set[str] = set()
    for answer_set in sets:
        assert_valid(answer_set)
        for qid, value in answer_set.items():
            given.update((qid, v) for v in (value if isinstance(value, list) else [value]))
        fired.update(rule.id for rule in score(answer_set).fired)
    expected = {(q.id, code) for q in Q.values() for code in q.codes}
    for question in Q.values():
        if question.type in ("scale", "int"):
            low = questionnaire.MIN_AGE if question.id == "age" else question.min
            expected.update((question.id, n) for n in range(low, question.max + 1))  # type: ignore[operator]
    assert expected - given == set()
    assert {qid for qid, _value in given} == set(Q)
    assert fired == set(load_ruleset().by_id)


def test_whole_space_at_index_zero_is_a_typical_patient() -> None:
    """Where hypothesis shrinks to: every choice its typical value, still a valid set."""
    typical = generate(WholeSpace(lambda n: 0))
    assert_valid(typical)
    assert all(typical[qid] == "no" for qid in Q if qid.startswith("rf_"))
    assert typical["bt"] == ["bt_none"] and typical["allergy"] == ["alg_none"]
    assert len(typical["regions"]) <= 3


# ------------------------------------------------------------------ the weights file


def broken(tmp_path: Path, old: str, new: str) -> Path:
    text = answers.WEIGHTS_FILE.read_text(encoding="utf-8")
    assert old in text, old
    path = tmp_path / "weights.toml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


def test_the_weights_file_loads() -> None:
    weights = answers.load_weights()
    assert weights == answers.WEIGHTS
    assert weights.choice["dur"]["gt_1y"] == 43


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        pytest.param(
            "dur = {",
            "duration = {",
            "[choice.duration] unknown question id 'duration'",
            id="unknown-question",
        ),
        pytest.param(
            "lt_2w = 5,",
            "lt_2_weeks = 5,",
            "[choice.dur] unknown codes ['lt_2_weeks'] (dur's codes: ",
            id="unknown-code",
        ),
        pytest.param(
            "[warning_signs]\nrf_bladder",
            "[warning_signs]\nrf_bladdr",
            "[warning_signs] unknown question id 'rf_bladdr'",
            id="unknown-warning-sign",
        ),
        pytest.param(
            "[multi.bt.weights]\nbt_warfarin",
            "[multi.bt.weights]\nbt_none = 5\nbt_warfarin",
            "[multi.bt.weights] unknown codes ['bt_none']",
            id="none-option-among-weights",
        ),
        pytest.param(
            "tp_knot.myofascial = { yes",
            "tp_knot.myofascial = { maybe = 3, yes",
            "[trigger_points.tp_knot.myofascial] unknown codes ['maybe']",
            id="unknown-trigger-point-code",
        ),
        pytest.param(
            "[optional]\n",
            "[optional]\nage = 0.5\n",
            "[optional] age is required: it is always answered",
            id="required-as-optional",
        ),
        pytest.param(
            "rf_bowel = 0.002",
            "rf_bowel = 2",
            "[warning_signs] rf_bowel = 2 is not a chance from 0 to 1",
            id="chance-above-one",
        ),
        pytest.param(
            '  "Will it hurt?",',
            f'  "{"Will it hurt? " * 40}",',
            "[phrases] questions_free: ",
            id="phrase-too-long",
        ),
        pytest.param(
            'jaw = ["head", "neck"]',
            'jaw = ["head", "nek"]',
            "[regions.neighbours] unknown places ['nek']",
            id="unknown-place",
        ),
        pytest.param(
            "\n[effects]\n", "\n[effect]\n", "unknown section [effect]", id="unknown-section"
        ),
        pytest.param(
            "goals = 0.5",
            "goals = 0.5\n[choice.goals]\nyes = 1",
            "[choice.goals] goals is a text question, not",
            id="weights-for-a-text-question",
        ),
        pytest.param(
            "fainted_needle = { yes = 9,",
            "fainted_needle = { yes = -9,",
            "[choice.fainted_needle] weights must be numbers of 0 or more",
            id="negative-weight",
        ),
        pytest.param(
            "[multi.quality]\n",
            "[multi.quality]\nnone = 0.1\n",
            "[multi.quality] quality has no 'none' option",
            id="none-without-a-none-option",
        ),
        pytest.param(
            "age = { low = 18, mode = 47, high = 95 }",
            "age = { low = 16, mode = 47, high = 95 }",
            "[people] age needs 18 <= low <= mode <= high",
            id="age-under-18",
        ),
        pytest.param(
            "counts = [30, 34, 19, 8, 4, 2, 1.5, 1.5]",
            'counts = ["one", 34]',
            "[regions] counts must be a list of weights for 1, 2, 3, ... places",
            id="region-counts-not-numbers",
        ),
        pytest.param(
            'lower_leg_foot = ["thigh"]',
            "",
            "[regions] primary and neighbours must list the same places",
            id="place-without-neighbours",
        ),
    ],
)
def test_a_broken_weights_file_is_refused_with_where(
    tmp_path: Path, old: str, new: str, message: str
) -> None:
    with pytest.raises(answers.WeightsError) as refused:
        answers.load_weights(broken(tmp_path, old, new))
    assert str(refused.value).startswith("weights.toml: ")
    assert message in str(refused.value)
