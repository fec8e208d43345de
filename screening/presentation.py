"""Staff words for a stored submission: the one builder of every staff output.

The detail page, the print view and PDF (:mod:`screening.summaries`) and the CSV export
(:mod:`screening.staff.exports`) all turn codes into words here, so a clinician never
reads ``bt_apixaban`` or ``RELATIVE`` where words belong. The words themselves are data:
each question's ``staff_label``, ``staff_group`` and ``alert`` and the ``[staff]`` table
of ``screening/scoring/questionnaire.toml`` (outcome, care-level and rule-effect words,
and the answers that mean "none"). Option wording is the patient's English label.

Pure functions of a stored :class:`~screening.models.Submission`: no request, no clock;
the caller passes the clinic's time zone where a time is shown. English only (staff).

.. code-block:: python

    view = staff_view(submission)
    view.outcome_label          # "Seek care: within 24 hours"
    [row.value for row in view.safety]
    csv_header(zone), csv_values(submission, zone, words=True)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from screening.clinics import local, zone_name
from screening.i18n import ENGLISH_NAMES
from screening.models import STATUS_LABELS, Submission
from screening.patient.forms import BEST_TIMES
from screening.scoring import Effect, Outcome, load_ruleset, questionnaire

#: What a blank reads: "Not answered", never "No" (a blank is not a no).
NOT_ANSWERED = "Not answered"
#: What a line break in free text becomes where space is short (the printed page).
LINE_BREAK = " | "
#: The staff words of the questionnaire data file.
STAFF = questionnaire.STAFF
#: Free-text questions: never scored, scanned by staff (screening/scoring/README.md §2.1 rule 6).
FREE_TEXT = frozenset(
    qid for qid, question in questionnaire.QUESTIONS.items() if question.type == "text"
)
#: A rule a stored result names that the loaded rule file no longer has.
UNKNOWN_EFFECT = "RULE"
UNKNOWN_EFFECT_WORDS = "Rule not in the current rule set"
#: Best time to call: code -> words (the form's own English wording).
BEST_TIME_WORDS = dict(BEST_TIMES)


@dataclass(frozen=True)
class Row:
    """One answer: question id, staff label, value in words, and whether it is an alert."""

    id: str
    label: str
    value: str
    #: Highlighted: a positive answer to an alert question (never a none/no answer).
    alert: bool = False

    @property
    def flag(self) -> bool:
        """The print view's name for :attr:`alert`."""
        return self.alert

    @property
    def blank(self) -> bool:
        return self.value == NOT_ANSWERED

    @property
    def free(self) -> bool:
        """Free text: never scored; staff scan it (screening/scoring/README.md §2.1 rule 6)."""
        return self.id in FREE_TEXT


@dataclass(frozen=True)
class Group:
    """A staff summary group ("safety", "pain", ...) with its heading and rows."""

    id: str
    heading: str
    rows: tuple[Row, ...]


@dataclass(frozen=True)
class FiredRule:
    """A fired rule: its id, effect code and words, the stored clinician note, sources."""

    id: str
    #: An :class:`~screening.scoring.Effect` value (for CSS classes), or ``"RULE"``.
    effect: str
    #: The effect in a clinician's words ("Contraindication (relative)").
    effect_label: str
    #: The clinician note stored with the result (the words of its rule set version).
    note: str
    sources: tuple[str, ...]

    @property
    def support(self) -> bool:
        return self.effect == Effect.SUPPORT


# ------------------------------------------------------------------ words


def outcome_words(outcome: str | None, care_level: str | None = None) -> str:
    """ "Seek care: emergency now", "Discuss, with concerns", ... (the code if unknown)."""
    if not outcome:
        return NOT_ANSWERED
    words = STAFF.outcomes.get(outcome, outcome)
    if outcome == Outcome.SEEK_CARE and care_level:
        words = f"{words}: {care_level_words(care_level)}"
    return words


def care_level_words(care_level: str | None) -> str:
    """ "emergency now", "within 24 hours"; "" when there is none."""
    return STAFF.care_levels.get(care_level, care_level) if care_level else ""


def effect_words(effect: str) -> str:
    """A rule effect in words ("Supports TPI")."""
    return STAFF.effects.get(effect, UNKNOWN_EFFECT_WORDS)


def status_words(status: str) -> str:
    return STATUS_LABELS.get(status, status)


def yes_no(value: Any) -> str:
    return "Yes" if value else "No"


def dob_words(personal: Mapping[str, Any]) -> str:
    """The date of birth, US style with the month in letters ("Mar 14, 1979")."""
    raw = personal.get("dob")
    if not raw:
        return NOT_ANSWERED
    born = date.fromisoformat(raw)
    return f"{born.strftime('%b')} {born.day}, {born.year}"


def contact_words(submission: Submission) -> tuple[tuple[str, str], ...]:
    """The patient's details as (label, words) pairs, blanks as "Not answered"."""
    personal = submission.personal or {}
    best = BEST_TIME_WORDS.get(personal.get("best_time") or "")
    age = (submission.answers or {}).get("age")
    return tuple(
        (label, str(value).strip() if value not in (None, "") else NOT_ANSWERED)
        for label, value in (
            ("Name", personal.get("full_name")),
            ("Date of birth", f"{dob_words(personal)} (age {age})" if age else dob_words(personal)),
            ("Phone", personal.get("phone")),
            ("Email", personal.get("email")),
            ("Best time to call", best),
        )
    )


def answer_words(qid: str, value: Any, line_break: str = LINE_BREAK) -> str | None:
    """Return a stored answer in words, or None when there is none.

    Several choices are joined with "; ". Free text keeps every word; its lines are
    joined with ``line_break`` (a visible mark on paper, a newline on screen).
    """
    if value is None or value == "" or value == []:
        return None
    question = questionnaire.QUESTIONS[qid]
    if question.type == "multi":
        return "; ".join(question.label_for(code) for code in value)
    if question.type in questionnaire.CHOICE_TYPES:
        return question.label_for(value)
    if question.type == "bool":
        return yes_no(value)
    if question.type == "text":
        lines = [line.strip() for line in str(value).splitlines() if line.strip()]
        return line_break.join(lines) or None
    return str(value)


def is_alert(qid: str, value: Any) -> bool:
    """Whether an answer is highlighted for staff (never none/no/blank)."""
    return STAFF.is_alert(questionnaire.QUESTIONS[qid], value)


def answer_row(answers: Mapping[str, Any], qid: str, line_break: str = LINE_BREAK) -> Row | None:
    """The row of one question, or None when it was not asked.

    :param answers: visible answers (see :func:`questionnaire.visible_answers`).
    """
    if not questionnaire.is_shown(qid, answers):
        return None
    raw = answers.get(qid)
    question = questionnaire.QUESTIONS[qid]
    value = answer_words(qid, raw, line_break) or NOT_ANSWERED
    return Row(qid, question.staff_label, value, is_alert(qid, raw))


def group_rows(
    answers: Mapping[str, Any], group: str, line_break: str = LINE_BREAK
) -> tuple[Row, ...]:
    """The rows of one staff group, in form order; questions not asked are left out."""
    visible = questionnaire.visible_answers(answers)
    rows = (
        answer_row(visible, qid, line_break)
        for qid, question in questionnaire.QUESTIONS.items()
        if question.staff_group == group
    )
    return tuple(row for row in rows if row is not None)


def answer_groups(answers: Mapping[str, Any], line_break: str = "\n") -> tuple[Group, ...]:
    """Every staff group that has rows, in the data file's order."""
    groups = (
        Group(gid, heading, group_rows(answers, gid, line_break))
        for gid, heading in STAFF.groups.items()
    )
    return tuple(group for group in groups if group.rows)


def support_max() -> int:
    """The highest support score: every support rule's points, from the loaded rules."""
    return sum(rule.points for rule in load_ruleset().rules if rule.effect is Effect.SUPPORT)


def fired_rules(submission: Submission) -> tuple[FiredRule, ...]:
    """The stored result's fired rules in its order (non-support first), with words.

    Notes come from the stored result, so the page says what the rule set version of the
    submission said; effects and sources come from the loaded rule file.
    """
    stored = submission.result or {}
    rules = load_ruleset().by_id
    ids = list(stored.get("fired_rules") or submission.fired_rules or ())
    notes = list(stored.get("clinician_notes") or ())
    found = []
    for index, rule_id in enumerate(ids):
        rule = rules.get(rule_id)
        effect = rule.effect.value if rule else UNKNOWN_EFFECT
        note = notes[index] if index < len(notes) else (rule.clinician_note if rule else "")
        found.append(
            FiredRule(rule_id, effect, effect_words(effect), note, rule.sources if rule else ())
        )
    return tuple(found)


# ------------------------------------------------------------------ the detail page


@dataclass(frozen=True)
class StaffView:
    """What staff read of a submission's result and answers, in words."""

    outcome: str
    care_level: str | None
    #: "Seek care: within 24 hours".
    outcome_label: str
    blocking: bool
    support_score: int
    #: The highest support score the rules can give.
    support_max: int
    peg_score: float | None
    #: peg_p, peg_e, peg_g and pain_now.
    peg_items: tuple[Row, ...]
    #: Pregnancy, blood thinners, allergies and the local-anesthetic reaction.
    safety: tuple[Row, ...]
    #: Fired rules in the scorer's order: warnings (emergencies first), then support.
    rules: tuple[FiredRule, ...]
    #: Every answer, by staff group.
    groups: tuple[Group, ...]
    #: Name, date of birth, phone, email and best time to call: (label, words).
    contact: tuple[tuple[str, str], ...] = ()

    @property
    def warnings(self) -> tuple[FiredRule, ...]:
        return tuple(rule for rule in self.rules if not rule.support)

    @property
    def supports(self) -> tuple[FiredRule, ...]:
        return tuple(rule for rule in self.rules if rule.support)

    @property
    def seek_care(self) -> bool:
        return self.outcome == Outcome.SEEK_CARE

    @property
    def badge(self) -> str:
        """The badge's modifier: the outcome, or the care level when seeking care."""
        if self.seek_care and self.care_level:
            return f"seek_care_{self.care_level.lower()}"
        return self.outcome.lower()


def result_of(submission: Submission) -> tuple[str, str | None]:
    """The stored outcome and care level."""
    stored = submission.result or {}
    outcome = stored.get("outcome") or submission.outcome
    return outcome, stored.get("care_level", submission.care_level)


def staff_view(submission: Submission) -> StaffView:
    """Gather what the staff detail page shows of a submission, in words."""
    answers = submission.answers or {}
    stored = submission.result or {}
    outcome, care_level = result_of(submission)
    return StaffView(
        outcome=outcome,
        care_level=care_level,
        outcome_label=outcome_words(outcome, care_level),
        blocking=bool(
            stored.get("blocking_contraindication", submission.blocking_contraindication)
        ),
        support_score=stored.get("support_score", submission.support_score) or 0,
        support_max=support_max(),
        peg_score=stored.get("peg_score", submission.peg_score),
        peg_items=group_rows(answers, "pain"),
        safety=group_rows(answers, "safety", line_break="\n"),
        rules=fired_rules(submission),
        groups=answer_groups(answers),
        contact=contact_words(submission),
    )


# ------------------------------------------------------------------ the CSV

#: The CSV's fixed columns before the answers: (field name, label).
FIXED_COLUMNS = (
    ("reference", "Reference"),
    ("submitted_at", "Received"),
    ("clinic", "Clinic"),
    ("status", "Status"),
    ("assigned_to", "Assigned to"),
    ("outcome", "Outcome"),
    ("care_level", "Care level"),
    ("blocking_contraindication", "Blocking contraindication"),
    ("support_score", "Support score"),
    ("peg_score", "PEG score"),
    ("fired_rules", "Rules that fired"),
    ("ruleset_version", "Rule set version"),
    ("full_name", "Full name"),
    ("date_of_birth", "Date of birth"),
    ("phone", "Phone"),
    ("email", "Email"),
    ("best_time", "Best time to call"),
    ("language", "Language"),
)
#: Answer columns: age first, then every question in form order.
QUESTION_IDS = ("age", *(qid for qid in questionnaire.QUESTIONS if qid != "age"))
#: The CSV's time format: on the clinic's clock, a form every spreadsheet reads as a date.
CSV_TIME = "%Y-%m-%d %H:%M"


def csv_header(zone: str) -> tuple[list[str], list[str]]:
    """The CSV's two header rows: labels (for people), then field names and question ids."""
    labels = {
        "submitted_at": f"Received ({zone_name(zone)})",
        "support_score": f"Support score (of {support_max()})",
    }
    fields = [name for name, _ in FIXED_COLUMNS] + list(QUESTION_IDS)
    words = [labels.get(name, label) for name, label in FIXED_COLUMNS]
    words += [questionnaire.QUESTIONS[qid].staff_label for qid in QUESTION_IDS]
    return words, fields


def _csv_answer(qid: str, value: Any, words: bool) -> Any:
    if value is None:
        return None
    question = questionnaire.QUESTIONS[qid]
    if question.type == "text":
        return str(value)  # every line as typed
    if words:
        return answer_words(qid, value)
    if isinstance(value, list | tuple):
        return ";".join(str(v) for v in value)
    return value


def csv_values(submission: Submission, zone: str, words: bool = True) -> list[Any]:
    """One CSV row (before neutralising): words, or the stored codes when ``words`` is False.

    Times are on the clinic's clock (``zone``), whichever is chosen.
    """
    personal = submission.personal or {}
    answers = submission.answers or {}
    outcome, care_level = result_of(submission)
    best = personal.get("best_time")
    language = submission.language
    fixed = [
        submission.reference,
        local(submission.submitted_at, zone).strftime(CSV_TIME) if submission.submitted_at else "",
        submission.clinic.name if submission.clinic else "",
        status_words(submission.status) if words else submission.status,
        submission.assigned_to.username if submission.assigned_to else "",
        STAFF.outcomes.get(outcome, outcome) if words else outcome,
        care_level_words(care_level) if words else care_level,
        yes_no(submission.blocking_contraindication)
        if words
        else submission.blocking_contraindication,
        submission.support_score,
        submission.peg_score,
        ";".join(submission.fired_rules or ()),
        submission.ruleset_version,
        personal.get("full_name"),
        personal.get("dob"),
        personal.get("phone"),
        personal.get("email"),
        BEST_TIME_WORDS.get(best, best) if words and best else best,
        ENGLISH_NAMES.get(language, language) if words and language else language,
    ]
    return fixed + [_csv_answer(qid, answers.get(qid), words) for qid in QUESTION_IDS]
