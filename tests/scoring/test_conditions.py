"""Edge cases of the shared condition grammar and answer checks that the rules rely on."""

from __future__ import annotations

from typing import Any

import pytest

from screening.scoring import conditions, questionnaire


@pytest.mark.parametrize(
    ("cond", "facts", "expected"),
    [
        ({"q": "preg", "op": "has_any", "value": ["yes", "not_sure"]}, {"preg": "not_sure"}, True),
        ({"q": "preg", "op": "has_any", "value": ["yes"]}, {"preg": "no"}, False),
        ({"q": "tx", "op": "has", "value": "tx_pt"}, {"tx": "tx_pt"}, False),
        ({"q": "age", "op": "ge", "value": 50}, {"age": "70"}, False),
        ({"q": "age", "op": "ge", "value": 50}, {}, False),
        ({"not": {"q": "age", "op": "ge", "value": 50}}, {}, True),
    ],
)
def test_evaluate(cond: dict[str, Any], facts: dict[str, Any], expected: bool) -> None:
    assert conditions.evaluate(cond, facts) is expected


@pytest.mark.parametrize(
    ("cond", "problem"),
    [
        ({"all": [{"q": "a", "op": "true"}], "q": "b"}, "'all' must stand alone"),
        ({"any": "x"}, "'any' needs a non-empty list"),
        ({"not": {"q": "a", "op": "true"}, "op": "eq"}, "'not' must stand alone"),
        ({"op": "eq", "value": 1}, "a test needs a fact name in 'q'"),
        ({"q": "a", "op": "true", "value": 1}, "unexpected keys ['value'] on 'a'"),
        ({"q": "a", "op": "eq"}, "operator 'eq' on 'a' needs a value"),
        ({"q": "a", "op": "in", "value": "x"}, "operator 'in' on 'a' needs a list value"),
    ],
)
def test_check_problems(cond: dict[str, Any], problem: str) -> None:
    assert [p for p in conditions.check(cond) if problem in p]


def test_label_for_unknown_code_is_the_code() -> None:
    assert questionnaire.QUESTIONS["preg"].label_for("maybe") == "maybe"


def test_text_answer_must_be_a_string() -> None:
    question = questionnaire.QUESTIONS["med_list"]
    assert questionnaire.value_problem(question, 12, {}) == "type"
