"""Reading level of every patient-facing string of the scoring package.

The ceiling and the goal are those of screening/scoring/README.md §4.5.

Flesch-Kincaid grade is checked per string: it is a per-sentence average, so it
stays meaningful on a 1-3 sentence reason.

SMOG is not. textstat 0.7.8 (``backend/metrics/_smog_index.py``) applies
``1.043 * sqrt(30 * polysyllables / sentences) + 3.1291`` to any text: unlike
older textstat it no longer returns 0 under 3 sentences, and it scales the count
up to McLaughlin's 30-sentence sample. On one short sentence a single
three-syllable word ("clinician", "medicine") therefore scores 8.8, so per string
SMOG measures "has a long word" rather than a grade. We apply SMOG the way it
was normed: over samples of at least 30 sentences, i.e. each catalogue pooled
(patient reasons; questions to bring) and all strings pooled (the headlines
alone have fewer than 30 sentences). Per-string SMOG is still printed above
grade 6 so writers can see which strings pull the pooled score up.
"""

from __future__ import annotations

import pytest
import textstat

from screening.scoring import load_ruleset

CEILING = 8.0  # every patient-facing string below grade 8 (NIH-CS, ASES-READ)
GOAL = 6.0  # grade 6 or lower is the goal (WEISS2007, AAFP-HL2015); warn above it
SMOG_SAMPLE = 30  # sentences in McLaughlin's SMOG sample


def _patient_strings() -> dict[str, dict[str, str]]:
    ruleset = load_ruleset()
    fallbacks = {name: p.fallback for name, p in ruleset.placeholders.items()}
    return {
        "patient reasons": {r.id: r.patient_reason for r in ruleset.rules},
        "questions to bring": {
            # Placeholders are measured with their fallback words in place.
            q.id: q.text.format_map(fallbacks)
            for q in ruleset.catalogue.values()
        },
        "headlines": {
            **{f"{o}/{lv}": text for (o, lv), text in ruleset.headlines.items()},
            "for_later_heading": ruleset.for_later_heading,
        },
    }


GROUPS = _patient_strings()
STRINGS = [(key, text) for group in GROUPS.values() for key, text in group.items()]


def _params() -> list[object]:
    return [pytest.param(key, text, id=key) for key, text in STRINGS]


@pytest.mark.parametrize(("key", "text"), _params())
def test_flesch_kincaid_below_ceiling(key: str, text: str) -> None:
    grade = textstat.flesch_kincaid_grade(text)
    smog = textstat.smog_index(text)
    if grade > GOAL or smog > GOAL:
        print(f"{key}: Flesch-Kincaid {grade:.1f}, SMOG (per string) {smog:.1f}: {text}")
    assert grade < CEILING, f"{key}: Flesch-Kincaid grade {grade:.1f}"


@pytest.mark.parametrize(
    "group",
    [
        *[
            g
            for g, s in GROUPS.items()
            if textstat.sentence_count(" ".join(s.values())) >= SMOG_SAMPLE
        ],
        "all",
    ],
)
def test_smog_of_pooled_sample_below_ceiling(group: str) -> None:
    texts = [t for _, t in STRINGS] if group == "all" else list(GROUPS[group].values())
    sample = " ".join(texts)
    assert textstat.sentence_count(sample) >= SMOG_SAMPLE
    smog = textstat.smog_index(sample)
    if smog > GOAL:
        print(f"{group}: pooled SMOG {smog:.1f} is above the grade {GOAL:.0f} goal")
    assert smog < CEILING, f"{group}: pooled SMOG {smog:.1f}"


def test_every_group_measured() -> None:
    assert {"patient reasons", "questions to bring"} <= {
        g for g, s in GROUPS.items() if textstat.sentence_count(" ".join(s.values())) >= SMOG_SAMPLE
    }
