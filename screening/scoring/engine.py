"""Derived values (README §2.5), rule evaluation and outcome (§4), questions to bring (§5).

Everything here is a pure function of the coded answers and a loaded
:class:`~screening.scoring.model.RuleSet`: no clock, no I/O, no free text.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from screening.scoring import conditions, questionnaire
from screening.scoring.model import (
    AskedQuestion,
    CareLevel,
    Effect,
    Outcome,
    Rule,
    RuleSet,
    ScoringResult,
)

#: The conservative set (README §2.5): the less invasive care tried before injections.
CONSERVATIVE_SET = (
    "tx_pt",
    "tx_stretch",
    "tx_massage",
    "tx_manip",
    "tx_heat_ice",
    "tx_acupuncture",
    "tx_dry_needling",
    "tx_tens",
    "tx_cbt",
)
#: anticoag (README §2.5); "not sure" and "another" count as yes (README §2.1 rule 5).
ANTICOAG_CODES = frozenset(
    {
        "bt_warfarin",
        "bt_apixaban",
        "bt_rivaroxaban",
        "bt_dabigatran",
        "bt_edoxaban",
        "bt_heparin",
        "bt_clopidogrel",
        "bt_prasugrel",
        "bt_ticagrelor",
        "bt_other",
        "bt_not_sure",
    }
)
#: la_allergy (README §2.5): any local anesthetic checked in the allergy list.
LA_ALLERGY_CODES = frozenset({"alg_lidocaine", "alg_bupivacaine", "alg_other_caine"})
#: The five ACR 2016 groups counted by acr_groups.
ACR_GROUPS = frozenset({"AXIAL", "L-UPPER", "R-UPPER", "L-LOWER", "R-LOWER"})
HEAD_OR_JAW = frozenset(
    code for code in questionnaire.REGIONS if code.startswith(("head_", "jaw_"))
)
_GROUP = {r.code: r.acr_group for r in questionnaire.REGIONS.values()}
_LUNG = frozenset(r.code for r in questionnaire.REGIONS.values() if r.lung)
_TYPICAL = frozenset(r.code for r in questionnaire.REGIONS.values() if r.typical)
_EFFECT_QUESTIONS = tuple(f"{code}_effect" for code in CONSERVATIVE_SET)

#: Answer defaults for optional questions (tp_twitch: not_sure, ivdu: prefer_not).
DEFAULTS = {q.id: q.default for q in questionnaire.QUESTIONS.values() if q.default is not None}


@dataclass(frozen=True)
class Derived:
    """A name rules may test besides question ids."""

    #: ``bool``, ``int``, ``float`` or ``rules`` (the set of fired rule ids).
    kind: str
    #: Question ids it is computed from; a rule reading it counts as reading them.
    inputs: tuple[str, ...] = ()


#: Every derived name a rule may use, with what it is computed from.
DERIVED: dict[str, Derived] = {
    "acr_groups": Derived("int", ("regions",)),
    "axial": Derived("bool", ("regions",)),
    "head_or_jaw": Derived("bool", ("regions",)),
    "lung_region": Derived("bool", ("regions",)),
    # Not among the reference's derived values (README §9 item 7), but S11_TYPICAL_REGION
    # needs it; it reads the region table rather than repeating the list of typical sites
    # in the rule file.
    "primary_typical": Derived("bool", ("primary_region",)),
    "core_trp": Derived("bool", ("tp_knot", "tp_spot", "tp_referred")),
    "conservative_adequate": Derived("bool", ("tx", "pt_weeks")),
    "conservative_helping": Derived("bool", ("tx", *_EFFECT_QUESTIONS)),
    "anticoag": Derived("bool", ("bt",)),
    "la_allergy": Derived("bool", ("allergy",)),
    "immunosuppressed": Derived("bool", ("immuno_meds", "immuno_condition")),
    "fever": Derived("bool", ("fever_2w",)),
    "peg_score": Derived("float", ("peg_p", "peg_e", "peg_g")),
    # These two change while rules are evaluated; see evaluate().
    "support_score": Derived("int"),
    "fired": Derived("rules"),
}


def peg_score(answers: Mapping[str, Any]) -> float:
    """Return the PEG score: the mean of the three items, to one decimal."""
    total: int = answers["peg_p"] + answers["peg_e"] + answers["peg_g"]
    return round(total / 3, 1)


def derive(answers: Mapping[str, Any]) -> dict[str, Any]:
    """Compute the derived values (README §2.5) from a valid, visible answer set.

    ``support_score`` and ``fired`` are left to :func:`evaluate`.

    :param answers: validated answers with hidden questions removed.
    :return: derived names mapped to their values.
    """
    regions = answers["regions"]
    tx = answers["tx"]
    bt = answers["bt"]
    allergy = answers["allergy"]
    groups = {_GROUP[code] for code in regions} & ACR_GROUPS
    conservative = [code for code in CONSERVATIVE_SET if code in tx]
    return {
        "acr_groups": len(groups),
        "axial": "AXIAL" in groups,
        "head_or_jaw": any(code in HEAD_OR_JAW for code in regions),
        "lung_region": any(code in _LUNG for code in regions),
        "primary_typical": answers["primary_region"] in _TYPICAL,
        "core_trp": "yes" in (answers["tp_knot"], answers["tp_spot"], answers["tp_referred"]),
        "conservative_adequate": (
            ("tx_pt" in tx and answers.get("pt_weeks") == "ge_6w") or len(conservative) >= 2
        ),
        "conservative_helping": any(
            answers.get(f"{code}_effect") == "helped_lot" for code in conservative
        ),
        "anticoag": any(code in ANTICOAG_CODES for code in bt),
        "la_allergy": any(code in LA_ALLERGY_CODES for code in allergy),
        "immunosuppressed": answers["immuno_meds"] == "yes" or answers["immuno_condition"] == "yes",
        "fever": answers["fever_2w"] == "yes",
        "peg_score": peg_score(answers),
    }


def facts_for(answers: Mapping[str, Any]) -> dict[str, Any]:
    """Return the answers with defaults filled in, plus the derived values."""
    facts = {**DEFAULTS, **answers}
    facts.update(derive(facts))
    return facts


def evaluate(ruleset: RuleSet, answers: Mapping[str, Any]) -> ScoringResult:
    """Evaluate every rule against one valid answer set.

    Rules run in the rule set's evaluation order, which the loader has arranged
    so that a rule testing ``support_score`` or ``fired`` runs after every rule
    it depends on. All rules are evaluated; none stops the others.

    :param ruleset: a validated rule set.
    :param answers: validated answers with hidden questions removed.
    :return: the scoring result.
    """
    facts = facts_for(answers)
    fired: set[str] = set()
    support = 0
    facts["fired"] = fired
    facts["support_score"] = support
    for rule in ruleset.rules:
        if conditions.evaluate(rule.when, facts):
            fired.add(rule.id)
            if rule.points:
                support += rule.points
                facts["support_score"] = support
    ordered = tuple(sorted((ruleset.by_id[rid] for rid in fired), key=lambda r: r.sort_key))
    effects = {rule.effect for rule in ordered}
    outcome, care_level = combine(effects)
    return ScoringResult(
        outcome=outcome,
        care_level=care_level,
        blocking_contraindication=Effect.ABSOLUTE in effects,
        support_score=support,
        peg_score=facts["peg_score"],
        fired=ordered,
        asked=questions_to_bring(ruleset, ordered, facts),
        ruleset_version=ruleset.version,
        headline=ruleset.headlines[(outcome, care_level)],
    )


def combine(effects: set[Effect]) -> tuple[Outcome, CareLevel | None]:
    """Combine the effects of the fired rules into an outcome (README §4.1 step 5)."""
    if Effect.EMERGENCY in effects:
        return Outcome.SEEK_CARE, CareLevel.EMERGENCY
    if Effect.PROMPT in effects:
        return Outcome.SEEK_CARE, CareLevel.PROMPT
    if Effect.AGAINST in effects:
        return Outcome.NOT_A_FIT, None
    if effects & {Effect.ABSOLUTE, Effect.RELATIVE, Effect.CONCERN}:
        return Outcome.DISCUSS_WITH_CONCERNS, None
    return Outcome.DISCUSS, None


def questions_to_bring(
    ruleset: RuleSet, fired: tuple[Rule, ...], answers: Mapping[str, Any]
) -> tuple[AskedQuestion, ...]:
    """List the questions to bring in output order (README §5).

    Triggered questions come first, in the order of the fired rules that add
    them, then the "always" questions; each question appears once.
    """
    ids = dict.fromkeys(qid for rule in fired for qid in rule.questions)
    ids.update(dict.fromkeys(q.id for q in ruleset.always_questions))
    return tuple(
        AskedQuestion(qid, fill(ruleset, qid, answers), ruleset.catalogue[qid].always)
        for qid in ids
    )


def untranslated(text: str) -> str:
    """The English wording as it is (the scorer's own language)."""
    return text


def english_list(words: Sequence[str]) -> str:
    """Join words as "a, b and c"."""
    if len(words) == 1:
        return words[0]
    return ", ".join(words[:-1]) + " and " + words[-1]


def fill(
    ruleset: RuleSet,
    qid: str,
    answers: Mapping[str, Any],
    translate: Callable[[str], str] = untranslated,
    join: Callable[[Sequence[str]], str] = english_list,
) -> str:
    """Return the wording of question to bring ``qid`` with its placeholders filled.

    :param ruleset: the rule set holding the catalogue.
    :param qid: a catalogue id such as ``Q20``.
    :param answers: the patient's answers (only coded answers are read).
    :param translate: turns each English wording (the question, each answer's words, a
        fallback) into the reader's language; the scorer itself knows only English.
    :param join: joins several answers' words in that language.
    """
    text = translate(ruleset.catalogue[qid].text)
    if "{" not in text:
        return text
    words = {
        name: plain_list(ruleset, name, answers, translate, join)
        for name in ruleset.placeholders
        if "{" + name + "}" in text
    }
    filled = text.format_map(words)
    # A placeholder can open the sentence ("{treatment} is helping a lot").
    return filled[0].upper() + filled[1:]


def plain_list(
    ruleset: RuleSet,
    name: str,
    answers: Mapping[str, Any],
    translate: Callable[[str], str] = untranslated,
    join: Callable[[Sequence[str]], str] = english_list,
) -> str:
    """Name the ticked options behind placeholder ``name`` in plain words."""
    spec = ruleset.placeholders[name]
    question = questionnaire.QUESTIONS[spec.question]
    ticked = answers.get(spec.question) or ()
    words = [
        plain_words(ruleset, question, code, translate)
        for code in (o.code for o in question.options)
        if code in ticked
        and code in spec.codes
        and (spec.effect is None or answers.get(f"{code}_effect") == spec.effect)
    ]
    if not words:
        return translate(spec.fallback)
    return join(words)


def plain_words(
    ruleset: RuleSet,
    question: questionnaire.Question,
    code: str,
    translate: Callable[[str], str] = untranslated,
) -> str:
    """Return an option's label as it reads inside a sentence."""
    if code in ruleset.plain_words:
        return translate(ruleset.plain_words[code])
    label = translate(question.label_for(code))
    # Lower-case a leading capital ("Massage"), but keep acronyms ("TENS ...").
    if len(label) > 1 and label[1].islower():
        return label[0].lower() + label[1:]
    return label
