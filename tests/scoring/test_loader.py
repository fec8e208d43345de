"""Validation of the rule file and the questions catalog.

Each broken variant must be rejected with a message that names the rule (or
question, headline, placeholder) at fault.
"""

from __future__ import annotations

import copy
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from screening.scoring import RulesetError, check_ruleset, load_ruleset, loader

Data = dict[str, Any]
RULES: Data = tomllib.loads(loader.RULES_FILE.read_text(encoding="utf-8"))
CATALOGUE: Data = tomllib.loads(loader.QUESTIONS_FILE.read_text(encoding="utf-8"))


def rule(data: Data, rid: str) -> Data:
    return next(r for r in data["rule"] if r["id"] == rid)


def when(rid: str, cond: Any) -> Callable[[Data, Data], None]:
    def mutate(rules: Data, catalogue: Data) -> None:
        rule(rules, rid)["when"] = cond

    return mutate


def setkey(rid: str, key: str, value: Any) -> Callable[[Data, Data], None]:
    def mutate(rules: Data, catalogue: Data) -> None:
        rule(rules, rid)[key] = value

    return mutate


def delkey(rid: str, key: str) -> Callable[[Data, Data], None]:
    def mutate(rules: Data, catalogue: Data) -> None:
        del rule(rules, rid)[key]

    return mutate


def top(key: str, value: Any) -> Callable[[Data, Data], None]:
    def mutate(rules: Data, catalogue: Data) -> None:
        if value is None:
            del rules[key]
        else:
            rules[key] = value

    return mutate


def cat(key: str, value: Any) -> Callable[[Data, Data], None]:
    def mutate(rules: Data, catalogue: Data) -> None:
        if value is None:
            del catalogue[key]
        else:
            catalogue[key] = value

    return mutate


def apply(mutate: Callable[[Data, Data], None]) -> list[str]:
    rules, catalogue = copy.deepcopy(RULES), copy.deepcopy(CATALOGUE)
    mutate(rules, catalogue)
    ruleset, problems = loader.build(rules, catalogue)
    assert ruleset is None
    return problems


def yes(q: str) -> dict[str, str]:
    return {"q": q, "op": "eq", "value": "yes"}


def _duplicate(rules: Data, catalogue: Data) -> None:
    rules["rule"].append(copy.deepcopy(rule(rules, "R02_CARDIAC")))


def _no_id(rules: Data, catalogue: Data) -> None:
    rules["rule"].insert(0, {"effect": "CONCERN"})


def _unscored_minus_onset(rules: Data, catalogue: Data) -> None:
    rules["unscored"].remove("onset")


def _unscored_plus(qid: str) -> Callable[[Data, Data], None]:
    def mutate(rules: Data, catalogue: Data) -> None:
        rules["unscored"].append(qid)

    return mutate


def _headline(index: int, **changes: Any) -> Callable[[Data, Data], None]:
    def mutate(rules: Data, catalogue: Data) -> None:
        rules["headline"][index].update(changes)
        for key in [k for k, v in changes.items() if v is None]:
            del rules["headline"][index][key]

    return mutate


def _drop_headline(rules: Data, catalogue: Data) -> None:
    del rules["headline"][4]


def _extra_headline(rules: Data, catalogue: Data) -> None:
    rules["headline"].append(dict(rules["headline"][0]))


def _placeholder(name: str, **changes: Any) -> Callable[[Data, Data], None]:
    def mutate(rules: Data, catalogue: Data) -> None:
        catalogue["placeholders"][name].update(changes)
        for key in [k for k, v in changes.items() if v is None]:
            del catalogue["placeholders"][name][key]

    return mutate


def _bring(index: int, **changes: Any) -> Callable[[Data, Data], None]:
    def mutate(rules: Data, catalogue: Data) -> None:
        catalogue["question"][index].update(changes)
        for key in [k for k, v in changes.items() if v is None]:
            del catalogue["question"][index][key]

    return mutate


def _duplicate_bring(rules: Data, catalogue: Data) -> None:
    catalogue["question"].append(dict(catalogue["question"][0]))


def _plain(code: str, words: Any) -> Callable[[Data, Data], None]:
    def mutate(rules: Data, catalogue: Data) -> None:
        catalogue["plain_words"][code] = words

    return mutate


BROKEN = [
    # Conditions: unknown names, codes, operators and unsuitable tests.
    (
        when("R02_CARDIAC", yes("rf_chst")),
        "rule R02_CARDIAC: condition: unknown question id or derived name 'rf_chst'",
    ),
    (
        setkey("R02_CARDIAC", "when", {"q": "rf_chest", "op": "eq", "value": "yess"}),
        "rule R02_CARDIAC: condition: unknown answer code 'yess' for 'rf_chest'",
    ),
    (
        when(
            "R08_CANCER_SPINE",
            {
                "all": [
                    {"q": "cancer_hx", "op": "in", "value": ["current", "old"]},
                    {"q": "axial", "op": "true"},
                ]
            },
        ),
        "rule R08_CANCER_SPINE: condition: unknown answer code 'old' for 'cancer_hx'",
    ),
    (
        when("R02_CARDIAC", {"q": "rf_chest", "op": "equals", "value": "yes"}),
        "rule R02_CARDIAC: condition: unknown operator 'equals'",
    ),
    (
        when("R02_CARDIAC", "rf_chest == yes"),
        "rule R02_CARDIAC: condition: a condition must be a table",
    ),
    (when("R02_CARDIAC", {"all": []}), "rule R02_CARDIAC: condition: 'all' needs a non-empty list"),
    (
        when("R02_CARDIAC", {"q": "med_list", "op": "answered"}),
        "rule R02_CARDIAC: condition: reads free-text question 'med_list'",
    ),
    (
        when("C05_STEROID_ALLERGY", {"q": "allergy", "op": "eq", "value": "alg_steroid"}),
        "rule C05_STEROID_ALLERGY: condition: operator 'eq' does not suit 'allergy' (multi)",
    ),
    (
        when("R13_HEADACHE_OLDER", {"q": "age", "op": "ge", "value": "50"}),
        "rule R13_HEADACHE_OLDER: condition: 'age' is compared with '50', not a number",
    ),
    (
        when("R13_HEADACHE_OLDER", {"q": "age", "op": "ge", "value": True}),
        "rule R13_HEADACHE_OLDER: condition: 'age' is compared with True, not a number",
    ),
    (
        when("P09_LUNG_REGION", {"q": "lung_region", "op": "eq", "value": True}),
        "rule P09_LUNG_REGION: condition: operator 'eq' does not suit derived 'lung_region' (bool)",
    ),
    (
        when("P12_HIGH_IMPACT", {"q": "peg_score", "op": "ge", "value": "7"}),
        "rule P12_HIGH_IMPACT: condition: 'peg_score' is compared with '7', not a number",
    ),
    (
        when(
            "K06_FM_DX",
            {"all": [yes("fm_dx"), {"not": {"q": "fired", "op": "has", "value": "A02_WIDE"}}]},
        ),
        "rule K06_FM_DX: condition: 'fired' names unknown rule 'A02_WIDE'",
    ),
    (
        when(
            "K06_FM_DX", {"all": [yes("fm_dx"), {"not": {"q": "fired", "op": "has", "value": 2}}]}
        ),
        "rule K06_FM_DX: condition: 'fired' needs rule ids, not 2",
    ),
    (
        when("K06_FM_DX", {"q": "fired", "op": "eq", "value": "A02_WIDESPREAD"}),
        "rule K06_FM_DX: condition: operator 'eq' does not suit derived 'fired' (rules)",
    ),
    # Evaluation order: a rule may not depend on itself, directly or not.
    (
        when("A01_TOO_EARLY", {"q": "fired", "op": "has", "value": "K02_NO_CONSERVATIVE"}),
        "rules depend on each other through 'fired' or support_score: "
        "A01_TOO_EARLY, K02_NO_CONSERVATIVE",
    ),
    (
        when("S01_KNOT", {"q": "support_score", "op": "ge", "value": 1}),
        "rules depend on each other through 'fired' or support_score: "
        "K01_PATTERN_UNCLEAR, S01_KNOT",
    ),
    # Rule records.
    (_duplicate, "rule R02_CARDIAC: duplicate rule id"),
    (_no_id, "rule #1: needs a string 'id'"),
    (setkey("R02_CARDIAC", "id", "cardiac"), "rule cardiac: id must look like 'R01_NAME'"),
    (setkey("R02_CARDIAC", "pateint", "x"), "rule R02_CARDIAC: unknown key 'pateint'"),
    (setkey("R02_CARDIAC", "effect", "URGENT"), "rule R02_CARDIAC: unknown effect 'URGENT'"),
    (
        delkey("S01_KNOT", "points"),
        "rule S01_KNOT: a SUPPORT rule needs whole 'points' of 1 or more",
    ),
    (setkey("S01_KNOT", "points", True), "rule S01_KNOT: a SUPPORT rule needs whole 'points'"),
    (setkey("S01_KNOT", "points", 0), "rule S01_KNOT: a SUPPORT rule needs whole 'points'"),
    (setkey("R02_CARDIAC", "points", 1), "rule R02_CARDIAC: only SUPPORT rules have points"),
    (setkey("R02_CARDIAC", "patient", "  "), "rule R02_CARDIAC: has no patient wording"),
    (delkey("R02_CARDIAC", "patient"), "rule R02_CARDIAC: has no patient wording"),
    (delkey("R02_CARDIAC", "clinician"), "rule R02_CARDIAC: has no clinician note"),
    (setkey("R02_CARDIAC", "sources", []), "rule R02_CARDIAC: has no source"),
    (delkey("R02_CARDIAC", "sources"), "rule R02_CARDIAC: has no source"),
    (setkey("R02_CARDIAC", "sources", ["AHA"]), "rule R02_CARDIAC: unknown source 'AHA'"),
    (
        setkey("C06_ANTICOAGULANT", "questions", ["Q99"]),
        "rule C06_ANTICOAGULANT: unknown question to bring 'Q99'",
    ),
    (
        setkey("R02_CARDIAC", "questions", ["Q01"]),
        "rule R02_CARDIAC: question to bring Q01 is already asked always",
    ),
    (setkey("R02_CARDIAC", "questions", "Q20"), "rule R02_CARDIAC: 'questions' must be a list"),
    # Coverage of questions and of the catalogue.
    (_unscored_minus_onset, "question 'onset' is read by no rule"),
    (_unscored_plus("bogus"), "unscored: unknown question id 'bogus'"),
    (_unscored_plus("rf_chest"), "unscored: 'rf_chest' is listed but rule R02_CARDIAC reads it"),
    (delkey("C05_STEROID_ALLERGY", "questions"), "question to bring Q23 is triggered by no rule"),
    # Top level of the rule file.
    (top("versoin", "1"), "rule file: unknown key 'versoin'"),
    (top("version", None), "rule file: 'version' must be a non-empty string"),
    (top("known_sources", "AFP2002"), "rule file: 'known_sources' must be a list of strings"),
    (top("unscored", ["onset", 3]), "rule file: 'unscored' must be a list of strings"),
    (top("rule", None), "rule file: needs at least one [[rule]]"),
    # Headlines.
    (_drop_headline, "headline DISCUSS/None: missing"),
    (_extra_headline, "headline SEEK_CARE/EMERGENCY: duplicate headline"),
    (_headline(0, care_level=None), "headline SEEK_CARE/None: not a valid outcome and care level"),
    (
        _headline(2, care_level="PROMPT"),
        "headline NOT_A_FIT/PROMPT: not a valid outcome and care level",
    ),
    (_headline(2, outcome="MAYBE"), "headline MAYBE/None: not a valid outcome and care level"),
    (_headline(3, text=""), "headline DISCUSS_WITH_CONCERNS/None: has no patient wording"),
    (_headline(3, colour="red"), "headline DISCUSS_WITH_CONCERNS/None: unknown key 'colour'"),
    # Questions catalogue.
    (cat("headings", "x"), "questions catalog: unknown key 'headings'"),
    (
        cat("for_later_heading", None),
        "questions catalog: 'for_later_heading' must be a non-empty string",
    ),
    (cat("question", []), "questions catalog: needs at least one [[question]]"),
    (_bring(0, id="Q1"), "question to bring Q1: id must look like 'Q01'"),
    (_bring(0, id=None), "question to bring #1: id must look like 'Q01'"),
    (_duplicate_bring, "question to bring Q01: duplicate id"),
    (_bring(0, txt="x"), "question to bring Q01: unknown key 'txt'"),
    (_bring(0, text=""), "question to bring Q01: has no patient wording"),
    (_bring(11, text="I take {drugs}."), "question to bring Q20: unknown placeholder {drugs}"),
    (_placeholder("names", colour="red"), "placeholder {names}: unknown key 'colour'"),
    (
        _placeholder("names", question="preg"),
        "placeholder {names}: 'question' must name a multi-select question",
    ),
    (
        _placeholder("names", question="nope"),
        "placeholder {names}: 'question' must name a multi-select question",
    ),
    (
        _placeholder("names", codes=["bt_asprin"]),
        "placeholder {names}: unknown answer code 'bt_asprin' for 'bt'",
    ),
    (
        _placeholder("treatment", effect="helped"),
        "placeholder {treatment}: 'tx_pt' has no effect answer 'helped'",
    ),
    (
        _placeholder("items", effect="helped_lot"),
        "placeholder {items}: 'alg_latex' has no effect answer",
    ),
    (_placeholder("names", fallback=None), "placeholder {names}: needs 'fallback' words"),
    (_plain("bt_nope", "x"), "plain_words: unknown answer code 'bt_nope'"),
    (_plain("bt_other", ""), "plain_words: 'bt_other' needs non-empty words"),
]


@pytest.mark.parametrize(("mutate", "message"), BROKEN, ids=[m for _, m in BROKEN])
def test_broken_data_is_rejected_with_a_named_message(
    mutate: Callable[[Data, Data], None], message: str
) -> None:
    problems = apply(mutate)
    assert any(message in p for p in problems), problems


def test_packaged_files_are_valid() -> None:
    assert check_ruleset() == []
    assert load_ruleset() is load_ruleset()


def test_rule_tables_round_trip() -> None:
    ruleset = load_ruleset()
    assert len(ruleset.rules) == len(RULES["rule"]) == 63
    assert sum(r.points for r in ruleset.rules) == 13
    # Rules reading `fired` or support_score come after what they read.
    order = [r.id for r in ruleset.rules]
    assert order.index("K01_PATTERN_UNCLEAR") > max(
        order.index(r.id) for r in ruleset.rules if r.is_support
    )
    assert order.index("K01_PATTERN_UNCLEAR") > order.index("A04_NO_TRP_FEATURES")
    assert order.index("K08_NIGHT_PAIN") > order.index("R10_NIGHT_PAIN_RISK")


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rules.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_broken_rule_file_on_disk(tmp_path: Path) -> None:
    text = loader.RULES_FILE.read_text(encoding="utf-8").replace(
        'sources = ["AHA-HA"]', "sources = []"
    )
    path = write(tmp_path, text)
    assert check_ruleset(path) == [
        "rule R02_CARDIAC: has no source ('sources'; use JUDGMENT for a judgment call)"
    ]
    with pytest.raises(RulesetError) as info:
        load_ruleset(path)
    assert "R02_CARDIAC" in str(info.value)
    assert info.value.problems == check_ruleset(path)


def test_copied_rule_file_loads(tmp_path: Path) -> None:
    path = write(tmp_path, loader.RULES_FILE.read_text(encoding="utf-8"))
    assert check_ruleset(path, loader.QUESTIONS_FILE) == []
    assert load_ruleset(path).version == load_ruleset().version


def test_not_toml(tmp_path: Path) -> None:
    path = write(tmp_path, "[[rule]\nid = ")
    [problem] = check_ruleset(path)
    assert problem.startswith("rules.toml: cannot be read:")


def test_missing_catalogue(tmp_path: Path) -> None:
    [problem] = check_ruleset(questions_path=tmp_path / "questions_to_bring.toml")
    assert problem.startswith("questions_to_bring.toml: cannot be read:")
