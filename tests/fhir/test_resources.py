"""The questionnaire and submissions as FHIR R4 resources, checked by a FHIR library.

Every resource is parsed with the R4B models of ``fhir.resources`` (its validation, not
ours). A response turned back into answers must score to the stored result, for every
acceptance vignette and 1,000 generated answer sets stored in the test database.
"""

from __future__ import annotations

import random
import secrets
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from screening import demo
from screening.extensions import db
from screening.fhir import resources
from screening.models import Submission
from screening.scoring import load_ruleset, questionnaire, score
from screening.scoring.questionnaire import QUESTIONS, SECTIONS
from tests.fhir.helpers import fhir_model, store
from tests.test_summaries import VIGNETTES, make_submission, vignette_answers
from tests.worst_cases import heavy_answers

BASE = "https://forms.clinic.example/fhir"
ANSWERS = f"{BASE}/CodeSystem/{resources.ANSWERS_ID}"

#: Patient text that tends to break serialisers: quotes, markup, line breaks, emoji, a
#: right-to-left override, accents, a zero-width space, a backslash.
AWKWARD = [
    'He said "it\'s a knot" </script><script>alert(1)</script>',
    "Line one\nLine two\r\nLine three\twith a tab",
    "Dolor de espalda \u00f1and\u00fa \U0001f915 \u202eesrever\u202c",
    "back\\slash {{7*7}} %s %(x)s \u200b",
]


def stored_answers(answers: dict[str, Any]) -> dict[str, Any]:
    """What a response keeps of an answer set: everything but blank text."""
    return {
        key: value
        for key, value in answers.items()
        if not (isinstance(value, str) and not value.strip()) and value not in (None, [])
    }


def round_trip(item: Submission) -> dict[str, Any]:
    """QuestionnaireResponse -> R4B model -> answers; checks they score as stored."""
    resource = resources.questionnaire_response(item, BASE)
    model = fhir_model(resource)
    assert model.questionnaire == f"{BASE}/Questionnaire/tpi-screening|{questionnaire.VERSION}"
    # Rebuilt from the library's objects, as a record system's code would read them.
    answers = resources.answers_from_response(model)
    assert answers == stored_answers(item.answers)
    result = score(answers)
    assert result.to_dict() == item.result
    assert result.ruleset_version == item.ruleset_version
    return answers


# ------------------------------------------------------------------ the Questionnaire


def test_the_questionnaire_is_the_data_file_as_fhir(app):
    with app.app_context():
        resource = resources.questionnaire_resource(BASE)
    model = fhir_model(resource)
    assert model.url == f"{BASE}/Questionnaire/tpi-screening"
    assert model.version == questionnaire.VERSION and model.status == "active"
    # Sections as groups, in order, each with its Spanish title.
    assert [group.linkId for group in model.item] == [
        s for s in SECTIONS if any(q.section == s for q in QUESTIONS.values())
    ]
    items = {item["linkId"]: item for group in resource["item"] for item in group["item"]}
    # One item per question, in form order, with its required flag.
    assert list(items) == list(QUESTIONS)
    for qid, question in QUESTIONS.items():
        item = items[qid]
        assert item["text"] == question.text
        assert item.get("required", False) is question.required
        spanish = item["_text"]["extension"][0]
        assert spanish["url"] == resources.TRANSLATION
        assert spanish["extension"][0] == {"url": "lang", "valueCode": "es"}
        if question.options:
            codings = [option["valueCoding"] for option in item["answerOption"]]
            assert [c["code"] for c in codings] == [o.code for o in question.options]
            assert [c["display"] for c in codings] == [o.label for o in question.options]
            assert {c["system"] for c in codings} == {ANSWERS}
            assert all("_display" in c for c in codings)
        assert item.get("repeats", False) is (question.type == "multi")
        if question.exclusive:
            flagged = [o["valueCoding"]["code"] for o in item["answerOption"] if o.get("extension")]
            assert flagged == [question.exclusive]
    # Spanish from the app's catalogue, not a copy of the English.
    assert items["age"]["_text"]["extension"][0]["extension"][1]["valueString"] == (
        "¿Cuántos años tiene?"
    )
    yes = items["rf_bladder"]["answerOption"][0]["valueCoding"]
    assert yes["code"] == "yes" and yes["_display"]["extension"][0]["extension"][1] == {
        "url": "content",
        "valueString": "Sí",
    }


def test_every_shown_when_is_an_enable_when(app):
    with app.app_context():
        resource = resources.questionnaire_resource(BASE)
    items = {item["linkId"]: item for group in resource["item"] for item in group["item"]}
    conditional = {qid for qid, q in QUESTIONS.items() if q.shown_when}
    assert {qid for qid, item in items.items() if "enableWhen" in item} == conditional
    # None needs the expression extension today: enableWhen says them all.
    assert not any(
        ext["url"] == resources.ENABLE_WHEN_EXPRESSION
        for item in items.values()
        for ext in item.get("extension", ())
    )
    assert items["la_reaction"]["enableBehavior"] == "any"
    assert items["tpi_duration"]["enableWhen"] == [
        {
            "question": "tpi_relief",
            "operator": "=",
            "answerCoding": {"system": ANSWERS, "code": "ge_half"},
        }
    ]


def _fhir_value(entry: dict[str, Any]) -> Any:
    if "answerCoding" in entry:
        return entry["answerCoding"]["code"]
    return next(value for key, value in entry.items() if key.startswith("answer"))


def _holds(entry: dict[str, Any], given: list[Any]) -> bool:
    """One enableWhen, as FHIR R4 defines it (answers of a disabled question are gone)."""
    operator = entry["operator"]
    if operator == "exists":
        return bool(given) is entry["answerBoolean"]
    expected = _fhir_value(entry)
    tests = {
        "=": lambda v: v == expected,
        "!=": lambda v: v != expected,
        ">": lambda v: v > expected,
        ">=": lambda v: v >= expected,
        "<": lambda v: v < expected,
        "<=": lambda v: v <= expected,
    }
    if operator == "!=":
        return not any(v == expected for v in given)
    return any(tests[operator](v) for v in given)


def fhir_enabled(items: dict[str, dict], answers: dict[str, Any]) -> set[str]:
    """Which questions a FHIR form filler enables for ``answers`` (to a fixed point)."""
    given = {qid: (value if isinstance(value, list) else [value]) for qid, value in answers.items()}
    enabled = set(items)
    while True:
        current = {qid: values for qid, values in given.items() if qid in enabled}
        now = set()
        for qid, item in items.items():
            conditions = item.get("enableWhen")
            if not conditions:
                now.add(qid)
                continue
            results = [_holds(c, current.get(c["question"], [])) for c in conditions]
            if all(results) if item.get("enableBehavior", "all") == "all" else any(results):
                now.add(qid)
        if now == enabled:
            return enabled
        enabled = now


def any_answers(rng: random.Random) -> dict[str, Any]:
    """Answers to every question, shown or not (stale answers of hidden questions too)."""
    answers: dict[str, Any] = {}
    for qid, question in QUESTIONS.items():
        if rng.random() < 0.2:
            continue
        codes = [o.code for o in question.options]
        if question.type == "multi":
            answers[qid] = rng.sample(codes, rng.randint(1, min(4, len(codes))))
        elif codes:
            answers[qid] = rng.choice(codes)
        elif question.type in ("scale", "int"):
            answers[qid] = rng.randint(question.min, question.max)
        elif question.type == "bool":
            answers[qid] = True
        else:
            answers[qid] = "words"
    return answers


def test_enable_when_shows_exactly_what_the_form_shows(app):
    """A FHIR form filler following enableWhen asks what our form asks, hiding included."""
    with app.app_context():
        resource = resources.questionnaire_resource(BASE)
    items = {item["linkId"]: item for group in resource["item"] for item in group["item"]}
    rng = random.Random(16)
    sets = [demo.generate_answers(rng) for _ in range(300)]
    sets += [any_answers(rng) for _ in range(700)]
    for answers in sets:
        visible = questionnaire.visible_answers(answers)
        ours = {qid for qid in QUESTIONS if questionnaire.is_shown(qid, visible)}
        assert fhir_enabled(items, answers) == ours


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        (
            {"q": "tx", "op": "has", "value": "tx_pt"},
            {
                "enableWhen": [
                    {
                        "question": "tx",
                        "operator": "=",
                        "answerCoding": {"system": ANSWERS, "code": "tx_pt"},
                    }
                ]
            },
        ),
        (
            {"all": [{"q": "age", "op": "ge", "value": 65}, {"q": "consent", "op": "true"}]},
            {
                "enableWhen": [
                    {"question": "age", "operator": ">=", "answerInteger": 65},
                    {"question": "consent", "operator": "=", "answerBoolean": True},
                ],
                "enableBehavior": "all",
            },
        ),
        (
            {"q": "goals", "op": "answered"},
            {"enableWhen": [{"question": "goals", "operator": "exists", "answerBoolean": True}]},
        ),
    ],
)
def test_conditions_enable_when_can_say(condition, expected):
    assert resources.enable_when(BASE, condition) == expected


@pytest.mark.parametrize(
    ("condition", "expression"),
    [
        # FHIR's "!=" is true for an unanswered question; ours is false.
        (
            {"q": "preg", "op": "ne", "value": "no"},
            "%resource.repeat(item).where(linkId = 'preg').answer.value.code.exists() and "
            "%resource.repeat(item).where(linkId = 'preg').answer.value.code"
            ".where($this = 'no').empty()",
        ),
        (
            {"not": {"q": "age", "op": "lt", "value": 40}},
            "(%resource.repeat(item).where(linkId = 'age').answer.value"
            ".where($this < 40).exists()).not()",
        ),
        (
            {
                "all": [
                    {"q": "regions", "op": "has_any", "value": ["head_l", "jaw_l"]},
                    {"q": "age", "op": "gt", "value": 50},
                ]
            },
            "(%resource.repeat(item).where(linkId = 'regions').answer.value.code"
            ".where($this in ('head_l' | 'jaw_l')).exists()) and "
            "(%resource.repeat(item).where(linkId = 'age').answer.value"
            ".where($this > 50).exists())",
        ),
    ],
)
def test_conditions_enable_when_cannot_say_are_sdc_expressions(condition, expression):
    fields = resources.enable_when(BASE, condition)
    assert fields == {
        "extension": [
            {
                "url": resources.ENABLE_WHEN_EXPRESSION,
                "valueExpression": {"language": "text/fhirpath", "expression": expression},
            }
        ]
    }


def test_code_systems_hold_every_code(app):
    with app.app_context():
        systems = {key: resources.code_system(BASE, key) for key in resources.CODE_SYSTEMS}
    for system in systems.values():
        fhir_model(system)
    answers = systems[resources.ANSWERS_ID]
    concepts = {c["code"]: c for c in answers["concept"]}
    assert set(concepts) == {code for q in QUESTIONS.values() for code in q.codes}
    # A code two questions word differently keeps both wordings.
    other = concepts["other"]
    assert {
        other["display"],
        *(d["value"] for d in other["designation"] if d["language"] == "en"),
    } >= {
        "Other",
        "Something else",
    }
    rules = {c["code"] for c in systems[resources.RULES_ID]["concept"]}
    assert rules == {rule.id for rule in load_ruleset().rules}
    assert systems[resources.RULES_ID]["version"] == load_ruleset().version


# ------------------------------------------------------------------ round trips


@pytest.mark.parametrize("name", sorted(VIGNETTES))
def test_every_vignette_round_trips_through_a_stored_submission(app, name):
    (public_id,) = store(app, "North Clinic", answers=[vignette_answers(name)])
    with app.app_context():
        item = db.session.scalar(select(Submission).where(Submission.public_id == public_id))
        assert item.outcome == VIGNETTES[name]["expect"]["outcome"]
        round_trip(item)


def generated_answer_sets(count: int) -> list[dict[str, Any]]:
    """Realistic sets (the demo generator), heavy ones (every box ticked, texts full) and
    awkward text, all of them answer sets the form accepts."""
    rng = random.Random(1000)
    sets = []
    for number in range(count):
        if number % 5 == 4:
            answers = heavy_answers(rng, 1.0 if number % 10 == 9 else rng.uniform(0.6, 1.0))
        else:
            answers = demo.generate_answers(rng)
        texts = [qid for qid in answers if QUESTIONS[qid].type == "text"]
        if texts and number % 3 == 0:
            qid = rng.choice(texts)
            limit = QUESTIONS[qid].max_length or 100
            answers[qid] = rng.choice(AWKWARD)[:limit]
        sets.append(answers)
    return sets


# no_cover: this volume of examples runs lines other tests cover too (checked with
# coverage contexts); tracing them doubled the time.
@pytest.mark.no_cover
@pytest.mark.slow
def test_a_thousand_generated_answer_sets_round_trip(app):
    sets = generated_answer_sets(1000)
    ids = store(app, "North Clinic", answers=sets, seed=7)
    with app.app_context():
        rows = db.session.scalars(select(Submission).where(Submission.public_id.in_(ids))).all()
        assert len(rows) == 1000
        started = time.perf_counter()
        outcomes = set()
        for item in rows:
            round_trip(item)
            outcomes.add(item.outcome)
        seconds = time.perf_counter() - started
    # Every outcome is among them, and every kind of answer.
    assert outcomes == {"SEEK_CARE", "NOT_A_FIT", "DISCUSS_WITH_CONCERNS", "DISCUSS"}
    print(f"1,000 round trips in {seconds:.1f} s")


def test_a_response_without_blank_text_loses_nothing_that_scores():
    item = make_submission("V01")
    item.public_id = secrets.token_hex(16)
    item.answers = {**item.answers, "goals": "   "}
    answers = round_trip(item)
    assert "goals" not in answers


# ------------------------------------------------------------------ the other resources


def test_patient_risk_assessment_and_bundle_validate():
    item = make_submission("V09")  # seek care within 24 hours, no email
    item.public_id = secrets.token_hex(16)
    item.language = "es"
    made = datetime(2026, 3, 2, 16, 0, tzinfo=UTC)
    pdf = b"%PDF-1.7 not really"
    bundle = resources.bundle(item, BASE, pdf, made)
    model = fhir_model(bundle)
    assert model.type == "collection" and model.id == item.reference
    kinds = [entry.resource.__resource_type__ for entry in model.entry]
    assert kinds == ["Patient", "QuestionnaireResponse", "RiskAssessment", "DocumentReference"]
    # Every reference inside resolves to an entry of the bundle.
    full_urls = {entry["fullUrl"] for entry in bundle["entry"]}
    text = str(bundle)
    for kind in ("Patient", "QuestionnaireResponse"):
        assert f"'reference': '{kind}/{item.public_id}'" in text
        assert f"{BASE}/{kind}/{item.public_id}" in full_urls

    patient = bundle["entry"][0]["resource"]
    assert patient["name"] == [{"text": item.personal["full_name"]}]
    assert patient["birthDate"] == item.personal["dob"]
    assert {"system": "phone", "value": item.personal["phone"]} in patient["telecom"]
    assert patient["communication"][0]["language"]["coding"][0]["code"] == "es"

    risk = bundle["entry"][2]["resource"]
    prediction = risk["prediction"][0]
    assert prediction["outcome"]["coding"][0]["code"] == item.outcome == "SEEK_CARE"
    assert prediction["qualitativeRisk"]["coding"][0]["code"] == item.care_level
    assert risk["method"]["coding"][0]["version"] == item.ruleset_version
    notes = [note["text"] for note in risk["note"]]
    for rule_id, clinician_note in zip(
        item.fired_rules, item.result["clinician_notes"], strict=True
    ):
        assert any(n.startswith(rule_id) and clinician_note in n for n in notes)

    document = bundle["entry"][3]["resource"]["content"][0]["attachment"]
    assert document["contentType"] == "application/pdf" and document["size"] == len(pdf)
    assert model.entry[3].resource.content[0].attachment.data == pdf


def test_a_patient_without_email_has_only_a_phone():
    item = make_submission("V03")  # no email (3 divides its number)
    item.public_id = secrets.token_hex(16)
    patient = resources.patient(item, BASE)
    fhir_model(patient)
    assert [t["system"] for t in patient["telecom"]] == ["phone"]


def test_operation_outcome_validates():
    fhir_model(resources.operation_outcome("not-found", "No such thing."))
