"""The questionnaire's questions, answer codes and "shown when" rules, read from data.

This module is the single source of truth for what may be asked and answered: the web
form builds its fields from :data:`QUESTIONS` and the scorer validates its input with
:func:`validate`. It is pure: no web framework, no clock, no I/O beyond reading
``questionnaire.toml`` once at import.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from screening.scoring import conditions
from screening.scoring.model import CareLevel, Effect, Outcome

DATA_FILE = Path(__file__).with_name("questionnaire.toml")

#: Answer types and the Python type each coded answer has.
TYPES = frozenset({"yes_no", "ynu", "single", "multi", "scale", "int", "text", "bool"})
CHOICE_TYPES = frozenset({"yes_no", "ynu", "single"})

#: Youngest age the form is for (README §2.1 rule 1).
MIN_AGE = 18


class QuestionnaireError(ValueError):
    """The questionnaire data file is not valid (every problem, each naming its question).

    :param problems: one message per problem.
    """

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("questionnaire data file: " + "; ".join(problems))


@dataclass(frozen=True)
class Option:
    code: str
    label: str


@dataclass(frozen=True)
class Region:
    code: str
    label: str
    #: ACR 2016 group ("AXIAL", "L-UPPER", ...) or None when not counted.
    acr_group: str | None
    #: Near the lung: pneumothorax caution.
    lung: bool
    #: A typical trigger point site.
    typical: bool


@dataclass(frozen=True)
class Question:
    id: str
    section: str
    type: str
    text: str
    options: tuple[Option, ...] = ()
    required: bool = False
    shown_when: Mapping[str, Any] | None = None
    max_length: int | None = None
    min: int | None = None
    max: int | None = None
    #: The option code that cannot be combined with others ("tx_none", ...).
    exclusive: str | None = None
    #: Valid answers are limited to the codes selected in this other question.
    choices_within: str | None = None
    #: What an unanswered optional question means ("not_sure" for tp_twitch).
    default: str | None = None
    #: Anchors of a 0-10 scale: (label at 0, label at 10).
    anchors: tuple[str, str] | None = None
    #: A validated instrument item whose published wording must not change.
    validated: bool = False
    #: A "yes" is a possible emergency (README §2.1 rule 2).
    emergency: bool = False
    #: For expanded per-treatment questions: the treatment code they ask about.
    about: str | None = None
    #: For expanded questions: the wording before the treatment was filled in
    #: ("{treatment}: how did it work for you?"), so it can be translated whole.
    text_template: str | None = field(default=None, compare=False)
    codes: frozenset[str] = field(default=frozenset(), compare=False)
    #: Short English label for staff pages, the print view, the PDF and the CSV.
    staff_label: str = field(default="", compare=False)
    #: The staff summary group the answer belongs to (an id of :attr:`StaffWords.groups`).
    staff_group: str = field(default="", compare=False)
    #: A positive answer is highlighted for staff (see :meth:`StaffWords.is_alert`).
    alert: bool = field(default=False, compare=False)
    #: When not empty, only these codes count as positive.
    alert_codes: frozenset[str] = field(default=frozenset(), compare=False)

    def label_for(self, code: str) -> str:
        """Return the patient wording of an option code (the code itself if unknown)."""
        for option in self.options:
            if option.code == code:
                return option.label
        return code


@dataclass(frozen=True)
class StaffWords:
    """The words staff read for results and answers (the ``[staff]`` table). English only."""

    #: Group id -> heading, in the order staff pages show the groups.
    groups: Mapping[str, str]
    #: Answer codes meaning none / no / does not apply / prefer not to say.
    none_codes: frozenset[str]
    #: Outcome, care level and rule effect code -> words.
    outcomes: Mapping[str, str]
    care_levels: Mapping[str, str]
    effects: Mapping[str, str]

    def is_alert(self, question: Question, value: Any) -> bool:
        """Return whether an answer is one staff must notice (highlighted).

        Never for a blank or an answer meaning none, no, does not apply or prefer not to
        say; for free text, any text at all.
        """
        if not question.alert or value is None or value is False:
            return False
        if question.type == "text":
            return bool(str(value).strip())
        codes = value if isinstance(value, list | tuple) else [value]
        wanted = question.alert_codes
        return any(
            (code in wanted) if wanted else (str(code) not in self.none_codes) for code in codes
        )


def _options(
    raw: dict[str, Any], data: dict[str, Any], regions: dict[str, Region]
) -> tuple[Option, ...]:
    if raw["type"] in ("yes_no", "ynu"):
        return tuple(Option(c, label) for c, label in data["answer_sets"][raw["type"]])
    if raw.get("options_from") == "regions":
        return tuple(Option(r.code, r.label) for r in regions.values())
    return tuple(Option(c, label) for c, label in raw.get("options", ()))


def _make(
    raw: dict[str, Any], options: tuple[Option, ...], problems: list[str], **overrides: Any
) -> Question:
    values = {
        "id": raw["id"],
        "section": raw["section"],
        "type": raw["type"],
        "text": raw["text"],
        "options": options,
        "required": raw.get("required", False),
        "shown_when": raw.get("shown_when"),
        "max_length": raw.get("max_length"),
        "min": raw.get("min", 0 if raw["type"] == "scale" else None),
        "max": raw.get("max", 10 if raw["type"] == "scale" else None),
        "exclusive": raw.get("exclusive"),
        "choices_within": raw.get("choices_within"),
        "default": raw.get("default"),
        "anchors": tuple(raw["anchors"]) if "anchors" in raw else None,
        "validated": raw.get("validated", False),
        "emergency": raw.get("emergency", False),
        "staff_label": raw.get("staff_label", ""),
        "staff_group": raw.get("staff_group", ""),
        "alert": raw.get("alert", False),
        "alert_codes": frozenset(raw.get("alert_codes", ())),
    }
    values.update(overrides)
    values["codes"] = frozenset(o.code for o in values["options"])
    # Checked here, while the value is still the data file's: a Question's alert is a bool.
    if not isinstance(values["alert"], bool):
        problems.append(f"{values['id']}: alert must be true or false")
    return Question(**values)


def _staff_words(data: dict[str, Any], problems: list[str]) -> StaffWords:
    raw = data.get("staff", {})
    groups = {str(pair[0]): str(pair[1]) for pair in raw.get("groups", ())}
    words = {}
    for key, members in (("outcomes", Outcome), ("care_levels", CareLevel), ("effects", Effect)):
        table = raw.get(key, {})
        missing = sorted({str(member) for member in members} - set(table))
        extra = sorted(set(table) - {str(member) for member in members})
        if missing or extra:
            problems.append(f"[staff.{key}] missing {missing}, unknown {extra}")
        words[key] = dict(table)
    return StaffWords(
        groups=groups,
        none_codes=frozenset(raw.get("none_codes", ())),
        outcomes=words["outcomes"],
        care_levels=words["care_levels"],
        effects=words["effects"],
    )


def _check_staff(questions: dict[str, Question], staff: StaffWords, problems: list[str]) -> None:
    """Every question has a staff label and group; alert codes and none codes exist."""
    for qid, question in questions.items():
        if not isinstance(question.staff_label, str) or not question.staff_label.strip():
            problems.append(f"{qid}: no staff_label")
        if question.staff_group not in staff.groups:
            problems.append(f"{qid}: staff_group {question.staff_group!r} is not a [staff] group")
        if question.alert_codes and (not question.alert or question.alert_codes - question.codes):
            problems.append(f"{qid}: alert_codes need alert = true and this question's codes")
    every_code = {code for question in questions.values() for code in question.codes}
    unknown = sorted(staff.none_codes - every_code)
    if unknown:
        problems.append(f"[staff] none_codes {unknown} are no question's codes")


def load(
    path: Path = DATA_FILE,
) -> tuple[dict[str, Question], dict[str, Region], dict[str, str], StaffWords]:
    """Read the questionnaire data file.

    :return: questions in form order, regions, section titles, and the staff words.
    :raise QuestionnaireError: if a question has no staff label or group, or the staff
        words are incomplete.
    """
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    regions = {
        r["code"]: Region(r["code"], r["label"], r["acr"] or None, r["lung"], r["typical"])
        for r in data["region"]
    }
    questions: dict[str, Question] = {}
    problems: list[str] = []
    for raw in data["question"]:
        options = _options(raw, data, regions)
        if "for_each" in raw:
            source = questions[raw["for_each"]["q"]]
            for option in source.options:
                if option.code in raw["for_each"]["except"]:
                    continue
                qid = raw["id"].format(code=option.code)
                questions[qid] = _make(
                    raw,
                    options,
                    problems,
                    id=qid,
                    text=raw["text"].format(treatment=option.label),
                    staff_label=raw.get("staff_label", "").format(treatment=option.label),
                    shown_when={"q": source.id, "op": "has", "value": option.code},
                    about=option.code,
                    text_template=raw["text"],
                )
        else:
            questions[raw["id"]] = _make(raw, options, problems)
    staff = _staff_words(data, problems)
    _check_staff(questions, staff, problems)
    if problems:
        raise QuestionnaireError(problems)
    return questions, regions, dict(data["sections"]), staff


QUESTIONS, REGIONS, SECTIONS, STAFF = load()
VERSION: str = tomllib.loads(DATA_FILE.read_text(encoding="utf-8"))["version"]
EMERGENCY_QUESTIONS = tuple(q.id for q in QUESTIONS.values() if q.emergency)


def is_shown(qid: str, answers: Mapping[str, Any]) -> bool:
    """Return whether question ``qid`` is asked, given the other answers."""
    cond = QUESTIONS[qid].shown_when
    return cond is None or conditions.evaluate(cond, answers)


def visible_answers(answers: Mapping[str, Any]) -> dict[str, Any]:
    """Return ``answers`` without answers to hidden questions or unknown ids.

    Hiding can cascade (unticking "Trigger point injections" hides ``tpi_relief``,
    which hides ``tpi_duration``), so this repeats until nothing changes.
    """
    current = {k: v for k, v in answers.items() if k in QUESTIONS}
    while True:
        kept = {k: v for k, v in current.items() if is_shown(k, current)}
        if kept == current:
            return kept
        current = kept


def value_problem(question: Question, value: Any, answers: Mapping[str, Any]) -> str | None:
    """Return why ``value`` is not a valid answer to ``question`` (None when valid).

    The reasons are short keys the web layer turns into messages: ``type``, ``choice``,
    ``exclusive``, ``duplicate``, ``empty``, ``range``, ``too_long``, ``characters``.
    """
    kind = question.type
    if kind in CHOICE_TYPES:
        if not isinstance(value, str):
            return "type"
        if value not in question.codes:
            return "choice"
        if question.choices_within is not None:
            within = answers.get(question.choices_within)
            if not isinstance(within, list | tuple) or value not in within:
                return "choice"
        return None
    if kind == "multi":
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            return "type"
        if not value:
            return "empty"
        if any(v not in question.codes for v in value):
            return "choice"
        if len(set(value)) != len(value):
            return "duplicate"
        if question.exclusive in value and len(value) > 1:
            return "exclusive"
        return None
    if kind in ("scale", "int"):
        if not isinstance(value, int) or isinstance(value, bool):
            return "type"
        if (
            question.min is None
            or question.max is None
            or not question.min <= value <= question.max
        ):
            return "range"
        return None
    if kind == "text":
        if not isinstance(value, str):
            return "type"
        if question.max_length is not None and len(value) > question.max_length:
            return "too_long"
        if any(ch == "\x00" or 0xD800 <= ord(ch) <= 0xDFFF for ch in value):
            return "characters"
        return None
    # bool: the consent box.
    return None if isinstance(value, bool) else "type"


def is_missing(question: Question, value: Any) -> bool:
    """Return whether a required ``question`` counts as unanswered."""
    if value is None:
        return True
    if question.type == "bool":
        return value is not True
    if question.type == "text":
        return isinstance(value, str) and not value.strip()
    return False


def validate(answers: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """Check a whole answer set.

    :param answers: question ids mapped to coded values (README §1).
    :return: ``(missing, invalid)`` question ids in form order; unknown ids are invalid
        and listed last. An age under 18 is invalid (README §2.1 rule 1).
    """
    missing: list[str] = []
    invalid: list[str] = []
    # Judge "shown" on the answers that are themselves shown: a stale answer to a hidden
    # question (tpi_relief after unticking injections) must not make another required.
    visible = visible_answers(answers)
    for qid, question in QUESTIONS.items():
        value = answers.get(qid)
        if not is_shown(qid, visible):
            continue
        if question.required and is_missing(question, value):
            missing.append(qid)
        elif value is not None and value_problem(question, value, answers):
            invalid.append(qid)
    age = answers.get("age")
    if (
        "age" not in invalid
        and isinstance(age, int)
        and not isinstance(age, bool)
        and age < MIN_AGE
    ):
        invalid.insert(0, "age")
    invalid.extend(sorted(k for k in answers if k not in QUESTIONS))
    return missing, invalid
