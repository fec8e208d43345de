"""Shared helpers for the scoring tests and the benchmark: case files and answer generation."""

from __future__ import annotations

import random
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from screening.scoring import questionnaire

CASES_DIR = Path(__file__).with_name("cases")


def load_cases(name: str) -> dict[str, Any]:
    """Read one TOML case file from ``cases/``."""
    return tomllib.loads((CASES_DIR / name).read_text(encoding="utf-8"))


VIGNETTES = load_cases("vignettes.toml")
BASELINE: dict[str, Any] = VIGNETTES["baseline"]


def apply(case: dict[str, Any]) -> dict[str, Any]:
    """Return baseline B with a case's ``set`` applied and its ``unset`` ids removed."""
    answers = {**BASELINE, **case.get("set", {})}
    for qid in case.get("unset", []):
        del answers[qid]
    return answers


class Chooser(Protocol):
    """Where generated answers take their randomness from (hypothesis or ``random``)."""

    def one(self, items: Sequence[Any]) -> Any: ...

    def some(self, items: Sequence[Any]) -> list[Any]: ...

    def integer(self, low: int, high: int) -> int: ...

    def flag(self) -> bool: ...

    def text(self, max_length: int) -> str: ...


def build_answers(choose: Chooser) -> dict[str, Any]:
    """Generate one valid answer set, question by question in form order.

    Only questions shown by the answers so far are answered, optional ones are
    sometimes skipped, exclusive options ("Nothing yet") stand alone, and the
    age is adult, so :func:`questionnaire.validate` accepts every result.
    """
    answers: dict[str, Any] = {}
    for qid, question in questionnaire.QUESTIONS.items():
        if not questionnaire.is_shown(qid, answers):
            continue
        if not question.required and choose.flag():
            continue
        answers[qid] = _value(question, answers, choose)
    return answers


def _value(question: questionnaire.Question, answers: dict[str, Any], choose: Chooser) -> Any:
    codes = [o.code for o in question.options]
    # Mostly "no" on yes/no items, so generated sets are not almost all red flags.
    if question.type == "yes_no" and not (choose.flag() and choose.flag()):
        return "no"
    if question.type in questionnaire.CHOICE_TYPES:
        if question.choices_within is not None:
            codes = list(answers[question.choices_within])
        return choose.one(codes)
    if question.type == "multi":
        if question.exclusive is not None and choose.flag():
            return [question.exclusive]
        return choose.some([c for c in codes if c != question.exclusive])
    if question.type in ("scale", "int"):
        low = questionnaire.MIN_AGE if question.id == "age" else question.min
        return choose.integer(low, question.max)
    if question.type == "text":
        return choose.text(min(question.max_length or 20, 20))
    return True  # the consent box must be ticked


class RandomChooser:
    """A :class:`Chooser` over :class:`random.Random`, for the benchmark."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def one(self, items: Sequence[Any]) -> Any:
        return self.rng.choice(items)

    def some(self, items: Sequence[Any]) -> list[Any]:
        return self.rng.sample(list(items), self.rng.randint(1, min(4, len(items))))

    def integer(self, low: int, high: int) -> int:
        return self.rng.randint(low, high)

    def flag(self) -> bool:
        return self.rng.random() < 0.5

    def text(self, max_length: int) -> str:
        return "x" * self.rng.randint(1, max_length)
