"""What a patient is shown after submitting: built from the stored result.

A function of a stored submission, used by the result page, its print view and its PDF,
so all three say the same thing. The stored result is English (the scorer's words); it is
shown in the patient's language, with English kept for any wording the catalogue lacks
(a reason stored under an older rule set, say).
"""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import gettext as _

from screening.i18n import join_words, translate
from screening.models import Submission
from screening.scoring import CareLevel, Effect, Outcome, headline, load_ruleset, question_text

#: Rules after which the patient is told not to stop blood thinners or aspirin (spec 5.1 item 5).
BLOOD_THINNER_RULES = frozenset({"C06_ANTICOAGULANT", "P01_ASPIRIN_NSAID"})


@dataclass(frozen=True)
class PatientResult:
    reference: str
    outcome: str
    care_level: str | None
    headline: str
    #: Plain-words reasons of the fired rules that are not support rules.
    reasons: tuple[str, ...]
    #: "What fits": reasons of the fired support rules.
    fits: tuple[str, ...]
    #: Questions to bring, placeholders filled from the answers.
    questions: tuple[str, ...]
    #: Heading over the questions: for SEEK_CARE they are "for later".
    questions_heading: str
    blood_thinner_warning: bool
    #: After-injection warning signs belong on DISCUSS and DISCUSS_WITH_CONCERNS results.
    after_injection_signs: bool
    ruleset_version: str

    @property
    def seek_care(self) -> bool:
        return self.outcome == Outcome.SEEK_CARE

    @property
    def emergency(self) -> bool:
        return self.care_level == CareLevel.EMERGENCY


def _is_support(rule_id: str) -> bool:
    found = load_ruleset().by_id.get(rule_id)
    return found is not None and found.effect is Effect.SUPPORT


def build(submission: Submission) -> PatientResult:
    """Shape a stored submission's result for the patient."""
    stored = submission.result
    fired = stored["fired_rules"]
    reasons = stored["patient_reasons"]
    # patient_reasons follow fired_rules: non-support rules first, then support rules.
    split = next((i for i, rule_id in enumerate(fired) if _is_support(rule_id)), len(fired))
    seek_care = stored["outcome"] == Outcome.SEEK_CARE
    return PatientResult(
        reference=submission.reference,
        outcome=stored["outcome"],
        care_level=stored["care_level"],
        headline=translate(headline(stored["outcome"], stored["care_level"])),
        reasons=tuple(translate(reason) for reason in reasons[:split]),
        fits=tuple(translate(reason) for reason in reasons[split:]),
        questions=tuple(
            question_text(qid, submission.answers, translate=translate, join=join_words)
            for qid in stored["questions"]
        ),
        questions_heading=(
            translate(load_ruleset().for_later_heading)
            if seek_care
            else _("Questions to bring to your appointment")
        ),
        blood_thinner_warning=bool(BLOOD_THINNER_RULES & set(fired)),
        after_injection_signs=stored["outcome"] in (Outcome.DISCUSS, Outcome.DISCUSS_WITH_CONCERNS),
        ruleset_version=submission.ruleset_version,
    )
