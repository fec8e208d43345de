"""One WTForms form per questionnaire page, built from the question data.

Field names are the question ids and option values the answer codes of questionnaire.toml, so an
answer flows unchanged from the form to the draft, the submission and the scorer.
Validation uses the same rules as the scorer (:func:`questionnaire.value_problem`) and
turns each problem into a message a patient can act on.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from functools import cache
from typing import Any

from flask_babel import gettext as _
from wtforms import (
    BooleanField,
    Field,
    RadioField,
    SelectChoice,
    SelectMultipleField,
    StringField,
    TextAreaField,
)

from screening.i18n import N_, Form, translate
from screening.patient.steps import CONTACT_FIELDS, DOB_FIELDS, Step
from screening.scoring import questionnaire
from screening.scoring.questionnaire import Question

#: Contact page: when to call (code, label).
BEST_TIMES = (
    ("morning", N_("Morning (8 am to 12 pm)")),
    ("afternoon", N_("Afternoon (12 pm to 5 pm)")),
    ("evening", N_("Early evening (5 pm to 7 pm)")),
    ("any_time", N_("Any time")),
)
PERSONAL_LIMITS = {"full_name": 100, "phone": 30, "email": 254}
PHONE_RE = re.compile(r"^[0-9+()\-. ]{7,30}$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
#: Plain ASCII digits only: str.isdigit() also accepts "²" and "①", which int() refuses.
DIGITS_RE = re.compile(r"[0-9]{1,6}")
BAD_CHARS_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff]")


class AnswerForm(Form):
    """Base of every page's form; subclasses add one field per question."""

    #: Filled by :func:`form_for`.
    step: Step


def _choices(pairs) -> list[SelectChoice]:
    return [SelectChoice(code, label) for code, label in pairs]


def _field_for(question: Question) -> Field:
    # validate_choice=False: the codes are checked by the shared rules in check_page,
    # which give messages a patient can act on.
    kind = question.type
    options = _choices((o.code, o.label) for o in question.options)
    if kind in questionnaire.CHOICE_TYPES:
        return RadioField(choices=options, validate_choice=False)
    if kind == "scale":
        return RadioField(
            choices=_choices((str(n), str(n)) for n in range(11)), validate_choice=False
        )
    if kind == "multi":
        return SelectMultipleField(choices=options, validate_choice=False)
    if kind == "bool":
        return BooleanField()
    if (question.max_length or 0) > 200:
        return TextAreaField()
    return StringField()


@cache
def form_class(step: Step) -> type[AnswerForm]:
    """Return the form class of a page (built once)."""
    fields: dict[str, Any] = {"step": step}
    for qid in step.questions:
        fields[qid] = _field_for(questionnaire.QUESTIONS[qid])
    for name in DOB_FIELDS:
        if name in step.personal:
            fields[name] = StringField()
    if step.personal == DOB_FIELDS:
        # Choices are the clinics at request time (see check_page).
        fields["clinic"] = RadioField(choices=[], validate_choice=False)
    if "full_name" in step.personal:
        fields["full_name"] = StringField()
        fields["phone"] = StringField()
        fields["email"] = StringField()
        fields["best_time"] = RadioField(choices=_choices(BEST_TIMES), validate_choice=False)
    return type(f"{step.id.title().replace('-', '')}Form", (AnswerForm,), fields)


class ConsentForm(Form):
    consent = BooleanField()


def allowed_fields(step: Step) -> set[str]:
    """Return the names a POST to this page may carry."""
    extra = {"clinic"} if step.personal == DOB_FIELDS else set()
    return {*step.questions, *step.personal, *extra, "csrf_token", "action"}


def initial_data(step: Step, answers: Mapping[str, Any], personal: Mapping[str, Any]) -> dict:
    """Turn saved answers into form data for showing a page again."""
    data: dict[str, Any] = {}
    for qid in step.questions:
        value = answers.get(qid)
        data[qid] = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    if step.personal == DOB_FIELDS and personal.get("dob"):
        year, month, day = personal["dob"].split("-")
        data.update(dob_day=str(int(day)), dob_month=str(int(month)), dob_year=year)
    if step.personal == DOB_FIELDS and personal.get("clinic_id"):
        data["clinic"] = str(personal["clinic_id"])
    for name in CONTACT_FIELDS:
        if name in step.personal:
            data[name] = personal.get(name)
    return data


def coded_value(question: Question, field: Field) -> Any:
    """Return a field's answer in the scorer's format, or None when unanswered."""
    data = field.data
    if question.type == "bool":
        return bool(data)
    if question.type == "multi":
        return list(data) if data else None
    if data is None:
        return None
    text = str(data).replace("\r\n", "\n").strip()
    if not text:
        return None
    if question.type in ("scale", "int"):
        return int(text) if DIGITS_RE.fullmatch(text) else text
    return text


def _required_message(question: Question) -> str:
    if question.type == "yes_no":
        return _("Select yes or no.")
    if question.type == "scale":
        return _("Select a number from 0 to 10.")
    if question.type == "multi":
        return _("Select at least one answer.")
    if question.type == "text":
        return _("Enter an answer, or go back and change the answer above.")
    if question.type == "bool":
        return _("Check the box to show you understand.")
    return _("Select an answer.")


def problem_message(question: Question, problem: str, value: Any) -> str:
    """Return the patient-facing message for a validation problem."""
    if problem == "exclusive":
        label = translate(question.label_for(question.exclusive or ""))
        return _(
            "You picked “%(label)s” and another answer. "
            "Pick “%(label)s” on its own, or uncheck it.",
            label=label,
        )
    if problem == "too_long":
        return too_long(question.max_length or 0, len(value))
    if problem == "characters":
        return _("Your answer has characters we cannot save. Please type it again.")
    if question.type == "scale":
        return _("Select a number from 0 to 10.")
    return _("Select one of the answers shown.")


def _dob(form: AnswerForm, today: date) -> tuple[str | None, str | None]:
    """Return (ISO date of birth, error message) from the three date fields."""
    parts = [(form[name].data or "").strip() for name in DOB_FIELDS]
    if not any(parts):
        return None, _("Enter your date of birth.")
    if not all(DIGITS_RE.fullmatch(p) for p in parts):
        return None, _("Date of birth must be numbers only, for example 6 15 1980.")
    day, month, year = (int(p) for p in parts)
    if len(parts[2]) != 4:
        return None, _("Year must have 4 numbers, for example 1980.")
    if month > 12 and 1 <= day <= 12:
        # 15 6 1980 typed day first: say which box is which rather than "not a real date".
        return None, _("Put the month first, then the day. For example, 6 15 1980 for June 15.")
    try:
        born = date(year, month, day)
    except (ValueError, OverflowError):
        return None, _("Date of birth must be a real date.")
    if born > today:
        return None, _("Date of birth must be in the past.")
    if age_on(born, today) > 120:
        return None, _("Check the year of your date of birth.")
    return born.isoformat(), None


def age_on(born: date, today: date) -> int:
    """Return the age in whole years on ``today``."""
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def _text_problem(value: str, limit: int) -> str | None:
    if BAD_CHARS_RE.search(value):
        return _("Your answer has characters we cannot save. Please type it again.")
    if len(value) > limit:
        return too_long(limit, len(value))
    return None


def too_long(limit: int, used: int) -> str:
    return _("Use %(limit)d characters or fewer. You have used %(used)d.", limit=limit, used=used)


def _contact(form: AnswerForm) -> tuple[dict[str, Any], dict[str, str]]:
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for name, limit in PERSONAL_LIMITS.items():
        raw = (form[name].data or "").strip()
        values[name] = raw or None
        if raw and (problem := _text_problem(raw, limit)):
            errors[name] = problem
    if not values["full_name"]:
        errors["full_name"] = _("Enter your full name.")
    if not values["phone"]:
        errors["phone"] = _("Enter a phone number we can call you on.")
    elif "phone" not in errors and not PHONE_RE.match(values["phone"]):
        errors["phone"] = _("Enter a phone number using numbers, like 555 123 4567.")
    if values["email"] and "email" not in errors and not EMAIL_RE.match(values["email"]):
        errors["email"] = _("Enter an email address like name@example.com, or leave it empty.")
    best = form["best_time"].data
    values["best_time"] = best or None
    if best not in dict(BEST_TIMES):
        errors["best_time"] = _("Select the best time to call you.")
    return values, errors


def check_page(
    form: AnswerForm, answers: Mapping[str, Any], today: date, clinic_ids: tuple[int, ...] = ()
) -> tuple[dict[str, Any], dict[str, Any], dict[str, str]]:
    """Validate one page against the answers saved so far.

    :param clinic_ids: clinics a patient may choose; asked only when there are two or more.
    :return: ``(answers, personal, errors)``: the page's answers in the scorer's format
        (None for unanswered or hidden), its personal values, and a message per field
        name. Hidden questions get no error and a None value, so their stale answers
        are cleared when saved.
    """
    step = form.step
    page: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for qid in step.questions:
        page[qid] = coded_value(questionnaire.QUESTIONS[qid], form[qid])
    merged = {k: v for k, v in {**answers, **page}.items() if v is not None}
    personal: dict[str, Any] = {}
    if step.personal == DOB_FIELDS:
        personal["dob"], error = _dob(form, today)
        if error:
            errors["dob"] = error
        else:
            merged["age"] = age_on(date.fromisoformat(personal["dob"]), today)
        if len(clinic_ids) > 1:
            chosen = form["clinic"].data or ""
            if DIGITS_RE.fullmatch(chosen) and int(chosen) in clinic_ids:
                personal["clinic_id"] = int(chosen)
            else:
                errors["clinic"] = _("Select the clinic you want to go to.")
    elif step.personal == CONTACT_FIELDS:
        personal, errors = _contact(form)
    for qid in step.questions:
        question = questionnaire.QUESTIONS[qid]
        if not questionnaire.is_shown(qid, merged):
            page[qid] = None
            continue
        value = page[qid]
        if value is None or questionnaire.is_missing(question, value):
            if question.required:
                errors[qid] = _required_message(question)
            continue
        problem = questionnaire.value_problem(question, value, merged)
        if problem:
            errors[qid] = problem_message(question, problem, value)
    return page, personal, errors
