"""Turning a finished draft into exactly one submission."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from screening import search_index  # noqa: F401  (indexes a new submission's name and phone)
from screening.extensions import db
from screening.models import Draft, Submission, readable_code
from screening.patient.forms import age_on
from screening.scoring import (
    CareLevel,
    Outcome,
    ScoringInputError,
    ScoringResult,
    questionnaire,
    score,
)


class NotReady(ValueError):
    """The draft still lacks answers; ``missing`` and ``invalid`` say which."""

    def __init__(self, missing: list[str], invalid: list[str]) -> None:
        super().__init__(f"missing={missing} invalid={invalid}")
        self.missing = missing
        self.invalid = invalid


def apply_result(submission: Submission, result: ScoringResult) -> None:
    """Copy a scorer's result onto a submission."""
    data = result.to_dict()
    submission.outcome = data["outcome"]
    submission.care_level = data["care_level"]
    submission.blocking_contraindication = data["blocking_contraindication"]
    submission.support_score = data["support_score"]
    submission.peg_score = data["peg_score"]
    submission.fired_rules = data["fired_rules"]
    submission.questions = data["questions"]
    submission.ruleset_version = result.ruleset_version
    submission.result = data
    submission.urgency = urgency(data["outcome"], data["care_level"])


def urgency(outcome: str, care_level: str | None) -> int:
    """Queue order: 0 emergency, 1 prompt (both SEEK_CARE), 2 everything else."""
    if outcome != Outcome.SEEK_CARE:
        return 2
    return 0 if care_level == CareLevel.EMERGENCY else 1


def final_answers(draft: Draft, consent: bool, today: date) -> dict:
    """Return the answers to store: visible ones only, age as on the day of submission."""
    answers = questionnaire.visible_answers({**draft.answers, "consent": consent})
    if draft.personal.get("dob"):
        answers["age"] = age_on(date.fromisoformat(draft.personal["dob"]), today)
    return answers


def submit(
    draft: Draft,
    consent: bool,
    today: date,
    clinic_ids: tuple[int, ...] = (),
    language: str = "en",
) -> Submission:
    """Create the draft's submission, or return the one it already made; commits (its
    own unit of work: a colliding reference code is rolled back and drawn again).

    Safe against double clicks, reloads and replayed or concurrent posts: the draft's
    key is a UNIQUE column on the submission, so a second insert fails and the
    first row is returned instead.

    :param clinic_ids: the active clinics. With one, it receives the submission; with
        several, the patient's choice must be one of them; with none, nothing is sent.
    :param language: the language the patient answered in (shown to staff).
    :raise NotReady: when an answer is missing or invalid.
    """
    if draft.submission_id is not None:
        # The key is set to NULL when that submission is deleted: it is there.
        return db.session.get_one(Submission, draft.submission_id)
    answers = final_answers(draft, consent, today)
    personal = draft.personal
    if not (personal.get("full_name") and personal.get("phone")):
        raise NotReady(["contact"], [])
    # Every submission belongs to an active clinic: the only one, or the patient's choice.
    clinic_id = clinic_ids[0] if len(clinic_ids) == 1 else personal.get("clinic_id")
    if clinic_id is None or clinic_id not in clinic_ids:
        raise NotReady(["clinic"], [])
    try:
        result = score(answers)
    except ScoringInputError as error:
        raise NotReady(error.missing, error.invalid) from error
    submit_key = draft.key
    for _attempt in range(5):
        submission = Submission(
            reference=readable_code(),
            submit_key=submit_key,
            answers=answers,
            personal=dict(personal),
            questionnaire_version=questionnaire.VERSION,
            started_at=draft.created_at,
            clinic_id=clinic_id,
            language=language,
        )
        apply_result(submission, result)
        db.session.add(submission)
        try:
            db.session.flush()
        except IntegrityError:
            db.session.rollback()
            existing = db.session.scalar(
                select(Submission).where(Submission.submit_key == submit_key)
            )
            if existing is not None:
                return existing
            continue  # the reference code collided: draw another
        # The draft keeps no answers once they are safely in the submission.
        draft.submission_id = submission.id
        draft.answers = {}
        draft.personal = {}
        db.session.commit()
        return submission
    raise RuntimeError("could not allocate a unique reference code")
