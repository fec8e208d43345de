"""Reading level of the patient's result pages as rendered (spec 5.2).

Rule reasons, headlines and questions are checked string by string in
tests/scoring/test_readability.py; this test reads what the result templates add around
them, on the pages patients actually get. Flesch-Kincaid is checked per paragraph or list
item (the unit a writer controls, as with the per-string check of the rules) and SMOG over
all of them pooled (see that module for why SMOG needs a pooled sample).
"""

from __future__ import annotations

import re

import textstat

from tests.patient import Patient
from tests.test_results import VIGNETTES, submit

CEILING = 8.0
GOAL = 6.0
#: Not prose: the reference code line and the rule set version.
SKIP = re.compile(r"reference code is|Rule set \d|printed \d")


def blocks_of(html: str) -> list[str]:
    main = html.split("<main", 1)[1].split("</main>", 1)[0]
    blocks = re.findall(r"<(?:p|li|h1|h2|strong)[^>]*>(.*?)</(?:p|li|h1|h2|strong)>", main, re.S)
    found = []
    for block in blocks:
        text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", block)).strip()
        if not text or SKIP.search(text):
            continue
        if len(text.split()) > 2:
            found.append(text)
    return found


def test_result_pages_read_below_grade_8(make_app):
    seen: dict[str, float] = {}
    for overrides in VIGNETTES.values():
        app = make_app()
        patient = Patient(app.test_client())
        submit(app, patient, overrides)
        for url in ("/done", "/done/print"):
            for sentence in blocks_of(patient.get(url).get_data(as_text=True)):
                seen.setdefault(sentence, textstat.flesch_kincaid_grade(sentence))
    assert len(seen) > 30
    above_goal = {s: g for s, g in seen.items() if g > GOAL}
    for sentence, grade in sorted(above_goal.items(), key=lambda item: -item[1]):
        print(f"grade {grade:4.1f}: {sentence}")
    too_hard = {s: g for s, g in seen.items() if g >= CEILING}
    assert not too_hard, too_hard
    pooled_text = " ".join(s if s[-1] in ".?!" else s + "." for s in seen)
    pooled = textstat.smog_index(pooled_text)
    print(f"pooled SMOG over {textstat.sentence_count(pooled_text)} sentences: {pooled}")
    assert pooled < CEILING
