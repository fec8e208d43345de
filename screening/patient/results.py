"""What a patient is shown after submitting: built from the stored result.

A function of a stored submission, used by the result page, its print view and its PDF,
so all three say the same thing. The stored result is English (the scorer's words); it is
shown in the patient's language, with English kept for any wording the catalogue lacks
(a reason stored under an older rule set, say).
"""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import gettext as _

from screening import clinics, i18n
from screening.i18n import join_words, translate
from screening.models import Submission
from screening.scoring import CareLevel, Effect, Outcome, headline, load_ruleset, question_text

#: Rules after which the patient is told not to stop blood thinners or aspirin
#: (screening/scoring/README.md §4.4 item 5; ENDRES2017).
BLOOD_THINNER_RULES = frozenset({"C06_ANTICOAGULANT", "P01_ASPIRIN_NSAID"})


@dataclass(frozen=True)
class PatientResult:
    reference: str
    outcome: str
    care_level: str | None
    headline: str
    #: Plain-words reasons of the fired rules, by what they mean for the patient:
    #: why to seek care now (EMERGENCY, PROMPT), why it may not fit (AGAINST), concerns to
    #: bring up (ABSOLUTE, RELATIVE, CONCERN, and any rule the current file lacks),
    #: safety notes (PRECAUTION), and what fits (SUPPORT).
    urgent: tuple[str, ...]
    against: tuple[str, ...]
    concerns: tuple[str, ...]
    precautions: tuple[str, ...]
    fits: tuple[str, ...]
    #: Questions to bring, placeholders filled from the answers.
    questions: tuple[str, ...]
    #: Heading over the questions: for SEEK_CARE they are "for later".
    questions_heading: str
    blood_thinner_warning: bool
    #: After-injection warning signs belong on DISCUSS and DISCUSS_WITH_CONCERNS results.
    after_injection_signs: bool
    ruleset_version: str
    #: The clinic the form went to, for calling it (None when it has gone).
    clinic: clinics.Contact | None

    @property
    def reasons(self) -> tuple[str, ...]:
        """Every reason that is not a support reason, most urgent first."""
        return self.urgent + self.against + self.concerns + self.precautions

    @property
    def seek_care(self) -> bool:
        return self.outcome == Outcome.SEEK_CARE

    @property
    def emergency(self) -> bool:
        return self.care_level == CareLevel.EMERGENCY


GROUPS = {
    Effect.EMERGENCY: "urgent",
    Effect.PROMPT: "urgent",
    Effect.AGAINST: "against",
    Effect.PRECAUTION: "precautions",
    Effect.SUPPORT: "fits",
}


def _group(rule_id: str) -> str:
    found = load_ruleset().by_id.get(rule_id)
    return GROUPS.get(found.effect, "concerns") if found is not None else "concerns"


def build(submission: Submission) -> PatientResult:
    """Shape a stored submission's result for the patient."""
    stored = submission.result
    fired = stored["fired_rules"]
    # patient_reasons follow fired_rules, one each: non-support rules first, then support.
    grouped: dict[str, list[str]] = {g: [] for g in ("urgent", "against", "concerns")}
    grouped |= {"precautions": [], "fits": []}
    for rule_id, reason in zip(fired, stored["patient_reasons"], strict=False):
        grouped[_group(rule_id)].append(translate(reason))
    seek_care = stored["outcome"] == Outcome.SEEK_CARE
    return PatientResult(
        reference=submission.reference,
        outcome=stored["outcome"],
        care_level=stored["care_level"],
        headline=translate(headline(stored["outcome"], stored["care_level"])),
        **{name: tuple(reasons) for name, reasons in grouped.items()},
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
        clinic=clinics.contact(submission.clinic, i18n.current()),
    )
