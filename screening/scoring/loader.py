"""Read and validate the rule file and the questions-to-bring catalogue.

A broken rule file must stop the app at start-up, never surface while a patient
is filling in the form, so every problem is collected (not just the first) and
each message names the rule, question or headline it is about.
"""

from __future__ import annotations

import functools
import re
import string
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from screening.scoring import conditions, questionnaire
from screening.scoring.engine import DERIVED
from screening.scoring.model import (
    BringQuestion,
    CareLevel,
    Effect,
    Outcome,
    Placeholder,
    Rule,
    RuleSet,
)

RULES_FILE = Path(__file__).with_name("rules.toml")
QUESTIONS_FILE = Path(__file__).with_name("questions_to_bring.toml")

_TOP_KEYS = {"version", "unscored", "known_sources", "headline", "rule"}
_RULE_KEYS = {
    "id",
    "effect",
    "when",
    "points",
    "patient",
    "clinician",
    "sources",
    "source_note",
    "questions",
}
_CATALOGUE_KEYS = {"for_later_heading", "placeholders", "plain_words", "question"}
_BRING_KEYS = {"id", "text", "always"}
_PLACEHOLDER_KEYS = {"question", "codes", "fallback", "effect"}
_HEADLINE_KEYS = {"outcome", "care_level", "text"}
_RULE_ID = re.compile(r"[A-Z][0-9]{2}_[A-Z0-9_]+")
_BRING_ID = re.compile(r"Q[0-9]{2}")

#: Operators that make sense for each kind of fact. Others are rejected because
#: they would silently never match (``has`` on a single choice, ``ge`` on a code).
_CHOICE_OPS = frozenset({"eq", "ne", "in", "not_in", "has_any", "answered"})
_NUMBER_OPS = frozenset({"eq", "ne", "in", "not_in", "ge", "gt", "le", "lt", "answered"})
_OPS_BY_TYPE = {
    "yes_no": _CHOICE_OPS,
    "ynu": _CHOICE_OPS,
    "single": _CHOICE_OPS,
    "multi": frozenset({"has", "has_any", "answered"}),
    "scale": _NUMBER_OPS,
    "int": _NUMBER_OPS,
    "bool": frozenset({"true", "answered"}),
    "text": frozenset(),
}
_OPS_BY_KIND = {
    "bool": frozenset({"true"}),
    "int": _NUMBER_OPS - {"answered"},
    "float": _NUMBER_OPS - {"answered"},
    "rules": frozenset({"has", "has_any"}),
}


class RulesetError(Exception):
    """The rule file or the questions catalog is not valid.

    :param problems: one message per problem, each naming what it is about.
    """

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(
            "the scoring rule set is not valid:\n" + "\n".join(f"- {p}" for p in problems)
        )


def load_ruleset(
    path: Path | str | None = None, questions_path: Path | str | None = None
) -> RuleSet:
    """Read and validate a rule file and a questions catalog.

    The packaged files are read once and cached; pass paths to load others
    (tests, a clinician's draft).

    :param path: the rule file; defaults to the packaged ``rules.toml``.
    :param questions_path: the catalogue; defaults to the packaged ``questions_to_bring.toml``.
    :return: the validated rule set.
    :raise RulesetError: listing every problem found.
    """
    if path is None and questions_path is None:
        return _load_default()
    return _load(path, questions_path)


@functools.cache
def _load_default() -> RuleSet:
    return _load(None, None)


def _load(path: Path | str | None, questions_path: Path | str | None) -> RuleSet:
    ruleset, problems = _read(path, questions_path)
    if ruleset is None:
        raise RulesetError(problems)
    return ruleset


def check_ruleset(
    path: Path | str | None = None, questions_path: Path | str | None = None
) -> list[str]:
    """Return every problem in a rule file and catalogue (empty when valid).

    :param path: the rule file; defaults to the packaged ``rules.toml``.
    :param questions_path: the catalogue; defaults to the packaged ``questions_to_bring.toml``.
    """
    return _read(path, questions_path)[1]


def _read(
    path: Path | str | None, questions_path: Path | str | None
) -> tuple[RuleSet | None, list[str]]:
    rules_file = Path(path) if path is not None else RULES_FILE
    catalogue_file = Path(questions_path) if questions_path is not None else QUESTIONS_FILE
    problems: list[str] = []
    data = [_parse(f, problems) for f in (rules_file, catalogue_file)]
    if problems:
        return None, problems
    return build(data[0], data[1])


def _parse(path: Path, problems: list[str]) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        problems.append(f"{path.name}: cannot be read: {exc}")
        return {}


def build(
    rules_data: Mapping[str, Any], catalogue_data: Mapping[str, Any]
) -> tuple[RuleSet | None, list[str]]:
    """Validate parsed rule and catalogue data and build a rule set from them.

    :param rules_data: the parsed rule file.
    :param catalogue_data: the parsed questions catalog.
    :return: ``(ruleset, [])`` when valid, otherwise ``(None, problems)``.
    """
    problems: list[str] = []
    catalogue, heading, placeholders, plain = _catalogue(catalogue_data, problems)
    problems.extend(f"rule file: unknown key '{k}'" for k in sorted(set(rules_data) - _TOP_KEYS))
    version = rules_data.get("version")
    if not isinstance(version, str) or not version.strip():
        problems.append("rule file: 'version' must be a non-empty string")
    known_sources = _str_list(
        rules_data.get("known_sources"), "rule file: 'known_sources'", problems
    )
    unscored = _str_list(rules_data.get("unscored"), "rule file: 'unscored'", problems)
    headlines = _headlines(rules_data.get("headline"), problems)
    raw_rules = rules_data.get("rule")
    if not isinstance(raw_rules, list) or not raw_rules:
        problems.append("rule file: needs at least one [[rule]]")
        raw_rules = []
    rules: dict[str, Rule] = {}
    for number, raw in enumerate(raw_rules, start=1):
        rule = _rule(raw, number, set(known_sources), catalogue, rules, problems)
        if rule is not None:
            rules[rule.id] = rule
    order = _evaluation_order(rules, problems)
    if len(rules) == len(raw_rules):
        # With a rule rejected, its questions would be reported as unread: noise.
        _check_coverage(rules, set(unscored), catalogue, problems)
    if problems:
        return None, problems
    return (
        RuleSet(
            version=str(version),
            rules=tuple(rules[rid] for rid in order),
            catalogue=catalogue,
            headlines=headlines,
            for_later_heading=heading,
            unscored=frozenset(unscored),
            placeholders=placeholders,
            plain_words=plain,
            by_id=rules,
        ),
        [],
    )


def _str_list(value: Any, where: str, problems: list[str]) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        problems.append(f"{where} must be a list of strings")
        return []
    return value


def _text(raw: Mapping[str, Any], key: str) -> str:
    value = raw.get(key)
    return value.strip() if isinstance(value, str) else ""


def _rule(
    raw: Any,
    number: int,
    known_sources: set[str],
    catalogue: Mapping[str, BringQuestion],
    earlier: Mapping[str, Rule],
    problems: list[str],
) -> Rule | None:
    if not isinstance(raw, Mapping) or not isinstance(raw.get("id"), str):
        problems.append(f"rule #{number}: needs a string 'id'")
        return None
    rid = raw["id"]
    start = len(problems)
    name = f"rule {rid}"
    if not _RULE_ID.fullmatch(rid):
        problems.append(f"{name}: id must look like 'R01_NAME'")
    if rid in earlier:
        problems.append(f"{name}: duplicate rule id")
    problems.extend(f"{name}: unknown key '{k}'" for k in sorted(set(raw) - _RULE_KEYS))
    effect: Any = raw.get("effect")  # the data file's, checked here
    if effect not in Effect.__members__:
        problems.append(f"{name}: unknown effect {effect!r}")
    points = raw.get("points", 0)
    if effect == Effect.SUPPORT and (
        not isinstance(points, int) or isinstance(points, bool) or points < 1
    ):
        problems.append(f"{name}: a SUPPORT rule needs whole 'points' of 1 or more")
    elif effect != Effect.SUPPORT and "points" in raw:
        problems.append(f"{name}: only SUPPORT rules have points")
    if not _text(raw, "patient"):
        problems.append(f"{name}: has no patient wording ('patient')")
    if not _text(raw, "clinician"):
        problems.append(f"{name}: has no clinician note ('clinician')")
    sources = raw.get("sources")
    if not isinstance(sources, list) or not sources:
        problems.append(f"{name}: has no source ('sources'; use JUDGMENT for a judgment call)")
        sources = []
    problems.extend(
        f"{name}: unknown source {s!r} (not in known_sources)"
        for s in sources
        if s not in known_sources
    )
    wanted = raw.get("questions", [])
    if not isinstance(wanted, list):
        problems.append(f"{name}: 'questions' must be a list of question-to-bring ids")
        wanted = []
    for qid in wanted:
        if qid not in catalogue:
            problems.append(f"{name}: unknown question to bring {qid!r}")
        elif catalogue[qid].always:
            problems.append(f"{name}: question to bring {qid} is already asked always")
    when: Any = raw.get("when")  # the data file's: check() says what is wrong with it
    structural = conditions.check(when)
    problems.extend(f"{name}: condition: {p}" for p in structural)
    if not structural:
        for leaf in conditions.leaves(when):
            problems.extend(f"{name}: condition: {p}" for p in _leaf_problems(leaf))
    if len(problems) > start:
        return None
    return Rule(
        id=rid,
        effect=Effect(effect),
        when=when,
        patient_reason=raw["patient"],
        clinician_note=raw["clinician"],
        sources=tuple(sources),
        points=points,
        questions=tuple(wanted),
        source_note=raw.get("source_note", ""),
    )


def _values(leaf: Mapping[str, Any]) -> list[Any]:
    value = leaf.get("value")
    return value if isinstance(value, list) else [value]


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _leaf_problems(leaf: Mapping[str, Any]) -> list[str]:
    """Check one ``{q, op, value}`` test against the questionnaire and derived names."""
    name, op = leaf["q"], leaf["op"]
    values = [] if op in conditions.UNARY_OPERATORS else _values(leaf)
    question = questionnaire.QUESTIONS.get(name)
    if question is not None:
        if question.type == "text":
            return [f"reads free-text question '{name}'; free text is never scored"]
        if op not in _OPS_BY_TYPE[question.type]:
            return [f"operator '{op}' does not suit '{name}' ({question.type})"]
        if question.type in ("scale", "int"):
            return [
                f"'{name}' is compared with {v!r}, not a number"
                for v in values
                if not _is_number(v)
            ]
        return [
            f"unknown answer code {v!r} for '{name}'" for v in values if v not in question.codes
        ]
    derived = DERIVED.get(name)
    if derived is None:
        return [f"unknown question id or derived name '{name}'"]
    if op not in _OPS_BY_KIND[derived.kind]:
        return [f"operator '{op}' does not suit derived '{name}' ({derived.kind})"]
    if derived.kind == "rules":
        # Unknown ids and self-references are found when ordering the rules.
        return [f"'fired' needs rule ids, not {v!r}" for v in values if not isinstance(v, str)]
    return [f"'{name}' is compared with {v!r}, not a number" for v in values if not _is_number(v)]


def _dependencies(rule: Rule, rules: Mapping[str, Rule]) -> set[str]:
    deps: set[str] = set()
    for leaf in conditions.leaves(rule.when):
        if leaf["q"] == "fired":
            deps.update(_values(leaf))
        elif leaf["q"] == "support_score":
            deps.update(r.id for r in rules.values() if r.effect is Effect.SUPPORT)
    return deps


def _evaluation_order(rules: Mapping[str, Rule], problems: list[str]) -> list[str]:
    """Order rules so each runs after the rules it reads; keep file order otherwise."""
    deps = {rid: _dependencies(rule, rules) for rid, rule in rules.items()}
    for rid, needed in deps.items():
        problems.extend(
            f"rule {rid}: condition: 'fired' names unknown rule {r!r}"
            for r in sorted(needed - set(rules))
        )
        needed &= set(rules)
    order: list[str] = []
    done: set[str] = set()
    while len(order) < len(rules):
        ready = [rid for rid in rules if rid not in done and deps[rid] <= done]
        if not ready:
            stuck = sorted(set(rules) - done)
            problems.append(
                "rules depend on each other through 'fired' or support_score: " + ", ".join(stuck)
            )
            break
        order.extend(ready)
        done.update(ready)
    return order


def _check_coverage(
    rules: Mapping[str, Rule],
    unscored: set[str],
    catalogue: Mapping[str, BringQuestion],
    problems: list[str],
) -> None:
    """Report questions nobody reads and catalogue entries nobody asks for."""
    readers: dict[str, str] = {}
    for rule in rules.values():
        for fact in conditions.facts_used(rule.when):
            inputs = DERIVED[fact].inputs if fact in DERIVED else (fact,)
            for qid in inputs:
                readers.setdefault(qid, rule.id)
    for qid in unscored:
        if qid not in questionnaire.QUESTIONS:
            problems.append(f"unscored: unknown question id '{qid}'")
        elif qid in readers:
            problems.append(f"unscored: '{qid}' is listed but rule {readers[qid]} reads it")
    problems.extend(
        f"question '{qid}' is read by no rule; use it in a rule or list it in 'unscored'"
        for qid in questionnaire.QUESTIONS
        if qid not in readers and qid not in unscored
    )
    triggered = {qid for rule in rules.values() for qid in rule.questions}
    problems.extend(
        f"question to bring {qid} is triggered by no rule and is not 'always'"
        for qid, entry in catalogue.items()
        if not entry.always and qid not in triggered
    )


def _headlines(raw: Any, problems: list[str]) -> dict[tuple[Outcome, CareLevel | None], str]:
    headlines: dict[tuple[Outcome, CareLevel | None], str] = {}
    for entry in raw if isinstance(raw, list) else []:
        outcome, level = entry.get("outcome"), entry.get("care_level")
        where = f"headline {outcome}/{level}"
        problems.extend(f"{where}: unknown key '{k}'" for k in sorted(set(entry) - _HEADLINE_KEYS))
        if outcome not in Outcome.__members__ or (
            level not in CareLevel.__members__
            if outcome == Outcome.SEEK_CARE
            else level is not None
        ):
            problems.append(f"{where}: not a valid outcome and care level")
            continue
        key = (Outcome(outcome), None if level is None else CareLevel(level))
        if key in headlines:
            problems.append(f"{where}: duplicate headline")
        if not _text(entry, "text"):
            problems.append(f"{where}: has no patient wording ('text')")
        headlines[key] = entry.get("text", "")
    expected = [(Outcome.SEEK_CARE, level) for level in CareLevel] + [
        (outcome, None) for outcome in Outcome if outcome is not Outcome.SEEK_CARE
    ]
    problems.extend(f"headline {o}/{lv}: missing" for o, lv in expected if (o, lv) not in headlines)
    return headlines


def _catalogue(
    data: Mapping[str, Any], problems: list[str]
) -> tuple[dict[str, BringQuestion], str, dict[str, Placeholder], dict[str, str]]:
    problems.extend(
        f"questions catalog: unknown key '{k}'" for k in sorted(set(data) - _CATALOGUE_KEYS)
    )
    heading = data.get("for_later_heading")
    if not isinstance(heading, str) or not heading.strip():
        problems.append("questions catalog: 'for_later_heading' must be a non-empty string")
        heading = ""
    placeholders = {
        name: p
        for name, raw in dict(data.get("placeholders", {})).items()
        if (p := _placeholder(name, raw, problems)) is not None
    }
    plain: dict[str, str] = {}
    all_codes = {code for q in questionnaire.QUESTIONS.values() for code in q.codes}
    for code, words in dict(data.get("plain_words", {})).items():
        if code not in all_codes:
            problems.append(f"plain_words: unknown answer code '{code}'")
        elif not isinstance(words, str) or not words.strip():
            problems.append(f"plain_words: '{code}' needs non-empty words")
        else:
            plain[code] = words
    catalogue: dict[str, BringQuestion] = {}
    for number, raw in enumerate(data.get("question", []), start=1):
        qid = raw.get("id")
        where = f"question to bring {qid if isinstance(qid, str) else '#' + str(number)}"
        if not isinstance(qid, str) or not _BRING_ID.fullmatch(qid):
            problems.append(f"{where}: id must look like 'Q01'")
            continue
        if qid in catalogue:
            problems.append(f"{where}: duplicate id")
        problems.extend(f"{where}: unknown key '{k}'" for k in sorted(set(raw) - _BRING_KEYS))
        text = _text(raw, "text")
        if not text:
            problems.append(f"{where}: has no patient wording ('text')")
        fields = {f for _, f, _, _ in string.Formatter().parse(text) if f is not None}
        problems.extend(
            f"{where}: unknown placeholder {{{f}}}" for f in sorted(fields - set(placeholders))
        )
        catalogue[qid] = BringQuestion(qid, text, raw.get("always") is True)
    if not catalogue:
        problems.append("questions catalog: needs at least one [[question]]")
    return catalogue, heading, placeholders, plain


def _placeholder(name: str, raw: Any, problems: list[str]) -> Placeholder | None:
    where = f"placeholder {{{name}}}"
    start = len(problems)
    problems.extend(f"{where}: unknown key '{k}'" for k in sorted(set(raw) - _PLACEHOLDER_KEYS))
    question = questionnaire.QUESTIONS.get(raw.get("question"))
    codes = raw.get("codes", [])
    if question is None or question.type != "multi":
        problems.append(f"{where}: 'question' must name a multi-select question")
    else:
        problems.extend(
            f"{where}: unknown answer code {c!r} for '{question.id}'"
            for c in codes
            if c not in question.codes
        )
    effect = raw.get("effect")
    if effect is not None:
        for code in codes:
            follow_up = questionnaire.QUESTIONS.get(f"{code}_effect")
            if follow_up is None or effect not in follow_up.codes:
                problems.append(f"{where}: {code!r} has no effect answer {effect!r}")
    if not _text(raw, "fallback"):
        problems.append(f"{where}: needs 'fallback' words")
    if len(problems) > start or question is None:  # no question is a problem above
        return None
    return Placeholder(name, question.id, tuple(codes), raw["fallback"], effect)
