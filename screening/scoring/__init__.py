"""Score a trigger point injection screening questionnaire.

The package is pure: it imports only the standard library and its own modules,
reads only its own data files, and never reads the clock. The web layer calls
:func:`score` with the coded answers (README §1) and stores
:meth:`ScoringResult.to_dict` together with :attr:`ScoringResult.ruleset_version`.

.. code-block:: python

    from screening.scoring import score, ScoringInputError

    try:
        result = score(answers)
    except ScoringInputError as exc:
        exc.missing, exc.invalid   # question ids, in form order
    result.to_dict()               # the stored result (README §1)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from screening.scoring import engine, questionnaire
from screening.scoring.loader import RulesetError, check_ruleset, load_ruleset
from screening.scoring.model import (
    AskedQuestion,
    BringQuestion,
    CareLevel,
    Effect,
    Outcome,
    Rule,
    RuleSet,
    ScoringResult,
)

__all__ = [
    "AskedQuestion",
    "BringQuestion",
    "CareLevel",
    "Effect",
    "Outcome",
    "Rule",
    "RuleSet",
    "RulesetError",
    "ScoringInputError",
    "ScoringResult",
    "check_ruleset",
    "headline",
    "load_ruleset",
    "question_text",
    "score",
]


class ScoringInputError(ValueError):
    """The answers are incomplete or invalid, so they were not scored.

    :param missing: required question ids left unanswered, in form order.
    :param invalid: question ids with an unusable answer, in form order (an
        age under 18 gives ``["age"]``).
    """

    def __init__(self, missing: list[str], invalid: list[str]) -> None:
        self.missing = missing
        self.invalid = invalid
        super().__init__(f"answers not scored: missing {missing}, invalid {invalid}")

    def to_dict(self) -> dict[str, Any]:
        """Return the stored validation error (README §1)."""
        return {"error": "validation", "missing": self.missing, "invalid": self.invalid}


def score(answers: Mapping[str, Any], ruleset: RuleSet | None = None) -> ScoringResult:
    """Score one answer set with every rule (README §4.1).

    Answers to questions that are not shown are ignored, as the form clears
    them. An unanswered ``tp_twitch`` counts as ``not_sure`` and an unanswered
    ``ivdu`` as ``prefer_not``.

    :param answers: question ids mapped to coded values (README §1).
    :param ruleset: the rules to use; defaults to the packaged rule file.
    :return: the result; the same answers always give the same result.
    :raise ScoringInputError: if a required answer is missing or any is invalid.
    :raise RulesetError: if the packaged rule file is broken.
    """
    if ruleset is None:
        ruleset = load_ruleset()
    missing, invalid = questionnaire.validate(answers)
    if missing or invalid:
        raise ScoringInputError(missing, invalid)
    return engine.evaluate(ruleset, questionnaire.visible_answers(answers))


def headline(
    outcome: Outcome | str,
    care_level: CareLevel | str | None = None,
    ruleset: RuleSet | None = None,
) -> str:
    """Return the patient headline of an outcome (README §4.3).

    :param outcome: an :class:`Outcome` or its stored string.
    :param care_level: the care level for ``SEEK_CARE``; ignored otherwise.
    """
    outcome = Outcome(outcome)
    level = CareLevel(care_level) if outcome is Outcome.SEEK_CARE and care_level else None
    return (ruleset or load_ruleset()).headlines[(outcome, level)]


def question_text(
    question_id: str,
    answers: Mapping[str, Any],
    ruleset: RuleSet | None = None,
    translate: Callable[[str], str] | None = None,
    join: Callable[[Sequence[str]], str] | None = None,
) -> str:
    """Return a question to bring in patient wording, placeholders filled from answers.

    Use this to show the ``questions`` of a stored result again.

    :param question_id: a catalogue id such as ``"Q20"``.
    :param answers: the patient's coded answers.
    :param translate: turns each English wording into the reader's language (the web
        layer passes its gettext); English when omitted.
    :param join: joins several answers' words ("a, b and c") in that language.
    :raise KeyError: if the catalogue has no such question.
    """
    return engine.fill(
        ruleset or load_ruleset(),
        question_id,
        questionnaire.visible_answers(answers),
        translate=translate or engine.untranslated,
        join=join or engine.english_list,
    )
