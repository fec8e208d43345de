"""How long the questionnaire is for real answer sets: pages and questions per journey.

Counts, for every acceptance vignette a patient can send, the pages asked and the
questions on them (personal fields included: date of birth counts as one, the contact page
as four), and prints the median and the longest journey with an estimate of minutes.

The estimate assumes 10 seconds per question and 5 seconds per page (reading the heading,
pressing Continue, the page loading on a phone): a plain-language, mostly tap-to-answer
form read by someone in pain. The start page says "about N minutes" from the median;
change both together.

Run: .venv/bin/python tests/benchmarks/bench_journey.py
"""

from __future__ import annotations

import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from screening.patient import steps  # noqa: E402
from tests.scoring.support import VIGNETTES, apply  # noqa: E402

SECONDS_PER_QUESTION = 10
SECONDS_PER_PAGE = 5


def journey(answers: dict) -> tuple[int, int]:
    pages = steps.applicable(answers)
    questions = 0
    for step in pages:
        questions += len(step.shown_questions(answers))
        if step.personal == steps.DOB_FIELDS:
            questions += 1
        elif step.personal:
            questions += len(step.personal)
    return len(pages), questions + 1  # + the consent box on the check page


def minutes(pages: int, questions: int) -> float:
    return (pages * SECONDS_PER_PAGE + questions * SECONDS_PER_QUESTION) / 60


def main() -> None:
    cases = {c["name"]: apply(c) for c in VIGNETTES["vignette"] if "error" not in c}
    sizes = {name: journey(answers) for name, answers in cases.items()}
    by_questions = sorted(sizes.items(), key=lambda item: item[1][1])
    median_q = statistics.median(q for _p, q in sizes.values())
    median_p = statistics.median(p for p, _q in sizes.values())
    longest_name, (longest_p, longest_q) = by_questions[-1]
    shortest_name, (shortest_p, shortest_q) = by_questions[0]
    print(f"{len(cases)} vignettes (question pages; the check-answers page comes on top)")
    rows = (
        (f"shortest {shortest_name}", shortest_p, shortest_q),
        ("median", median_p, median_q),
        (f"longest {longest_name}", longest_p, longest_q),
    )
    for label, pages, questions in rows:
        print(
            f"{label:45} {pages:3.0f} pages {questions:3.0f} questions"
            f"  about {minutes(pages, questions):4.1f} min"
        )


if __name__ == "__main__":
    main()
