"""Answer sets for tests: the spec's baseline "B" (section 4) and helpers."""

from __future__ import annotations

from datetime import date
from typing import Any

# Baseline answer set B of spec section 4, in the scorer's format. Its one copy is the
# clinical data of the acceptance vignettes (tests/scoring/cases/vignettes.toml), which
# screening/scoring/README.md §6 describes; the tests here use that copy.
from tests.scoring.support import BASELINE

CONTACT = {
    "full_name": "Alex Example",
    "phone": "555 123 4567",
    "email": "alex@example.com",
    "best_time": "morning",
}


def answers(**overrides: Any) -> dict[str, Any]:
    """Return baseline B with ``overrides`` applied (a value of None removes the answer)."""
    result = {**BASELINE, **overrides}
    return {k: v for k, v in result.items() if v is not None}


def send_directly(
    app,
    given: dict[str, Any] | None = None,
    contact: dict[str, Any] | None = None,
    clinic: str | None = None,
    language: str = "en",
):
    """A patient sends ``given`` (baseline B by default): the stored submission, no HTTP.

    The questionnaire's own code does the work, as for a patient in a browser: every page
    that applies is checked by its form (``forms.check_page``) and merged into a draft
    (``saving.merge_page``, ``drafts.save``), then ``submissions.submit`` makes the
    submission. What it leaves out is the HTTP around it (page rendering, CSRF, rate
    limits): ``tests/test_factories.py`` walks the same form over HTTP once and checks
    both store the same thing. ``clinic`` is the one chosen when several are active.
    Returns the submission, detached from any session (its columns loaded).
    """
    from sqlalchemy import select
    from werkzeug.datastructures import MultiDict

    from screening.extensions import db
    from screening.models import Clinic
    from screening.patient import drafts, forms, saving, steps, views
    from screening.submissions import submit
    from tests.patient_client import clinic_today, page_data

    given = answers() if given is None else given
    contact = CONTACT if contact is None else contact
    today = clinic_today(app)
    with app.app_context():
        clinic_ids = tuple(c.id for c in views.clinic_choices())
        chosen = (
            db.session.scalar(select(Clinic.id).where(Clinic.name == clinic)) if clinic else None
        )
        draft, _token = drafts.create()
        for step in steps.STEPS:
            if not step.applies(given):
                continue
            data = page_data(step, given, today, contact)
            if step.personal == forms.DOB_FIELDS and chosen is not None:
                data["clinic"] = str(chosen)
            with app.test_request_context(f"/step/{step.id}", method="POST", data=MultiDict(data)):
                form = forms.form_class(step)()
                ids = clinic_ids if step.personal == forms.DOB_FIELDS else ()
                page, personal, errors = forms.check_page(form, draft.answers, today, ids)
                assert not errors, (step.id, errors)
                age = None
                if step.personal == forms.DOB_FIELDS:
                    age = forms.age_on(date.fromisoformat(personal["dob"]), today)
                merged, details = saving.merge_page(
                    step, draft.answers, draft.personal, page, personal, errors, age
                )
                drafts.save(draft, merged, details, step.id)
        submission = submit(draft, True, today, clinic_ids, language)
        db.session.refresh(submission)
        db.session.expunge(submission)
        return submission
