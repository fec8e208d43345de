"""The rules for saving one page into a draft, as pure functions of the answers.

The view validates a page (forms.check_page) and stores the result (drafts.save); what
is kept in between is decided here, so it can be read and tested without a request.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from screening.patient.steps import Step
from screening.scoring import questionnaire


def primary_region(answers: Mapping[str, Any]) -> str | None:
    """The place that bothers the patient most, as far as the answers say.

    One place picked: that place (the "which bothers you most" page is skipped). Several:
    the one chosen, while it is still among them. None when not known yet.
    """
    regions = answers.get("regions") or []
    if len(regions) == 1:
        return regions[0]
    chosen = answers.get("primary_region")
    return chosen if chosen in regions else None


def merge_page(
    step: Step,
    answers: Mapping[str, Any],
    personal: Mapping[str, Any],
    page: Mapping[str, Any],
    page_personal: Mapping[str, Any],
    errors: Mapping[str, str],
    age: int | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Return the draft's answers and personal details with one page's values merged in.

    - Every valid answer is kept; where a field has an error, the saved answer stays (so
      a mistake on one question never loses the others).
    - An answer emptied on the page is removed.
    - ``age`` (from a valid date of birth) is stored with the answers the scorer reads.
    - The primary region follows the body map (:func:`primary_region`).
    - Answers to questions that no longer apply are dropped (a follow-up of a treatment
      unticked later, say), so the draft holds exactly what the patient can see.
    """
    merged = dict(answers)
    for qid, value in page.items():
        if qid in errors:
            continue
        if value is None:
            merged.pop(qid, None)
        else:
            merged[qid] = value
    if age is not None:
        merged["age"] = age
    if step.id == "where":
        primary = primary_region(merged)
        if primary is None:
            merged.pop("primary_region", None)
        else:
            merged["primary_region"] = primary
    details = {**personal, **{k: v for k, v in page_personal.items() if k not in errors}}
    return questionnaire.visible_answers(merged), details
