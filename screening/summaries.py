"""The clinician's one-page summary of a submission: print view, PDF and batch PDF.

A pure function of a stored submission, like :mod:`screening.results` for the patient.
:func:`build_summary` gathers what the page shows, most important first; the template
``templates/print/summary.html`` lays it out. Every answer is in plain words with its
question id (spec 1.0 rule 8), and a question that was asked but left blank reads
:data:`NOT_ANSWERED`, never "No".

.. code-block:: python

    summary = build_summary(submission, timezone=current_app.config["CLINIC_TIMEZONE"])
    html = render_template("print/summary.html", summary=summary, paper="letter", pdf=True)
    data = render_pdf(html, stylesheets=STYLESHEETS)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from screening.i18n import ENGLISH_NAMES
from screening.models import Submission
from screening.scoring import Effect, load_ruleset, question_text, questionnaire

#: What a blank prints as (spec: blanks print "Not answered", never "No").
NOT_ANSWERED = "Not answered"
#: The stylesheets ``render_pdf`` needs for the summary and the batch, from ``static/``.
STYLESHEETS = ("css/summary.css", "css/bodymap.css")
#: What a line break in free text prints as.
LINE_BREAK = " | "
#: Characters of free text above which the page uses smaller, then smallest, type.
DENSE_AFTER = 1200
DENSER_AFTER = 2500
#: Paper sizes the template knows; anything else prints on US Letter.
PAPERS = ("letter", "a4")

#: Fired rules that go in the box at the top: everything but support points.
WARNING_EFFECTS = frozenset(
    {
        Effect.EMERGENCY,
        Effect.PROMPT,
        Effect.AGAINST,
        Effect.ABSOLUTE,
        Effect.RELATIVE,
        Effect.CONCERN,
        Effect.PRECAUTION,
    }
)

OUTCOME_LABELS = {
    "SEEK_CARE": "Seek care",
    "NOT_A_FIT": "Not a fit",
    "DISCUSS_WITH_CONCERNS": "Discuss, with concerns",
    "DISCUSS": "Discuss",
}
CARE_LEVEL_LABELS = {"EMERGENCY": "emergency now", "PROMPT": "within 24 hours"}
BEST_TIMES = {
    "morning": "Morning (8 am to 12 pm)",
    "afternoon": "Afternoon (12 pm to 5 pm)",
    "evening": "Early evening (5 pm to 7 pm)",
    "any_time": "Any time",
}

#: Short staff labels; the patient wording is too long for one page.
LABELS = {
    "preg": "Pregnant",
    "breastfeed": "Breastfeeding",
    "dur": "Duration",
    "onset": "Onset",
    "trend": "Trend (past month)",
    "peg_p": "Pain, average past week",
    "peg_e": "Interferes with enjoyment",
    "peg_g": "Interferes with activity",
    "pain_now": "Pain right now",
    "regions": "Regions",
    "primary_region": "Primary region",
    "other_location": "Other location (free text)",
    "tp_knot": "Knot or taut band",
    "tp_spot": "Hypersensitive spot",
    "tp_referred": "Referred pain on pressure",
    "tp_familiar": "Pressure reproduces usual pain",
    "tp_twitch": "Twitch seen",
    "rom_limited": "Movement limited",
    "quality": "Quality",
    "radiating_limb": "Radiates past knee/into hand + paraesthesia",
    "joint_swelling": "Joint swollen, red or warm",
    "night_pain": "Night/rest pain, no relief",
    "triggers": "Brought on by",
    "triggers_other": "Other trigger (free text)",
    "pt_weeks": "Physical therapy duration",
    "tpi_last": "Last TPI",
    "tpi_sessions_12m": "TPI visits, last 12 months",
    "tpi_relief": "TPI relief",
    "tpi_duration": "Relief lasted",
    "tpi_problems": "Problems after TPI",
    "tpi_problems_other": "TPI problem (free text)",
    "steroid_inj_3m": "Steroid injection, last 3 months",
    "bt": "Blood thinners",
    "bt_other_text": "Other blood thinner (free text)",
    "nsaid_regular": "NSAID most days",
    "supplements": "Fish oil, vit. E, ginkgo, garlic, turmeric",
    "oral_steroid_3m": "Oral steroid, last 3 months",
    "immuno_meds": "Immunosuppressant medicine",
    "diabetes": "Diabetes",
    "med_list": "Medicine list (free text)",
    "allergy": "Allergies / reactions",
    "allergy_other": "Other allergy (free text)",
    "la_reaction": "Reaction to local anaesthetic",
    "la_reaction_other": "LA reaction (free text)",
    "bleed_dx": "Bleeding disorder diagnosed",
    "bruise_easy": "Bruises or bleeds easily",
    "cancer_hx": "Cancer history",
    "osteoporosis": "Osteoporosis",
    "immuno_condition": "Immunosuppressing condition",
    "fm_dx": "Fibromyalgia diagnosed",
    "ivdu": "Injected non-prescribed drugs, past year",
    "other_conditions": "Other health problems (free text)",
    "fever_2w": "Fever or chills, last 2 weeks",
    "unwell_now": "Feels sick now",
    "antibiotics_now": "On antibiotics now",
    "skin_at_site": "Skin lesion at pain site",
    "needle_feeling": "Needles",
    "fainted_needle": "Fainted with needles before",
    "injury_6w": "Injury, last 6 weeks",
    "rf_bladder": "Urinary retention/incontinence",
    "rf_bowel": "Faecal incontinence",
    "rf_saddle": "Saddle numbness",
    "rf_limb_weak": "New/worsening limb weakness",
    "rf_gait_hands": "Gait/balance or clumsy hands",
    "rf_weight": "Unintended weight loss > 10 lb",
    "rf_chest": "Chest pain / dyspnoea / ACS symptoms",
    "rf_stroke": "Stroke symptoms",
    "rf_thunderclap": "Thunderclap headache",
    "rf_fever_neck": "Headache, fever, stiff neck",
    "rf_leg_swelling": "Swollen, hot, painful limb",
    "ha_new": "New or changed headache",
    "ha_gca": "Scalp soreness, jaw claudication, vision change",
    "goals": "Goals",
    "questions_free": "Questions for the clinician",
}

PATTERN_IDS = (
    "quality",
    "triggers",
    "triggers_other",
    "tp_knot",
    "tp_spot",
    "tp_referred",
    "tp_familiar",
    "tp_twitch",
    "rom_limited",
    "radiating_limb",
    "joint_swelling",
    "night_pain",
)
TPI_IDS = (
    "tpi_last",
    "tpi_sessions_12m",
    "tpi_relief",
    "tpi_duration",
    "tpi_problems",
    "tpi_problems_other",
)
MEDICINE_IDS = (
    "nsaid_regular",
    "supplements",
    "oral_steroid_3m",
    "steroid_inj_3m",
    "immuno_meds",
    "diabetes",
)
HISTORY_IDS = (
    "bleed_dx",
    "bruise_easy",
    "cancer_hx",
    "osteoporosis",
    "immuno_condition",
    "fm_dx",
    "ivdu",
    "fever_2w",
    "unwell_now",
    "antibiotics_now",
    "skin_at_site",
    "injury_6w",
    "needle_feeling",
    "fainted_needle",
    "ha_new",
    "ha_gca",
)


@dataclass(frozen=True)
class Row:
    """One answer: question id, short staff label, plain words, and whether to highlight."""

    id: str
    label: str
    value: str
    #: Printed in bold on a tinted background: a safety-relevant positive answer.
    flag: bool = False

    @property
    def blank(self) -> bool:
        return self.value == NOT_ANSWERED

    @property
    def free(self) -> bool:
        """Free text: never scored; staff scan it (spec 1.0 rule 6)."""
        return self.id in FREE_TEXT


@dataclass(frozen=True)
class FiredRule:
    """A fired rule that is not a support point: red flag, contraindication or note."""

    id: str
    effect: str
    note: str
    sources: tuple[str, ...]


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


#: The standard questions every patient is given (spec 3), in a few words each: the
#: page prints the triggered questions in full and these as one line.
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
    outcome_label: str
    care_level: str | None
    blocking: bool
    support_score: int
    #: Fired non-support rules, in the scorer's order (emergencies first).
    warnings: tuple[FiredRule, ...]
    #: Blood thinners, allergies and the local-anaesthetic reaction, pregnancy and
    #: breastfeeding: always shown at the top, highlighted when not "none"/"no".
    safety: tuple[Row, ...]
    #: Warning-sign questions answered "yes" (rf_*, and headache items).
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
    #: pt_weeks and the prior TPI details, when asked.
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

    @property
    def seek_care(self) -> bool:
        return self.outcome == "SEEK_CARE"

    @property
    def emergency(self) -> bool:
        return self.care_level == "EMERGENCY"

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
    def free_text_length(self) -> int:
        """Characters of free text on the page."""
        rows = (*self.regions, *self.pattern, *self.treatment_details, *self.medicines)
        rows += (*self.history, *self.own_words, *self.safety)
        return sum(len(r.value) for r in rows if r.free and not r.blank)

    @property
    def density(self) -> str:
        """Type size step so long free text still fits on one page: "", "dense", "denser"."""
        length = self.free_text_length
        return "denser" if length > DENSER_AFTER else "dense" if length > DENSE_AFTER else ""


#: Free-text questions: never scored, scanned by staff (spec 1.0 rule 6).
FREE_TEXT = frozenset(
    qid for qid, question in questionnaire.QUESTIONS.items() if question.type == "text"
)


def _words(qid: str, value: Any) -> str | None:
    """Return a stored answer in plain words, or None when there is none."""
    if value is None or value == "" or value == []:
        return None
    question = questionnaire.QUESTIONS[qid]
    if question.type == "multi":
        return "; ".join(question.label_for(code) for code in value)
    if question.type in questionnaire.CHOICE_TYPES:
        return question.label_for(value)
    if question.type == "bool":
        return "Yes" if value else "No"
    # Free text keeps every word; its lines run on with a visible mark to save paper.
    lines = [line.strip() for line in str(value).splitlines() if line.strip()]
    return LINE_BREAK.join(lines) or None


def _row(
    answers: Mapping[str, Any], qid: str, flag: bool = False, always: bool = False
) -> Row | None:
    """Return the row of one question, or None when it was not asked.

    :param always: show the row even when the question was hidden (as "Not answered").
    """
    if not always and not questionnaire.is_shown(qid, answers):
        return None
    raw = answers.get(qid)
    value = _words(qid, raw)
    return Row(qid, LABELS.get(qid, qid), value or NOT_ANSWERED, flag and _positive(raw))


#: Answer codes that never need highlighting.
NEGATIVE = frozenset(
    {"no", "none", "not_applicable", "prefer_not", "ok", "nervous"}
    | {"alg_none", "bt_none", "tx_none", "trig_none"}
)


def _positive(value: Any) -> bool:
    """Return whether an answer says something staff must notice (not "no", "none", blank)."""
    if value is None or value == "" or value is False:
        return False
    if isinstance(value, list | tuple):
        return any(code not in NEGATIVE for code in value)
    return str(value) not in NEGATIVE


def _rows(answers: Mapping[str, Any], qids: tuple[str, ...], flags=frozenset()) -> tuple[Row, ...]:
    rows = (_row(answers, qid, flag=qid in flags) for qid in qids)
    return tuple(row for row in rows if row is not None)


def _safety(answers: Mapping[str, Any]) -> tuple[Row, ...]:
    rows = [
        _row(answers, "bt", flag=True, always=True),
        _row(answers, "bt_other_text", flag=True),
        _row(answers, "allergy", flag=True, always=True),
        _row(answers, "la_reaction", flag=True),
        _row(answers, "la_reaction_other", flag=True),
        _row(answers, "allergy_other", flag=True),
        _row(answers, "preg", flag=True, always=True),
        _row(answers, "breastfeed", flag=True, always=True),
    ]
    return tuple(row for row in rows if row is not None)


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
            relief = _words("tpi_relief", answers.get("tpi_relief"))
            effect = f"Relief: {relief}" if relief else NOT_ANSWERED
            found.append(Treatment(code, label, effect))
            continue
        effect_id = f"{code}_effect"
        effect = (
            _words(effect_id, answers.get(effect_id))
            if effect_id in questionnaire.QUESTIONS
            else None
        )
        detail = ""
        if code == "tx_pt":
            weeks = _words("pt_weeks", answers.get("pt_weeks"))
            detail = f"for {(weeks or NOT_ANSWERED).lower()}"
        found.append(Treatment(code, label, effect or NOT_ANSWERED, detail))
    if not found:
        found.append(Treatment("tx", NOT_ANSWERED, ""))
    return tuple(found)


def _dob(personal: Mapping[str, Any]) -> str:
    raw = personal.get("dob")
    if not raw:
        return NOT_ANSWERED
    born = date.fromisoformat(raw)
    return f"{born.day} {born.strftime('%b')} {born.year}"


def _submitted(moment: datetime | None, timezone: str) -> str:
    if moment is None:
        return NOT_ANSWERED
    local = moment.astimezone(ZoneInfo(timezone))
    return f"{local.day} {local.strftime('%b %Y, %H:%M')} ({local.tzname()})"


def _text(value: Any) -> str:
    return str(value).strip() if value not in (None, "") else NOT_ANSWERED


def build_summary(submission: Submission, timezone: str = "America/New_York") -> ClinicianSummary:
    """Gather a stored submission's clinician summary.

    Fired rules, notes and questions come from the stored result, so the page says what
    the rule set version printed on it decided; sources come from the loaded rule file.

    :param submission: a submission with its stored result (it need not be saved).
    :param timezone: the clinic's time zone (``CLINIC_TIMEZONE``) for the submitted date.
    """
    answers = submission.answers or {}
    personal = submission.personal or {}
    stored = submission.result or {}
    rules = load_ruleset().by_id
    fired = list(stored.get("fired_rules") or submission.fired_rules or ())
    notes = list(stored.get("clinician_notes") or ())
    warnings = []
    support = []
    for index, rule_id in enumerate(fired):
        rule = rules.get(rule_id)
        if rule is not None and rule.effect is Effect.SUPPORT:
            support.append(rule_id)
            continue
        note = notes[index] if index < len(notes) else (rule.clinician_note if rule else "")
        warnings.append(
            FiredRule(
                id=rule_id,
                effect=str(rule.effect) if rule else "RULE",
                note=note,
                sources=rule.sources if rule else (),
            )
        )
    red_flags = tuple(
        Row(qid, LABELS.get(qid, qid), "Yes", True)
        for qid in questionnaire.QUESTIONS
        if (qid.startswith("rf_") or qid in ("ha_new", "ha_gca")) and answers.get(qid) == "yes"
    )
    regions = tuple(answers.get("regions") or ())
    outcome = stored.get("outcome") or submission.outcome
    care_level = stored.get("care_level", submission.care_level)
    label = OUTCOME_LABELS.get(outcome, outcome)
    if outcome == "SEEK_CARE" and care_level:
        label = f"{label}: {CARE_LEVEL_LABELS.get(care_level, care_level)}"
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
        dob=_dob(personal),
        age=_text(answers.get("age")),
        phone=_text(personal.get("phone")),
        best_time=BEST_TIMES.get(personal.get("best_time") or "", NOT_ANSWERED),
        email=_text(personal.get("email")),
        clinic=clinic.name if clinic is not None else "Not chosen",
        submitted=_submitted(submission.submitted_at, timezone),
        language=ENGLISH_NAMES.get(submission.language or "en", submission.language),
        outcome=outcome,
        outcome_label=label,
        care_level=care_level,
        blocking=bool(
            stored.get("blocking_contraindication", submission.blocking_contraindication)
        ),
        support_score=stored.get("support_score", submission.support_score) or 0,
        warnings=tuple(warnings),
        safety=_safety(answers),
        red_flag_answers=red_flags,
        support_rules=tuple(support),
        peg_score=stored.get("peg_score", submission.peg_score),
        peg_items=_rows(answers, ("peg_p", "peg_e", "peg_g", "pain_now")),
        region_codes=regions,
        primary_region_code=answers.get("primary_region"),
        regions=_rows(answers, ("regions", "primary_region", "other_location")),
        course=_rows(answers, ("dur", "onset", "trend")),
        pattern=_rows(
            answers,
            PATTERN_IDS,
            flags=frozenset({"radiating_limb", "joint_swelling", "night_pain"}),
        ),
        treatments=_treatments(answers),
        treatment_details=_rows(answers, TPI_IDS, flags=frozenset({"tpi_problems_other"})),
        medicines=_rows(
            answers,
            (*MEDICINE_IDS, "med_list"),
            flags=frozenset(MEDICINE_IDS),
        ),
        history=_rows(answers, (*HISTORY_IDS, "other_conditions"), flags=frozenset(HISTORY_IDS)),
        own_words=_rows(answers, ("goals", "questions_free")),
        questions=questions,
        questions_for_later=outcome == "SEEK_CARE",
        ruleset_version=submission.ruleset_version or stored.get("ruleset_version") or "",
        questionnaire_version=submission.questionnaire_version or "",
    )
