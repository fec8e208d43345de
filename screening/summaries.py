"""The clinician's one-page summary of a submission: print view, PDF and batch PDF.

A pure function of a stored submission, like :mod:`screening.patient.results` for the patient.
:func:`build_summary` gathers what the page shows, most important first; the template
``templates/print/summary.html`` lays it out. Every answer is in plain words with its
question id (staff see ids, patients never do: screening/scoring/README.md §2.1 rule 8),
and a question that was asked but left blank reads :data:`NOT_ANSWERED`, never "No".

.. code-block:: python

    summary = build_summary(submission, timezone=current_app.config["CLINIC_TIMEZONE"])
    html = render_template("print/summary.html", summary=summary, paper="letter", pdf=True)
    data = render_pdf(html, stylesheets=STYLESHEETS)
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any

from screening import presentation, summary_layout
from screening.clinics import format_time
from screening.i18n import ENGLISH_NAMES
from screening.models import Submission
from screening.presentation import (
    LINE_BREAK,
    NOT_ANSWERED,
    FiredRule,
    Row,
    answer_words,
    group_rows,
)
from screening.scoring import CareLevel, Outcome, load_ruleset, question_text, questionnaire

__all__ = [
    "LINE_BREAK",
    "NOT_ANSWERED",
    "STYLESHEETS",
    "ClinicianSummary",
    "FiredRule",
    "QuestionToBring",
    "Row",
    "Treatment",
    "build_summary",
]

#: The summary's stylesheet, from ``static/``: the same one the browser's print view links.
STYLESHEETS = ("css/summary.css",)
#: Questions the "Treatments tried" list itself shows (each treatment with how it worked,
#: physical therapy with its weeks); the rest of the group prints as rows under it.
IN_TREATMENT_LIST = frozenset(
    {"tx", "pt_weeks"}
    | {qid for qid, question in questionnaire.QUESTIONS.items() if question.about is not None}
)


@dataclass(frozen=True)
class Treatment:
    """A treatment the patient tried, with how it worked in their words."""

    code: str
    label: str
    #: Plain-words effect, or other detail for treatments without an effect question.
    effect: str
    #: Extra detail such as the weeks of physical therapy ("" when none).
    detail: str = ""


@dataclass(frozen=True)
class QuestionToBring:
    """A question to bring, as the patient was given it (placeholders filled)."""

    id: str
    text: str
    always: bool
    #: A few words for the questions every patient gets (Q01-Q11); "" for the others.
    topic: str = ""

    @property
    def first_sentence(self) -> str:
        """The question itself, without the sentences that follow it (the page's form)."""
        found = re.match(r".+?[?.](?=\s|$)", self.text)
        return found.group(0) if found else self.text


#: The "always" questions to bring (Q01-Q11, screening/scoring/README.md §5), in a few words
#: each: the page prints the triggered questions in full and these as one line.
ALWAYS_TOPICS = {
    "Q01": "trigger points or another cause?",
    "Q02": "other treatments",
    "Q03": "what goes in the shot; steroid?",
    "Q04": "how many, where, how often",
    "Q05": "risks and side effects",
    "Q06": "aftercare",
    "Q07": "warning signs after",
    "Q08": "how to tell if it worked",
    "Q09": "if I decide not to",
    "Q10": "driving and work",
    "Q11": "insurance and cost",
}


@dataclass(frozen=True)
class ClinicianSummary:
    """Everything the clinician's one page shows, in order of importance."""

    # Identity and where the form came from.
    reference: str
    full_name: str
    dob: str
    age: str
    phone: str
    best_time: str
    email: str
    clinic: str
    submitted: str
    language: str
    # The scorer's result.
    outcome: str
    #: The outcome in words ("Seek care: within 24 hours").
    outcome_label: str
    care_level: str | None
    blocking: bool
    support_score: int
    #: Fired non-support rules, in the scorer's order (emergencies first).
    warnings: tuple[FiredRule, ...]
    #: Blood thinners, allergies and the local-anesthetic reaction, pregnancy and
    #: breastfeeding: always shown at the top, highlighted when not "none"/"no".
    safety: tuple[Row, ...]
    #: Warning-sign questions answered "yes" (the "red_flags" group: rf_*, headache items).
    red_flag_answers: tuple[Row, ...]
    #: Ids of the fired support rules ("what fits").
    support_rules: tuple[str, ...]
    # Pain.
    peg_score: float
    #: peg_p, peg_e, peg_g, then pain_now.
    peg_items: tuple[Row, ...]
    region_codes: tuple[str, ...]
    primary_region_code: str | None
    regions: tuple[Row, ...]
    #: duration, onset and trend.
    course: tuple[Row, ...]
    pattern: tuple[Row, ...]
    # Treatments and medicines.
    treatments: tuple[Treatment, ...]
    #: The prior TPI details, when asked.
    treatment_details: tuple[Row, ...]
    medicines: tuple[Row, ...]
    history: tuple[Row, ...]
    #: The patient's own goals and questions (free text).
    own_words: tuple[Row, ...]
    #: Questions to bring, in the order the patient was given them.
    questions: tuple[QuestionToBring, ...]
    questions_for_later: bool
    ruleset_version: str
    questionnaire_version: str
    #: Shown above everything when the stored submission fails its integrity check
    #: (screening.integrity); empty when sound.
    integrity_warning: str = ""

    @property
    def support_max(self) -> int:
        """The highest support score the loaded rules can give."""
        return presentation.support_max()

    @property
    def care_level_label(self) -> str:
        """ "emergency now", "within 24 hours", or ""."""
        return presentation.care_level_words(self.care_level)

    @property
    def seek_care(self) -> bool:
        return self.outcome == Outcome.SEEK_CARE

    @property
    def emergency(self) -> bool:
        return self.care_level == CareLevel.EMERGENCY

    @property
    def triggered_questions(self) -> tuple[QuestionToBring, ...]:
        """Questions to bring that a rule added, or that have no short topic: in full."""
        return tuple(q for q in self.questions if not q.topic)

    @property
    def standard_questions(self) -> tuple[QuestionToBring, ...]:
        """The standard questions every patient gets, printed as short topics."""
        return tuple(q for q in self.questions if q.topic)

    @property
    def region_labels(self) -> dict[str, str]:
        """Region code to label, for the body figure's hover titles."""
        return {code: region.label for code, region in questionnaire.REGIONS.items()}

    @property
    def sources(self) -> tuple[str, ...]:
        """Every source cited by the fired rules on the page, once each, sorted."""
        return tuple(sorted({key for rule in self.warnings for key in rule.sources}))

    @property
    def region_words(self) -> tuple[str, ...]:
        """The places of pain, short, each place once with its sides: "Neck (L, R)"."""
        sides: dict[str, list[str]] = {}
        for code in self.region_codes:
            region = questionnaire.REGIONS.get(code)
            label = region.label if region is not None else code
            place = label.split(",")[0].strip()
            side = "L" if code.endswith("_l") else "R" if code.endswith("_r") else ""
            found = sides.setdefault(place, [])
            if side:
                found.append(side)
        return tuple(
            f"{place} ({', '.join(sorted(found))})" if found else place
            for place, found in sides.items()
        )

    @property
    def _all_rows(self) -> tuple[Row, ...]:
        return (
            *self.safety,
            *self.peg_items,
            *self.regions,
            *self.course,
            *self.pattern,
            *self.treatment_details,
            *self.medicines,
            *self.history,
            *self.own_words,
        )

    @property
    def free_rows(self) -> tuple[Row, ...]:
        """Everything the patient typed, printed last: only it may run onto a second page."""
        return tuple(row for row in self._all_rows if row.free and not row.blank)

    @property
    def not_answered(self) -> tuple[Row, ...]:
        """Questions asked but left blank, listed once ("Not answered: ...").

        The safety rows are left out: their table shows every one of them, blank or not.
        """
        return tuple(row for row in self._all_rows[len(self.safety) :] if row.blank)

    @staticmethod
    def answered(rows: tuple[Row, ...]) -> tuple[Row, ...]:
        """A section's other answers: not free text, blank, or a plain "Yes" or "No"."""
        return tuple(
            row
            for row in rows
            if not row.free and not row.blank and not _is_no(row) and not _is_yes(row)
        )

    @staticmethod
    def said_yes(rows: tuple[Row, ...]) -> tuple[Row, ...]:
        """A section's plain "Yes" answers (not alerts), printed as one line ("Yes to: ...")."""
        return tuple(row for row in rows if not row.free and _is_yes(row))

    @staticmethod
    def said_no(rows: tuple[Row, ...]) -> tuple[Row, ...]:
        """A section's plain "No" answers, printed as one line ("No to: ...")."""
        return tuple(row for row in rows if not row.free and _is_no(row))

    @cached_property
    def plan(self) -> summary_layout.Plan:
        """How the page holds it: columns, type size, notes whole or shortened."""
        return summary_layout.plan(self)

    @property
    def density(self) -> str:
        """Type size step so the structured part fits one page: "", "dense", "denser"."""
        return self.plan.density


def _is_no(row: Row) -> bool:
    return row.value == "No" and not row.alert


def _is_yes(row: Row) -> bool:
    return row.value == "Yes" and not row.alert


def _treatments(answers: Mapping[str, Any]) -> tuple[Treatment, ...]:
    tried = answers.get("tx") or ()
    options = questionnaire.QUESTIONS["tx"]
    found = []
    for code in tried:
        label = options.label_for(code)
        if code == "tx_none":
            found.append(Treatment(code, label, ""))
            continue
        if code == "tx_tpi":
            relief = answer_words("tpi_relief", answers.get("tpi_relief"))
            found.append(Treatment(code, label, f"Relief: {relief}" if relief else NOT_ANSWERED))
            continue
        effect_id = f"{code}_effect"
        effect = (
            answer_words(effect_id, answers.get(effect_id))
            if effect_id in questionnaire.QUESTIONS
            else None
        )
        detail = ""
        if code == "tx_pt":
            weeks = answer_words("pt_weeks", answers.get("pt_weeks"))
            detail = f"for {(weeks or NOT_ANSWERED).lower()}"
        found.append(Treatment(code, label, effect or NOT_ANSWERED, detail))
    if not found:
        found.append(Treatment("tx", NOT_ANSWERED, ""))
    return tuple(found)


def _submitted(moment: datetime | None, timezone: str) -> str:
    if moment is None:
        return NOT_ANSWERED
    # US style on the clinic's clock: "Mar 1, 2025, 9:30 AM EST".
    return format_time(moment, timezone, with_zone=True)


def _text(value: Any) -> str:
    return str(value).strip() if value not in (None, "") else NOT_ANSWERED


def build_summary(
    submission: Submission, timezone: str = "America/New_York", integrity_warning: str = ""
) -> ClinicianSummary:
    """Gather a stored submission's clinician summary.

    Fired rules, notes and questions come from the stored result, so the page says what
    the rule set version printed on it decided; sources come from the loaded rule file.
    Every word for answers, outcomes and rule effects comes from :mod:`screening.presentation`.

    :param submission: a submission with its stored result (it need not be saved).
    :param timezone: the clinic's time zone (``CLINIC_TIMEZONE``) for the submitted date.
    :param integrity_warning: what to say when the stored submission failed its check.
    """
    answers = submission.answers or {}
    personal = submission.personal or {}
    stored = submission.result or {}
    fired = presentation.fired_rules(submission)
    outcome, care_level = presentation.result_of(submission)
    regions = tuple(answers.get("regions") or ())
    catalogue = load_ruleset().catalogue
    questions = tuple(
        QuestionToBring(
            qid,
            question_text(qid, answers),
            bool(catalogue[qid].always) if qid in catalogue else False,
            ALWAYS_TOPICS.get(qid, "") if qid in catalogue and catalogue[qid].always else "",
        )
        for qid in stored.get("questions") or submission.questions or ()
    )
    clinic = submission.clinic
    return ClinicianSummary(
        reference=submission.reference or NOT_ANSWERED,
        full_name=_text(personal.get("full_name")),
        dob=presentation.dob_words(personal),
        age=_text(answers.get("age")),
        phone=_text(personal.get("phone")),
        best_time=presentation.BEST_TIME_WORDS.get(personal.get("best_time") or "", NOT_ANSWERED),
        email=_text(personal.get("email")),
        clinic=clinic.name if clinic is not None else "Not chosen",
        submitted=_submitted(submission.submitted_at, timezone),
        language=ENGLISH_NAMES.get(submission.language or "en", submission.language),
        outcome=outcome,
        outcome_label=presentation.outcome_words(outcome, care_level),
        care_level=care_level,
        blocking=bool(
            stored.get("blocking_contraindication", submission.blocking_contraindication)
        ),
        support_score=stored.get("support_score", submission.support_score) or 0,
        warnings=tuple(rule for rule in fired if not rule.support),
        safety=group_rows(answers, "safety"),
        red_flag_answers=tuple(row for row in group_rows(answers, "red_flags") if row.alert),
        support_rules=tuple(rule.id for rule in fired if rule.support),
        peg_score=stored.get("peg_score", submission.peg_score),
        peg_items=group_rows(answers, "pain"),
        region_codes=regions,
        primary_region_code=answers.get("primary_region"),
        regions=group_rows(answers, "where"),
        course=group_rows(answers, "course"),
        pattern=group_rows(answers, "pattern"),
        treatments=_treatments(answers),
        treatment_details=tuple(
            row for row in group_rows(answers, "treatments") if row.id not in IN_TREATMENT_LIST
        ),
        medicines=group_rows(answers, "medicines"),
        history=group_rows(answers, "history"),
        own_words=group_rows(answers, "own_words"),
        questions=questions,
        questions_for_later=outcome == Outcome.SEEK_CARE,
        ruleset_version=submission.ruleset_version or stored.get("ruleset_version") or "",
        questionnaire_version=submission.questionnaire_version or "",
        integrity_warning=integrity_warning,
    )
