"""The heaviest realistic answer sets, for proving the clinician's page fits one sheet.

Realistic: every set is one the questionnaire accepts (only questions shown are answered,
exclusive options stand alone, adult ages). Heavy: nearly every yes/no answered yes (every
red flag, contraindication and precaution rule can fire together), every medicine, allergy
and treatment ticked, many or all body regions, every free-text box at its maximum length
with real words, and long names. :func:`heaviest` renders each candidate's summary and
keeps those with the most text.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from screening.models import Submission
from screening.scoring import questionnaire, score
from screening.submissions import apply_result

_VOCABULARY = (
    "pain sharp dull burning neck shoulder back left right worse morning night after work "
    "lifting sitting driving sleep tired stiff tight knot spot doctor medicine twice daily "
    "since last year therapy weeks helped little heat ice stretch massage walking stairs "
    "grandchildren garden kitchen desk computer phone headache jaw arm hand numb tingling"
)
WORDS = _VOCABULARY.split()
LONG_NAMES = (
    "Maria Guadalupe Hernandez-Villanueva de la Cruz Montenegro",
    "Bartholomew Alexander Fitzgerald-Worthington-Smythe III",
    "Nguyen Thi Phuong Thao Christensen-Abernathy",
)


def _prose(rng: random.Random, length: int) -> str:
    words: list[str] = []
    while sum(len(w) + 1 for w in words) < length + 20:
        words.append(rng.choice(WORDS))
    text = " ".join(words)[:length].rstrip()
    return text[:1].upper() + text[1:]


def heavy_answers(rng: random.Random, fill: float = 1.0) -> dict[str, Any]:
    """One accepted answer set with (nearly) everything given; ``fill`` < 1 leaves some out."""
    answers: dict[str, Any] = {}
    for qid, question in questionnaire.QUESTIONS.items():
        if not questionnaire.is_shown(qid, answers):
            continue
        codes = [o.code for o in question.options]
        if question.choices_within is not None:
            codes = list(answers[question.choices_within])
        kind = question.type
        if kind in ("yes_no", "ynu"):
            value: Any = "yes" if rng.random() < fill else rng.choice(codes)
        elif kind in questionnaire.CHOICE_TYPES:
            # "other" answers open a text box: more to print.
            value = "other" if "other" in codes and rng.random() < fill else rng.choice(codes)
        elif kind == "multi":
            pool = [c for c in codes if c != question.exclusive]
            keep = max(1, round(len(pool) * (fill if fill >= 1 else rng.uniform(fill, 1))))
            value = pool if keep >= len(pool) else rng.sample(pool, keep)
        elif kind == "scale":
            value = rng.randint(0, 10)
        elif kind == "int":
            low = questionnaire.MIN_AGE if qid == "age" else question.min
            value = rng.randint(low, question.max) if qid != "age" else rng.randint(18, 95)
        elif kind == "text":
            value = _prose(rng, question.max_length or 100)
        else:
            value = True
        answers[qid] = value
    if "regions" in answers and len(answers["regions"]) > 1:
        answers["primary_region"] = rng.choice(answers["regions"])
    return questionnaire.visible_answers(answers)


def submission_for(answers: dict[str, Any], number: int, rng: random.Random) -> Submission:
    """A scored submission (not saved) with a long name, as ``submissions.submit`` makes it."""
    personal = {
        "dob": f"{1940 + number % 60}-0{1 + number % 9}-1{number % 10}",
        "full_name": LONG_NAMES[number % len(LONG_NAMES)],
        "phone": "+1 (555) 010-" + f"{number:04d}"[-4:] + " ext. 1234",
        "email": f"{'a.very.long.address' * 3}.{number}@example-health-network.org",
        "best_time": rng.choice(["morning", "afternoon", "evening", "any_time"]),
    }
    submission = Submission(
        reference=f"W{number:02d}-MAX-{number:03d}"[-11:],
        submit_key=f"worst-{number}",
        answers=answers,
        personal=personal,
        language="es" if number % 2 else "en",
        questionnaire_version=questionnaire.VERSION,
        started_at=datetime(2026, 3, 1, 14, 0, tzinfo=UTC),
        submitted_at=datetime(2026, 3, 1, 14, 30, tzinfo=UTC),
    )
    apply_result(submission, score(answers))
    return submission


def candidates(count: int, seed: int = 13) -> Iterator[Submission]:
    rng = random.Random(seed)
    for number in range(count):
        fill = 1.0 if number < count // 4 else rng.uniform(0.7, 1.0)
        yield submission_for(heavy_answers(rng, fill), number, rng)


def typical(count: int, seed: int = 5) -> Iterator[Submission]:
    """Realistic submissions from the demo generator (what a clinic's queue holds)."""
    from screening import demo

    rng = random.Random(seed)
    for number in range(count):
        answers = demo.generate_answers(rng)
        submission = submission_for(answers, number, rng)
        submission.personal = demo.generate_personal(
            rng, datetime(2026, 3, 1, 14, 30, tzinfo=UTC), age=answers["age"]
        )
        yield submission


def common_heavy_case() -> Submission:
    """A case clinics see (the front desk's example): apixaban and aspirin, lidocaine
    anaphylaxis, latex allergy, insulin, with the free text they wrote."""
    from tests.factories import answers as baseline

    rng = random.Random(3)
    given = baseline(
        bt=["bt_apixaban", "bt_aspirin"],
        allergy=["alg_lidocaine", "alg_latex"],
        la_reaction="breathing_swelling",
        diabetes="insulin",
    )
    return submission_for(questionnaire.visible_answers(given), 900, rng)
