"""Reading level of the patient's result pages as rendered (screening/scoring/README.md §4.5).

Rule reasons, headlines and questions are checked string by string in
tests/scoring/test_readability.py; this test reads what the result templates add around
them, on the pages patients actually get. Flesch-Kincaid is checked per paragraph or list
item (the unit a writer controls, as with the per-string check of the rules) and SMOG over
all of them pooled (see that module for why SMOG needs a pooled sample).
"""

from __future__ import annotations

import re
import statistics

import textstat

from tests.catalogue import english, translations
from tests.patient_client import Patient
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


# ------------------------------------------------------------------ every patient string
#
# Every message a patient can see, as extracted for translation (tests/catalogue.py):
# templates, Python messages and the clinical data files. Sentences and questions (ending
# in . ? or !) are measured one by one. Labels (answer options, headings, buttons) are
# fragments of one to a few words, where Flesch-Kincaid measures the length of a single
# word ("Acupuncture" is grade 32): they are measured together, one label per sentence,
# and each label above the goal is printed. Text in brackets is left out of the measure:
# it holds examples a patient recognises by name (brand names, "for example HIV"), which
# the formulas would count as long words. Placeholders count as "it". PEG items are
# exempt: published wording is kept as is (KREBS2009; screening/scoring/README.md §4.5).

PLACEHOLDER = re.compile(r"%\(\w+\)[sd]|\{\w+\}")
BRACKETS = re.compile(r"\s*\([^)]*\)")


def _measured(text: str) -> str:
    return BRACKETS.sub("", PLACEHOLDER.sub("it", text)).strip()


def _english_strings() -> tuple[dict[str, str], dict[str, str]]:
    """(sentences, labels): measured text by message id."""
    sentences, labels = {}, {}
    for text, message in english().items():
        if message.validated:
            continue
        measured = _measured(text)
        if not measured:
            continue
        (sentences if measured[-1] in ".?!" else labels)[text] = measured
    return sentences, labels


def _pooled(texts) -> str:
    return " ".join(t if t[-1] in ".?!" else t + "." for t in texts)


def test_every_patient_sentence_reads_below_grade_8():
    sentences, _labels = _english_strings()
    assert len(sentences) > 250
    grades = {text: textstat.flesch_kincaid_grade(m) for text, m in sentences.items()}
    for text, grade in sorted(grades.items(), key=lambda item: -item[1]):
        if grade > GOAL:
            print(f"FK {grade:4.1f}: {text}")
    too_hard = {text: grade for text, grade in grades.items() if grade >= CEILING}
    assert not too_hard, too_hard
    mean = statistics.mean(grades.values())
    pooled = textstat.smog_index(_pooled(sentences.values()))
    print(f"{len(grades)} sentences: mean FK {mean:.2f}, pooled SMOG {pooled:.1f}")
    assert mean <= GOAL
    assert pooled < CEILING


def test_patient_labels_read_below_grade_8_together():
    _sentences, labels = _english_strings()
    assert len(labels) > 150
    for text, measured in labels.items():
        grade = textstat.flesch_kincaid_grade(measured + ".")
        if grade > GOAL:
            print(f"label FK {grade:4.1f}: {text}")
    pooled = _pooled(labels.values())
    grade = textstat.flesch_kincaid_grade(pooled)
    smog = textstat.smog_index(pooled)
    print(f"{len(labels)} labels together: FK {grade:.2f}, SMOG {smog:.1f}")
    assert grade <= GOAL
    assert smog < CEILING


def test_every_spanish_message_reads_easily():
    """Fernandez-Huerta (textstat, Spanish syllables) of at least 70: "fairly easy".

    Measured per translation of eight words or more (shorter ones are labels, where the
    score measures one word's length), and over all translations together.
    """
    textstat.set_lang("es")
    try:
        done = translations("es")
        validated = {text for text, m in english().items() if m.validated}
        texts = [_measured(t) for e, t in done.items() if e not in validated and _measured(t)]
        scores = {t: textstat.fernandez_huerta(t) for t in texts if len(t.split()) >= 8}
        for text, score in sorted(scores.items(), key=lambda item: item[1]):
            if score < 80:
                print(f"FH {score:5.1f}: {text}")
        hard = {t: s for t, s in scores.items() if s < 70}
        pooled = textstat.fernandez_huerta(_pooled(texts))
        print(f"{len(scores)} Spanish texts of 8+ words; all {len(texts)}: FH {pooled:.1f}")
    finally:
        textstat.set_lang("en_US")
    assert len(scores) > 200
    assert not hard, hard
    assert pooled >= 70
