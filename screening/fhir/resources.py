"""The questionnaire and stored submissions as HL7 FHIR R4 resources (plain JSON dicts).

Everything here is built from the data the rest of the app already uses, never written
twice: the ``Questionnaire`` and the answer ``CodeSystem`` from
``screening/scoring/questionnaire.toml`` (through :mod:`screening.scoring.questionnaire`),
the Spanish wording from the app's catalogue, the rule and outcome code systems from the
rule file, and each submission's resources from its stored row.

The app needs no FHIR library: the resources are dicts serialised with :mod:`json`. The
tests parse every one of them with the R4B models of ``fhir.resources`` (validation is the
library's) and turn each ``QuestionnaireResponse`` back into answers with
:func:`answers_from_response`, which the scorer must score to the stored result.

Identifiers. ``base`` is the API's address (``https://forms.clinic.example/fhir``). The
questionnaire's canonical URL is ``{base}/Questionnaire/tpi-screening`` and a response
points at it with the version it was answered in (``...|2026-11-22.1``). A submission's
``Patient``, ``QuestionnaireResponse``, ``RiskAssessment`` and ``DocumentReference`` all
have its random public id as their id, and carry its reference code (the one the patient
was given) as an identifier with the system ``{base}/sid/reference``.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Any

from flask_babel import force_locale

from screening import i18n
from screening.models import Submission
from screening.scoring import Effect, load_ruleset, questionnaire
from screening.scoring.conditions import Condition
from screening.scoring.questionnaire import CHOICE_TYPES, QUESTIONS, SECTIONS, STAFF, Question

#: The FHIR release the resources follow.
FHIR_VERSION = "4.0.1"
QUESTIONNAIRE_ID = "tpi-screening"
ANSWERS_ID = "tpi-screening-answers"
OUTCOMES_ID = "tpi-screening-outcomes"
CARE_LEVELS_ID = "tpi-screening-care-levels"
RULES_ID = "tpi-screening-rules"
CODE_SYSTEMS = (ANSWERS_ID, OUTCOMES_ID, CARE_LEVELS_ID, RULES_ID)

TRANSLATION = "http://hl7.org/fhir/StructureDefinition/translation"
MIN_VALUE = "http://hl7.org/fhir/StructureDefinition/minValue"
MAX_VALUE = "http://hl7.org/fhir/StructureDefinition/maxValue"
OPTION_EXCLUSIVE = "http://hl7.org/fhir/StructureDefinition/questionnaire-optionExclusive"
CONSTRAINT = "http://hl7.org/fhir/StructureDefinition/questionnaire-constraint"
ENABLE_WHEN_EXPRESSION = (
    "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-enableWhenExpression"
)
LANGUAGE_SYSTEM = "urn:ietf:bcp:47"
#: The one language the patient-facing words are translated to.
SPANISH = "es"

#: Answer type -> Questionnaire.item.type.
ITEM_TYPES = {
    "yes_no": "choice",
    "ynu": "choice",
    "single": "choice",
    "multi": "choice",
    "scale": "integer",
    "int": "integer",
    "text": "text",
    "bool": "boolean",
}
#: Our condition operators that FHIR's enableWhen says the same way (an unanswered
#: question never enables: ours is False on an absent fact, and so is FHIR's "=" or ">").
#: "ne" and "not_in" are left out: FHIR's "!=" is true when the question is unanswered.
ENABLE_OPERATORS = {"eq": "=", "has": "=", "ge": ">=", "gt": ">", "le": "<=", "lt": "<"}


# ------------------------------------------------------------------ small helpers


def instant(moment: datetime) -> str:
    """A FHIR instant in UTC with microseconds (exact, so a cursor built from it is too)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def last_updated(submission: Submission) -> datetime:
    """When the API last offered the submission (its sending time until it is stored)."""
    return submission.feed_updated_at or submission.submitted_at


def url(base: str, resource_type: str, resource_id: str) -> str:
    return f"{base}/{resource_type}/{resource_id}"


def reference_identifier(base: str, reference: str) -> dict[str, str]:
    """The submission's reference code, the one its patient was given."""
    return {"system": f"{base}/sid/reference", "value": reference}


def translated(text: str, language: str = SPANISH) -> dict[str, Any]:
    """The ``_element`` of a string with its translation (FHIR's translation extension)."""
    return {
        "extension": [
            {
                "url": TRANSLATION,
                "extension": [
                    {"url": "lang", "valueCode": language},
                    {"url": "content", "valueString": text},
                ],
            }
        ]
    }


def version_date(version: str) -> str | None:
    """``2026-11-22.1`` -> ``2026-11-22`` (None when the version does not start with a date)."""
    try:
        return date.fromisoformat(version[:10]).isoformat()
    except ValueError:
        return None


@lru_cache(maxsize=1)
def _spanish() -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """Spanish of every question, option label and section title, from the app's catalogue.

    Needs an app context (Flask-Babel's translations); kept for the process's life.
    """
    with force_locale(SPANISH):
        questions = {qid: i18n.question_text(q) for qid, q in QUESTIONS.items()}
        labels = {
            option.label: i18n.translate(option.label)
            for q in QUESTIONS.values()
            for option in q.options
        }
        sections = {key: i18n.translate(title) for key, title in SECTIONS.items()}
    return questions, labels, sections


# ------------------------------------------------------------------ the Questionnaire


def answer_coding(base: str, question: Question, code: str) -> dict[str, Any]:
    """One answer code of ``question`` as a Coding of our answer code system."""
    return {
        "system": url(base, "CodeSystem", ANSWERS_ID),
        "code": code,
        "display": question.label_for(code),
    }


def _answer_value(base: str, question: Question, value: Any) -> dict[str, Any]:
    """The ``answer[x]`` of an enableWhen (or a response answer) for one value."""
    kind = question.type
    if kind in CHOICE_TYPES or kind == "multi":
        return {"answerCoding": {"system": url(base, "CodeSystem", ANSWERS_ID), "code": value}}
    if kind in ("scale", "int"):
        return {"answerInteger": value}
    if kind == "bool":
        return {"answerBoolean": value}
    return {"answerString": value}


def _enable_leaf(base: str, cond: Condition) -> tuple[list[dict[str, Any]], str] | None:
    """``(enableWhen entries, how they combine)`` for one test, or None if FHIR cannot say it."""
    question = QUESTIONS.get(cond.get("q", ""))
    if question is None:
        return None
    op = cond.get("op")
    multi = question.type == "multi"
    if op in ENABLE_OPERATORS:
        value = cond["value"]
        # "has" asks about a list of codes, "eq" about one value (conditions.py); FHIR's
        # "=" is true when any answer matches, so each fits only its own kind of question.
        if (op == "has") is not multi:
            return None
        if op in ("ge", "gt", "le", "lt") and type(value) is not int:
            return None
        entry = {"question": question.id, "operator": ENABLE_OPERATORS[op]}
        return [{**entry, **_answer_value(base, question, value)}], "all"
    if op == "has_any" or (op == "in" and not multi):
        entries = [
            {"question": question.id, "operator": "=", **_answer_value(base, question, value)}
            for value in cond["value"]
        ]
        return entries, "any"
    if op == "true":
        return [{"question": question.id, "operator": "=", "answerBoolean": True}], "all"
    if op == "answered":
        return [{"question": question.id, "operator": "exists", "answerBoolean": True}], "all"
    return None


def enable_when(base: str, cond: Condition) -> dict[str, Any]:
    """The item fields that make a question shown exactly when ``cond`` holds.

    FHIR's ``enableWhen`` (with ``enableBehavior``) when it can say the condition: one
    test, or tests all joined by ``all`` or all by ``any``. Otherwise the SDC
    ``enableWhenExpression`` extension with the same condition in FHIRPath.
    """
    leaf = _enable_leaf(base, cond)
    if leaf is not None:
        entries, behavior = leaf
        return {"enableWhen": entries, **({"enableBehavior": behavior} if len(entries) > 1 else {})}
    for key in ("all", "any"):
        if key not in cond:
            continue
        parts = [_enable_leaf(base, child) for child in cond[key]]
        # Several tests of one child (has_any) join by "any": they fit only an "any" list.
        if all(part is not None and (len(part[0]) == 1 or part[1] == key) for part in parts):
            entries = [entry for part in parts if part is not None for entry in part[0]]
            return {"enableWhen": entries, "enableBehavior": key}
    return {
        "extension": [
            {
                "url": ENABLE_WHEN_EXPRESSION,
                "valueExpression": {"language": "text/fhirpath", "expression": fhirpath(cond)},
            }
        ]
    }


def _literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    text = str(value).replace("\\", "\\\\").replace("'", "\\'")
    return f"'{text}'"


def fhirpath(cond: Condition) -> str:
    """A FHIRPath expression over the response that is true exactly when ``cond`` holds.

    Every test is written to give true or false, never empty, so ``not`` keeps the
    meaning of :mod:`screening.scoring.conditions` (a test of an unanswered question is
    false, and its negation true).
    """
    if "all" in cond:
        return " and ".join(f"({fhirpath(c)})" for c in cond["all"])
    if "any" in cond:
        return " or ".join(f"({fhirpath(c)})" for c in cond["any"])
    if "not" in cond:
        return f"({fhirpath(cond['not'])}).not()"
    qid = cond["q"]
    question = QUESTIONS.get(qid)
    coded = question is not None and (question.type in CHOICE_TYPES or question.type == "multi")
    values = f"%resource.repeat(item).where(linkId = {_literal(qid)}).answer.value"
    if coded:
        values += ".code"
    op = cond["op"]
    value: Any = cond.get("value")  # a code, a number or a list of codes, by op
    if op in ("eq", "has"):
        return f"{values}.where($this = {_literal(value)}).exists()"
    if op == "ne":
        return f"{values}.exists() and {values}.where($this = {_literal(value)}).empty()"
    if op in ("in", "has_any"):
        options = " | ".join(_literal(v) for v in value)
        return f"{values}.where($this in ({options})).exists()"
    if op == "not_in":
        options = " | ".join(_literal(v) for v in value)
        return f"{values}.exists() and {values}.where($this in ({options})).empty()"
    if op in ("ge", "gt", "le", "lt"):
        symbol = {"ge": ">=", "gt": ">", "le": "<=", "lt": "<"}[op]
        return f"{values}.where($this {symbol} {_literal(value)}).exists()"
    if op == "true":
        return f"{values}.where($this = true).exists()"
    if op == "answered":
        return f"{values}.exists()"
    raise ValueError(f"unknown operator {op!r}")


def _question_item(base: str, question: Question) -> dict[str, Any]:
    es_questions, es_labels, _ = _spanish()
    item: dict[str, Any] = {
        "linkId": question.id,
        "text": question.text,
        "_text": translated(es_questions[question.id]),
        "type": ITEM_TYPES[question.type],
    }
    extensions: list[dict[str, Any]] = []
    if question.required:
        item["required"] = True
    if question.type == "multi":
        item["repeats"] = True
    if question.options:
        options = []
        for option in question.options:
            coding = answer_coding(base, question, option.code)
            coding["_display"] = translated(es_labels[option.label])
            entry: dict[str, Any] = {"valueCoding": coding}
            if option.code == question.exclusive:
                entry["extension"] = [{"url": OPTION_EXCLUSIVE, "valueBoolean": True}]
            options.append(entry)
        item["answerOption"] = options
    if question.type in ("scale", "int"):
        extensions += [
            {"url": MIN_VALUE, "valueInteger": question.min},
            {"url": MAX_VALUE, "valueInteger": question.max},
        ]
    if question.max_length is not None:
        item["maxLength"] = question.max_length
    if question.choices_within is not None:
        within = question.choices_within
        extensions.append(
            {
                "url": CONSTRAINT,
                "extension": [
                    {"url": "key", "valueId": f"{question.id}-within-{within}".replace("_", "-")},
                    {"url": "severity", "valueCode": "error"},
                    {
                        "url": "expression",
                        "valueString": (
                            f"answer.value.code.subsetOf(%resource.repeat(item)"
                            f".where(linkId = '{within}').answer.value.code)"
                        ),
                    },
                    {
                        "url": "human",
                        "valueString": f"The answer is one of those chosen in '{within}'.",
                    },
                ],
            }
        )
    if question.shown_when is not None:
        condition = enable_when(base, question.shown_when)
        extensions += condition.pop("extension", [])
        item.update(condition)
    if extensions:
        item["extension"] = extensions
    return item


@lru_cache(maxsize=8)
def _questionnaire(base: str) -> dict[str, Any]:
    _, _, es_sections = _spanish()
    groups = []
    for section, title in SECTIONS.items():
        members = [q for q in QUESTIONS.values() if q.section == section]
        if not members:
            continue
        groups.append(
            {
                "linkId": section,
                "text": title,
                "_text": translated(es_sections[section]),
                "type": "group",
                "item": [_question_item(base, q) for q in members],
            }
        )
    resource: dict[str, Any] = {
        "resourceType": "Questionnaire",
        "id": QUESTIONNAIRE_ID,
        "url": url(base, "Questionnaire", QUESTIONNAIRE_ID),
        "version": questionnaire.VERSION,
        "name": "TPIScreening",
        "title": "Trigger point injection screening",
        "status": "active",
        "subjectType": ["Patient"],
        "language": "en",
        "description": (
            "Questions for someone with long-lasting muscle pain who wants to know whether "
            "trigger point injections are worth discussing with a clinician. Generated from "
            "the app's questionnaire data; Spanish wording as translation extensions."
        ),
        "item": groups,
    }
    if (day := version_date(questionnaire.VERSION)) is not None:
        resource["date"] = day
    return resource


def questionnaire_resource(base: str) -> dict[str, Any]:
    """The questionnaire as a FHIR ``Questionnaire`` (needs an app context the first time).

    One group per section, one item per question (``linkId`` = question id), options as
    codings of :data:`ANSWERS_ID`, "shown when" as ``enableWhen``, required flags, the
    questionnaire's version.
    """
    return _questionnaire(base)


# ------------------------------------------------------------------ code systems


def _code_system(
    base: str, resource_id: str, name: str, title: str, version: str, concepts: list[dict]
) -> dict[str, Any]:
    return {
        "resourceType": "CodeSystem",
        "id": resource_id,
        "url": url(base, "CodeSystem", resource_id),
        "version": version,
        "name": name,
        "title": title,
        "status": "active",
        "caseSensitive": True,
        "content": "complete",
        "count": len(concepts),
        "concept": concepts,
    }


def _answer_concepts() -> list[dict[str, Any]]:
    """Every answer code once; a code worded differently by two questions ("other": "Other",
    "Something else") keeps its first wording as display and the others as designations."""
    _, es_labels, _ = _spanish()
    labels: dict[str, list[str]] = {}
    for question in QUESTIONS.values():
        for option in question.options:
            seen = labels.setdefault(option.code, [])
            if option.label not in seen:
                seen.append(option.label)
    concepts = []
    for code, words in labels.items():
        designations = [{"language": "en", "value": other} for other in words[1:]]
        spanish: list[str] = []
        for label in words:
            if es_labels[label] not in spanish:
                spanish.append(es_labels[label])
        designations += [{"language": SPANISH, "value": text} for text in spanish]
        concepts.append(
            {
                "code": code,
                "display": words[0],
                "_display": translated(spanish[0]),
                "designation": designations,
            }
        )
    return concepts


@lru_cache(maxsize=8)
def _code_systems(base: str) -> dict[str, dict[str, Any]]:
    ruleset = load_ruleset()
    return {
        ANSWERS_ID: _code_system(
            base,
            ANSWERS_ID,
            "TPIScreeningAnswers",
            "Answer codes of the TPI screening questionnaire",
            questionnaire.VERSION,
            _answer_concepts(),
        ),
        OUTCOMES_ID: _code_system(
            base,
            OUTCOMES_ID,
            "TPIScreeningOutcomes",
            "Outcomes of the TPI screening",
            ruleset.version,
            [{"code": code, "display": words} for code, words in STAFF.outcomes.items()],
        ),
        CARE_LEVELS_ID: _code_system(
            base,
            CARE_LEVELS_ID,
            "TPIScreeningCareLevels",
            "How soon a 'Seek care' outcome must be seen",
            ruleset.version,
            [{"code": code, "display": words} for code, words in STAFF.care_levels.items()],
        ),
        RULES_ID: _code_system(
            base,
            RULES_ID,
            "TPIScreeningRules",
            "Rules of the TPI screening",
            ruleset.version,
            [
                {
                    "code": rule.id,
                    "display": STAFF.effects[rule.effect],
                    "definition": rule.clinician_note,
                }
                for rule in ruleset.rules
            ],
        ),
    }


def code_system(base: str, resource_id: str) -> dict[str, Any] | None:
    """One of :data:`CODE_SYSTEMS` (None for any other id)."""
    return _code_systems(base).get(resource_id)


# ------------------------------------------------------------------ a submission


def _answers(base: str, question: Question, value: Any) -> list[dict[str, Any]]:
    kind = question.type
    if kind == "multi":
        return [{"valueCoding": answer_coding(base, question, code)} for code in value]
    if kind in CHOICE_TYPES:
        return [{"valueCoding": answer_coding(base, question, value)}]
    if kind in ("scale", "int"):
        return [{"valueInteger": value}]
    if kind == "bool":
        return [{"valueBoolean": value}]
    return [{"valueString": value}]


def _given(value: Any) -> bool:
    """An answer a response can hold (FHIR strings cannot be empty or only spaces)."""
    if value is None or value == []:
        return False
    return not (isinstance(value, str) and not value.strip())


def questionnaire_response(submission: Submission, base: str) -> dict[str, Any]:
    """Every answer of ``submission``, grouped by section like the questionnaire."""
    answers = submission.answers
    groups = []
    for section, title in SECTIONS.items():
        items = [
            {"linkId": qid, "text": q.text, "answer": _answers(base, q, answers[qid])}
            for qid, q in QUESTIONS.items()
            if q.section == section and _given(answers.get(qid))
        ]
        if items:
            groups.append({"linkId": section, "text": title, "item": items})
    pid = submission.public_id
    return {
        "resourceType": "QuestionnaireResponse",
        "id": pid,
        "meta": {"lastUpdated": instant(last_updated(submission))},
        "language": submission.language,
        "identifier": reference_identifier(base, submission.reference),
        "questionnaire": (
            f"{url(base, 'Questionnaire', QUESTIONNAIRE_ID)}|{submission.questionnaire_version}"
        ),
        "status": "completed",
        "subject": {"reference": f"Patient/{pid}"},
        "source": {"reference": f"Patient/{pid}"},
        "authored": instant(submission.submitted_at),
        "item": groups,
    }


def _field(node: Any, name: str) -> Any:
    """``node[name]`` of JSON, or ``node.name`` of a FHIR library's model (None if absent)."""
    if isinstance(node, Mapping):
        return node.get(name)
    return getattr(node, name, None)


def _answer_of(entry: Any) -> Any:
    coding = _field(entry, "valueCoding")
    if coding is not None:
        return _field(coding, "code")
    for key in ("valueInteger", "valueBoolean", "valueString"):
        value = _field(entry, key)
        if value is not None:
            return value
    raise ValueError("an answer of a type this questionnaire does not use")


def _items(items: Iterable[Any] | None) -> Iterable[Any]:
    for item in items or ():
        yield item
        yield from _items(_field(item, "item"))


def answers_from_response(resource: Any) -> dict[str, Any]:
    """The scorer's answers (question id -> coded value) from a ``QuestionnaireResponse``:
    its JSON, or the object a FHIR library parsed it into.

    The inverse of :func:`questionnaire_response`: multiple-choice answers as lists of
    codes in the order given, the others as one value. Items that are not questions of
    this questionnaire (its section groups) are passed over.
    """
    answers: dict[str, Any] = {}
    for item in _items(_field(resource, "item")):
        question = QUESTIONS.get(_field(item, "linkId"))
        entries = _field(item, "answer")
        if question is None or not entries:
            continue
        values = [_answer_of(entry) for entry in entries]
        answers[question.id] = values if question.type == "multi" else values[0]
    return answers


def patient(submission: Submission, base: str) -> dict[str, Any]:
    """The person as they gave themselves: name, date of birth, phone, email, language."""
    personal = submission.personal or {}
    resource: dict[str, Any] = {
        "resourceType": "Patient",
        "id": submission.public_id,
        "meta": {"lastUpdated": instant(last_updated(submission))},
    }
    if _given(personal.get("full_name")):
        resource["name"] = [{"text": personal["full_name"]}]
    telecom = [
        {"system": system, "value": personal[key]}
        for key, system in (("phone", "phone"), ("email", "email"))
        if _given(personal.get(key))
    ]
    if telecom:
        resource["telecom"] = telecom
    if personal.get("dob"):
        resource["birthDate"] = personal["dob"]
    resource["communication"] = [
        {
            "language": {
                "coding": [
                    {
                        "system": LANGUAGE_SYSTEM,
                        "code": submission.language,
                        "display": i18n.ENGLISH_NAMES.get(submission.language, ""),
                    }
                ]
            },
            "preferred": True,
        }
    ]
    return resource


def _effect_words(rule_id: str) -> str | None:
    rule = load_ruleset().by_id.get(rule_id)
    return None if rule is None else STAFF.effects[Effect(rule.effect)]


def risk_assessment(submission: Submission, base: str) -> dict[str, Any]:
    """The outcome and care level as a coded prediction, the rule set version, and each
    fired rule (id, effect and clinician note, as stored with the submission) as a note."""
    pid = submission.public_id
    result = submission.result or {}
    prediction: dict[str, Any] = {
        "outcome": {
            "coding": [
                {
                    "system": url(base, "CodeSystem", OUTCOMES_ID),
                    "code": submission.outcome,
                    "display": STAFF.outcomes.get(submission.outcome, submission.outcome),
                }
            ],
        }
    }
    if submission.care_level:
        prediction["qualitativeRisk"] = {
            "coding": [
                {
                    "system": url(base, "CodeSystem", CARE_LEVELS_ID),
                    "code": submission.care_level,
                    "display": STAFF.care_levels.get(submission.care_level, submission.care_level),
                }
            ]
        }
    notes = []
    clinician_notes = result.get("clinician_notes") or []
    for index, rule_id in enumerate(submission.fired_rules or []):
        note = clinician_notes[index] if index < len(clinician_notes) else ""
        effect = _effect_words(rule_id)
        label = f"{rule_id} ({effect})" if effect else rule_id
        notes.append({"text": f"{label}: {note}" if note else label})
    blocking = "yes" if submission.blocking_contraindication else "no"
    notes.append(
        {
            "text": (
                f"Support score {submission.support_score}; PEG score {submission.peg_score:g} "
                f"(0 to 10); blocking contraindication: {blocking}."
            )
        }
    )
    version = submission.ruleset_version
    return {
        "resourceType": "RiskAssessment",
        "id": pid,
        "meta": {"lastUpdated": instant(last_updated(submission))},
        "identifier": [reference_identifier(base, submission.reference)],
        "status": "final",
        "method": {
            "coding": [
                {
                    "system": f"{base}/rule-set",
                    "version": version,
                    "code": QUESTIONNAIRE_ID,
                    "display": "TPI screening rule set",
                }
            ],
            "text": f"TPI screening rule set, version {version}",
        },
        "code": {"text": "Trigger point injection screening"},
        "subject": {"reference": f"Patient/{pid}"},
        "occurrenceDateTime": instant(submission.submitted_at),
        "basis": [{"reference": f"QuestionnaireResponse/{pid}"}],
        "prediction": [prediction],
        "note": notes,
    }


def document_reference(
    submission: Submission, base: str, pdf: bytes, made_at: datetime
) -> dict[str, Any]:
    """The clinician's one-page summary (``pdf``, made at ``made_at``) as an attachment."""
    pid = submission.public_id
    return {
        "resourceType": "DocumentReference",
        "id": pid,
        "meta": {"lastUpdated": instant(last_updated(submission))},
        "identifier": [reference_identifier(base, submission.reference)],
        "status": "current",
        "docStatus": "final",
        "type": {"text": "Clinician summary of a TPI screening questionnaire"},
        "subject": {"reference": f"Patient/{pid}"},
        "date": instant(made_at),
        "description": f"TPI screening summary, reference {submission.reference}",
        "content": [
            {
                "attachment": {
                    "contentType": "application/pdf",
                    "language": "en",
                    "data": base64.b64encode(pdf).decode("ascii"),
                    "size": len(pdf),
                    "title": f"summary-{submission.reference}.pdf",
                    "creation": instant(made_at),
                }
            }
        ],
        "context": {"related": [{"reference": f"QuestionnaireResponse/{pid}"}]},
    }


def bundle(submission: Submission, base: str, pdf: bytes, made_at: datetime) -> dict[str, Any]:
    """A submission as one ``collection`` Bundle: Patient, QuestionnaireResponse,
    RiskAssessment and DocumentReference (the references between them resolve inside it)."""
    resources = [
        patient(submission, base),
        questionnaire_response(submission, base),
        risk_assessment(submission, base),
        document_reference(submission, base, pdf, made_at),
    ]
    return {
        "resourceType": "Bundle",
        "id": submission.reference,
        "meta": {"lastUpdated": instant(last_updated(submission))},
        "identifier": reference_identifier(base, submission.reference),
        "type": "collection",
        "timestamp": instant(made_at),
        "entry": [
            {"fullUrl": url(base, r["resourceType"], r["id"]), "resource": r} for r in resources
        ],
    }


def operation_outcome(code: str, text: str, severity: str = "error") -> dict[str, Any]:
    """An ``OperationOutcome`` with one issue (``code`` from FHIR's issue-type codes)."""
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": severity, "code": code, "diagnostics": text}],
    }
