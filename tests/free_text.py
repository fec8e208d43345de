"""Answers in which every free-text question is asked and holds a chosen value.

Used by the tests that look for patient words where they must not be (URLs, cookies) or
must appear only escaped (staff pages, print view, PDF, CSV).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from screening.scoring import questionnaire
from tests.factories import answers

#: Every free-text question of the questionnaire.
TEXT_QUESTIONS = tuple(qid for qid, q in questionnaire.QUESTIONS.items() if q.type == "text")

#: Choices that make each follow-up free-text question ("what other allergy?") be asked.
OPENING_CHOICES: dict[str, Any] = {
    "triggers": ["trig_posture", "trig_other"],
    "tx": ["tx_pt", "tx_otc", "tx_tpi"],
    "tpi_last": "m3_12",
    "tpi_sessions_12m": "s1",
    "tpi_relief": "lt_half",
    "tpi_problems": ["other"],
    "bt": ["bt_other"],
    "allergy": ["alg_lidocaine", "alg_other"],
    "la_reaction": "other",
}


def every_text(value: Callable[[str], str]) -> dict[str, Any]:
    """Baseline answers with every free-text question asked; ``value(qid)`` fills each."""
    given = answers(**OPENING_CHOICES, **{qid: value(qid) for qid in TEXT_QUESTIONS})
    assert all(questionnaire.is_shown(qid, given) for qid in TEXT_QUESTIONS)
    return given
