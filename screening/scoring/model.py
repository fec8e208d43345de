"""Plain, frozen data types of the scoring package.

Nothing here reads answers or files; the loader builds these from the rule file
and the engine returns them. Templates can render every field directly.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


class Effect(enum.StrEnum):
    """What a fired rule does to the outcome (README §3.1).

    The member order is the display order of fired rules (README §4.2).
    """

    EMERGENCY = "EMERGENCY"
    PROMPT = "PROMPT"
    AGAINST = "AGAINST"
    ABSOLUTE = "ABSOLUTE"
    RELATIVE = "RELATIVE"
    CONCERN = "CONCERN"
    PRECAUTION = "PRECAUTION"
    SUPPORT = "SUPPORT"

    @property
    def rank(self) -> int:
        """Position in the display order, 0 for EMERGENCY."""
        return _EFFECT_RANK[self]


_EFFECT_RANK = {effect: rank for rank, effect in enumerate(Effect)}


class Outcome(enum.StrEnum):
    """The overall result, most urgent first (README §1, §4.1)."""

    SEEK_CARE = "SEEK_CARE"
    NOT_A_FIT = "NOT_A_FIT"
    DISCUSS_WITH_CONCERNS = "DISCUSS_WITH_CONCERNS"
    DISCUSS = "DISCUSS"


class CareLevel(enum.StrEnum):
    """How soon a SEEK_CARE patient must be seen (README §4.1)."""

    EMERGENCY = "EMERGENCY"
    PROMPT = "PROMPT"


@dataclass(frozen=True)
class Rule:
    """One rule, as read from ``rules.toml`` (README §3)."""

    #: Stable identifier such as ``R01_CAUDA``; stored with submissions.
    id: str
    effect: Effect
    #: The condition, in the grammar of :mod:`screening.scoring.conditions`.
    when: Mapping[str, Any]
    #: Plain-words reason shown to the patient.
    patient_reason: str
    #: Technical note shown to staff.
    clinician_note: str
    #: Citation keys of README §7 (``JUDGMENT`` marks a judgment call with no source).
    sources: tuple[str, ...]
    #: Points added to the support score (SUPPORT rules only).
    points: int = 0
    #: Ids of the questions to bring that this rule adds (README §5).
    questions: tuple[str, ...] = ()
    #: Extra detail about the sources (``Table 1``), if any.
    source_note: str = ""

    @property
    def is_support(self) -> bool:
        """Whether the rule only adds points ("what fits")."""
        return self.effect is Effect.SUPPORT

    @property
    def sort_key(self) -> tuple[int, str]:
        """Display order (README §4.2): by effect, then by id."""
        return (self.effect.rank, self.id)


@dataclass(frozen=True)
class BringQuestion:
    """One entry of the questions-to-bring catalog (README §5)."""

    id: str
    #: Patient wording; may hold ``{names}``, ``{items}``, ``{treatment}`` or ``{problem}``.
    text: str
    #: Listed for every patient (Q01-Q11) rather than triggered by a rule.
    always: bool = False


@dataclass(frozen=True)
class Placeholder:
    """Where a ``{name}`` in a question to bring takes its plain words from."""

    name: str
    #: The multi-select question whose ticked options are named.
    question: str
    #: Only these option codes are named, in option order.
    codes: tuple[str, ...]
    #: Words used when no ticked option matches.
    fallback: str
    #: Keep only treatments whose ``<code>_effect`` answer is this code.
    effect: str | None = None


@dataclass(frozen=True)
class AskedQuestion:
    """A question to bring as it appears in one result, placeholders filled."""

    id: str
    text: str
    always: bool


@dataclass(frozen=True)
class RuleSet:
    """A validated rule file: rules, question catalogue and headlines."""

    version: str
    #: Every rule in evaluation order (references resolve to earlier rules).
    rules: tuple[Rule, ...]
    #: The questions-to-bring catalogue by id, in catalogue order.
    catalogue: Mapping[str, BringQuestion]
    #: Patient headline by ``(outcome, care_level)``; care level is None unless SEEK_CARE.
    headlines: Mapping[tuple[Outcome, CareLevel | None], str]
    #: Heading printed above the questions list for SEEK_CARE (README §5).
    for_later_heading: str
    #: Question ids that no rule reads on purpose (free text and unscored items).
    unscored: frozenset[str]
    #: Placeholder sources by name (``names``, ``items``, ...).
    placeholders: Mapping[str, Placeholder] = field(default_factory=dict)
    #: Plain words for option codes whose form label reads badly mid-sentence.
    plain_words: Mapping[str, str] = field(default_factory=dict)
    by_id: Mapping[str, Rule] = field(default_factory=dict)

    @property
    def always_questions(self) -> tuple[BringQuestion, ...]:
        """The "always" questions (Q01-Q11) in catalogue order."""
        return tuple(q for q in self.catalogue.values() if q.always)


@dataclass(frozen=True)
class ScoringResult:
    """The outcome of scoring one answer set (README §1, the stored result).

    :meth:`to_dict` gives exactly the stored contract; the other attributes are
    structured views of the same data for templates.
    """

    outcome: Outcome
    care_level: CareLevel | None
    blocking_contraindication: bool
    support_score: int
    peg_score: float
    #: Fired rules in display order (README §4.2), support rules last.
    fired: tuple[Rule, ...]
    #: Questions to bring in output order (README §5), placeholders filled.
    asked: tuple[AskedQuestion, ...]
    ruleset_version: str
    headline: str

    @property
    def fired_rules(self) -> list[str]:
        """Ids of all fired rules, support rules included."""
        return [rule.id for rule in self.fired]

    @property
    def concerns(self) -> tuple[Rule, ...]:
        """Fired non-support rules: the reasons that shape the outcome."""
        return tuple(rule for rule in self.fired if not rule.is_support)

    @property
    def supports(self) -> tuple[Rule, ...]:
        """Fired support rules: the "what fits" reasons."""
        return tuple(rule for rule in self.fired if rule.is_support)

    @property
    def patient_reasons(self) -> list[str]:
        """One reason per fired non-support rule, then the support reasons.

        :attr:`fired` already puts support rules last, so this follows it.
        """
        return [rule.patient_reason for rule in self.fired]

    @property
    def clinician_notes(self) -> list[str]:
        """One note per fired rule, in the order of :attr:`fired_rules`."""
        return [rule.clinician_note for rule in self.fired]

    @property
    def questions(self) -> list[str]:
        """Question-to-bring ids in output order."""
        return [q.id for q in self.asked]

    def to_dict(self) -> dict[str, Any]:
        """Return the stored result: exactly the keys listed in README §1."""
        return {
            "outcome": self.outcome.value,
            "care_level": None if self.care_level is None else self.care_level.value,
            "blocking_contraindication": self.blocking_contraindication,
            "support_score": self.support_score,
            "peg_score": self.peg_score,
            "fired_rules": self.fired_rules,
            "patient_reasons": self.patient_reasons,
            "clinician_notes": self.clinician_notes,
            "questions": self.questions,
        }
