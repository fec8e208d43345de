"""The "check your answers" page's content: every asked question with its answer in words.

Kept apart from the views so it is a function of the answers alone (no request), in the
patient's language.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from flask_babel import gettext as _

from screening import i18n
from screening.patient import forms, steps
from screening.patient.steps import DOB_FIELDS
from screening.scoring import questionnaire


def sections(answers: dict[str, Any], personal: dict[str, Any]) -> list[dict[str, Any]]:
    """Group every asked question with its answer in plain words, page by page."""
    found = []
    for step in steps.applicable(answers):
        rows = []
        if step.personal == DOB_FIELDS:
            rows.append(
                {
                    "id": "dob",
                    "label": _("Date of birth"),
                    "value": _format_dob(personal.get("dob")),
                }
            )
        for qid in step.shown_questions(answers):
            question = questionnaire.QUESTIONS[qid]
            rows.append(
                {
                    "id": qid,
                    "label": i18n.question_text(question),
                    "value": plain_answer(question, answers.get(qid)),
                }
            )
        if step.personal == steps.CONTACT_FIELDS:
            best = dict(forms.BEST_TIMES).get(personal.get("best_time") or "")
            for name, label, value in (
                ("full_name", _("Full name"), personal.get("full_name")),
                ("phone", _("Phone number"), personal.get("phone")),
                ("email", _("Email address"), personal.get("email")),
                ("best_time", _("Best time to call"), best and i18n.translate(best)),
            ):
                rows.append({"id": name, "label": label, "value": value})
        found.append({"step": step, "rows": rows})
    return found


def _format_dob(iso: str | None) -> str | None:
    if not iso:
        return None
    return i18n.long_date(date.fromisoformat(iso))


def plain_answer(question: questionnaire.Question, value: Any) -> str | list[str] | None:
    """Return an answer in the patient's words (None when not answered)."""
    if value is None:
        return None
    if question.type == "multi":
        return [i18n.translate(question.label_for(code)) for code in value]
    if question.type in questionnaire.CHOICE_TYPES:
        return i18n.translate(question.label_for(value))
    if question.type == "bool":
        return _("Yes") if value else _("No")
    return str(value)
