"""Each page asks only what can apply, as served (no JavaScript), and progress never moves back.

Every acceptance vignette is walked page by page through the Flask test client, which
sees the HTML exactly as a browser without JavaScript does. On every page:

- a question that depends on an earlier page is there only if that earlier answer was
  given (no "How long did that relief last?" for someone who had no injections);
- a follow-up of a question on the same page is there only with that question;
- every question the answers call for is there;
- the progress line says "Part N of 6", with 6 all the way and N never going back.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from screening.patient import steps
from screening.scoring import conditions, questionnaire
from tests.factories import CONTACT
from tests.patient_client import clinic_today, page_data
from tests.scoring.support import VIGNETTES, apply

GROUP = re.compile(r'id="group-([a-z0-9_]+)"')
PROGRESS = re.compile(r"Part (\d+) of (\d+): ")
#: The vignettes a patient can send (not the two of invalid input: under 18, a blank).
CASES = {case["name"]: apply(case) for case in VIGNETTES["vignette"] if "error" not in case}


def _on_page(html: str) -> set[str]:
    return {qid for qid in GROUP.findall(html) if qid in questionnaire.QUESTIONS}


def _problems(step: steps.Step, shown: set[str], earlier: dict[str, Any], final: dict) -> list:
    problems = []
    for qid in step.questions:
        condition = questionnaire.QUESTIONS[qid].shown_when
        used = conditions.facts_used(condition) if condition else set()
        in_page = bool(used) and used <= set(step.questions)
        if qid in shown:
            if condition and not in_page and not questionnaire.is_shown(qid, earlier):
                problems.append(f"{qid} is asked but its earlier answer was not given")
            if in_page and not used <= shown:
                problems.append(f"{qid} follows {sorted(used)}, which is not on the page")
        elif questionnaire.is_shown(qid, final) and (qid in final or not in_page):
            problems.append(f"{qid} applies to these answers but is not asked")
    return problems


@pytest.mark.parametrize("name", CASES)
def test_every_page_without_javascript_asks_only_what_can_apply(app, patient, name):
    answers = CASES[name]
    today = clinic_today(app)
    asked_before: set[str] = {"age"}
    parts = []
    for step in steps.applicable(answers):
        page = patient.get(f"/step/{step.id}")
        assert page.status_code == 200, (step.id, page.status_code)
        html = page.get_data(as_text=True)
        earlier = {q: v for q, v in answers.items() if q in asked_before}
        problems = _problems(step, _on_page(html), earlier, answers)
        assert not problems, (name, step.id, problems)
        found = PROGRESS.search(html)
        assert found, (step.id, "no progress line")
        parts.append((int(found.group(1)), int(found.group(2))))
        sent = patient.post(f"/step/{step.id}", page_data(step, answers, today, CONTACT))
        assert sent.status_code == 303, (step.id, sent.get_data(as_text=True)[:2000])
        asked_before |= set(step.questions)
    numbers = [number for number, _total in parts]
    assert {total for _number, total in parts} == {len(steps.PARTS)}, parts
    assert numbers == sorted(numbers), f"progress went back: {parts}"
    assert numbers[0] == 1 and numbers[-1] == len(steps.PARTS), parts


def test_a_follow_up_of_a_treatment_not_picked_is_not_asked(app, patient):
    """The walk above, spelled out for the case that was reported."""
    answers = CASES["V01_classic_low_back"]
    assert "tx_tpi" not in answers["tx"]
    patient.complete({**answers}, clinic_today(app))
    html = patient.get("/step/treatment-results").get_data(as_text=True)
    assert "tpi_relief" not in _on_page(html)
    assert "tpi_duration" not in _on_page(html)
    assert "How long did that relief last?" not in html


def test_a_follow_up_on_the_same_page_is_there_with_its_condition_in_words(app, patient):
    answers = CASES["V01_classic_low_back"]
    patient.complete(answers, clinic_today(app))
    html = patient.get("/step/allergies").get_data(as_text=True)
    assert {"allergy", "allergy_other"} <= _on_page(html)
    assert 'id="allergy_other-when"' in html  # "Answer this only if you picked ..."


def test_the_start_page_time_is_the_measured_one(client):
    """ "About N minutes" is the median journey (tests/benchmarks/bench_journey.py), rounded up."""
    from tests.benchmarks.bench_journey import journey, minutes

    sizes = sorted(journey(answers) for answers in CASES.values())
    median = minutes(*sizes[len(sizes) // 2])
    stated = int(re.search(r"It takes about (\d+) minutes", client.get("/").text).group(1))
    assert median <= stated < median + 5, (stated, median)
