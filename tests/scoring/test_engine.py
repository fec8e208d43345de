"""Output contract, ordering, derived values and wording helpers of the scorer."""

from __future__ import annotations

import json
import tomllib

import pytest

from screening.scoring import (
    CareLevel,
    Effect,
    Outcome,
    ScoringInputError,
    engine,
    headline,
    load_ruleset,
    loader,
    question_text,
    score,
)

from .support import BASELINE

ALWAYS = [f"Q{n:02d}" for n in range(1, 12)]

#: Fires at least one rule of every effect.
EVERY_EFFECT = {
    **BASELINE,
    "rf_chest": "yes",  # R02 EMERGENCY
    "rf_weight": "yes",  # R09 PROMPT
    "dur": "w2_6",  # A01 AGAINST
    "skin_at_site": "yes",  # C01 ABSOLUTE
    "unwell_now": "yes",  # C02 ABSOLUTE
    "bt": ["bt_warfarin", "bt_aspirin"],  # C06 RELATIVE, P01 PRECAUTION
    "preg": "not_sure",  # C08 RELATIVE
    "fm_dx": "yes",  # K06 CONCERN
    "joint_swelling": "yes",  # K07 CONCERN
}


def test_to_dict_has_exactly_the_contract_keys() -> None:
    result = score(EVERY_EFFECT).to_dict()
    assert list(result) == [
        "outcome",
        "care_level",
        "blocking_contraindication",
        "support_score",
        "peg_score",
        "fired_rules",
        "patient_reasons",
        "clinician_notes",
        "questions",
    ]
    assert result["outcome"] == "SEEK_CARE"
    assert type(result["outcome"]) is str
    assert result["care_level"] == "EMERGENCY"
    assert type(result["care_level"]) is str
    assert json.loads(json.dumps(result)) == result


def test_to_dict_care_level_is_none_unless_seek_care() -> None:
    assert score(BASELINE).to_dict()["care_level"] is None


def test_fired_rules_order_by_effect_then_id() -> None:
    result = score(EVERY_EFFECT)
    ranks = [r.sort_key for r in result.fired]
    assert ranks == sorted(ranks)
    assert {r.effect for r in result.fired} == set(Effect)
    assert result.fired_rules[:2] == ["R02_CARDIAC", "R09_WEIGHT_LOSS"]
    assert result.fired_rules.index("C01_SKIN_SITE") < result.fired_rules.index(
        "C02_SYSTEMIC_INFECTION"
    )
    assert result.fired_rules[-1] == "S11_TYPICAL_REGION"


def test_reasons_and_notes_follow_fired_rules() -> None:
    result = score(EVERY_EFFECT)
    assert result.patient_reasons == [r.patient_reason for r in result.concerns + result.supports]
    assert result.clinician_notes == [r.clinician_note for r in result.fired]
    assert all(not r.is_support for r in result.concerns)
    assert all(r.is_support for r in result.supports)


def test_questions_triggered_first_in_rule_order_then_always() -> None:
    result = score(EVERY_EFFECT)
    # A01 -> Q34; C01, C02 -> Q30 (once); C06 -> Q20; C08 -> Q26; K06 -> Q35;
    # K07 -> Q43; P01 -> Q21.
    assert result.questions == ["Q34", "Q30", "Q20", "Q26", "Q35", "Q43", "Q21", *ALWAYS]
    assert [q.always for q in result.asked].count(True) == 11


def test_outcome_headline_and_version() -> None:
    result = score(EVERY_EFFECT)
    ruleset = load_ruleset()
    assert result.headline == headline(Outcome.SEEK_CARE, CareLevel.EMERGENCY)
    with loader.RULES_FILE.open("rb") as f:
        assert result.ruleset_version == tomllib.load(f)["version"] == ruleset.version


@pytest.mark.parametrize(
    ("outcome", "care_level", "start"),
    [
        ("SEEK_CARE", "EMERGENCY", "Some of your answers can be signs"),
        ("SEEK_CARE", "PROMPT", "Some of your answers should be checked"),
        ("NOT_A_FIT", None, "From your answers"),
        ("DISCUSS_WITH_CONCERNS", "PROMPT", "You can talk with a clinician"),
        ("DISCUSS", None, "Your answers fit"),
    ],
)
def test_headline(outcome: str, care_level: str | None, start: str) -> None:
    assert headline(outcome, care_level).startswith(start)


def test_rule_lookup() -> None:
    rules = load_ruleset().by_id
    found = rules["R01_CAUDA"]
    assert found.effect is Effect.EMERGENCY
    assert found.sources == ("AHCPR1994", "NICE59", "VERHAGEN2016")
    assert found.source_note.startswith("[AHCPR1994] Table 1")
    assert rules["S03_REFERRED"].points == 2
    assert "R99_NOPE" not in rules


def test_same_input_same_output() -> None:
    assert score(EVERY_EFFECT) == score(dict(EVERY_EFFECT))


def test_score_with_explicit_ruleset() -> None:
    assert score(BASELINE, load_ruleset()).outcome is Outcome.DISCUSS


def test_input_error_dict() -> None:
    with pytest.raises(ScoringInputError) as info:
        score({**BASELINE, "age": 17})
    assert info.value.to_dict() == {"error": "validation", "missing": [], "invalid": ["age"]}
    assert "invalid ['age']" in str(info.value)


def test_hidden_answers_are_ignored() -> None:
    # A stale answer to a question the form no longer shows must not fire A05.
    result = score({**BASELINE, "tpi_relief": "none", "tpi_last": "lt_6w"})
    assert "A05_PRIOR_TPI_FAILED" not in result.fired_rules
    assert "K05_RECENT_TPI" not in result.fired_rules


def test_stale_answer_does_not_make_hidden_question_required() -> None:
    # tpi_relief is hidden (no tx_tpi), so the tpi_duration it would show is hidden too.
    assert score({**BASELINE, "tpi_relief": "ge_half"}).outcome is Outcome.DISCUSS


@pytest.mark.parametrize(
    ("peg", "expected"),
    [((6, 5, 6), 5.7), ((5, 5, 6), 5.3), ((0, 0, 0), 0.0), ((10, 10, 10), 10.0), ((7, 7, 6), 6.7)],
)
def test_peg_score_one_decimal(peg: tuple[int, int, int], expected: float) -> None:
    answers = {**BASELINE, "peg_p": peg[0], "peg_e": peg[1], "peg_g": peg[2]}
    assert score(answers).peg_score == expected


@pytest.mark.parametrize(
    ("regions", "groups", "axial", "lung", "head"),
    [
        (["jaw_l", "chest_r", "abdomen", "pelvis_groin"], 0, False, True, True),
        (["upper_back_trap_l"], 1, True, True, False),
        (["shoulder_l", "upper_arm_l", "forearm_hand_l"], 1, False, False, False),
        (
            ["neck_l", "shoulder_r", "forearm_hand_l", "thigh_l", "lower_leg_foot_r"],
            5,
            True,
            False,
            False,
        ),
    ],
)
def test_region_derived_values(
    regions: list[str], groups: int, axial: bool, lung: bool, head: bool
) -> None:
    facts = engine.facts_for({**BASELINE, "regions": regions, "primary_region": regions[0]})
    assert facts["acr_groups"] == groups
    assert facts["axial"] is axial
    assert facts["lung_region"] is lung
    assert facts["head_or_jaw"] is head


def test_defaults_fill_optional_answers() -> None:
    answers = {k: v for k, v in BASELINE.items() if k not in ("tp_twitch", "ivdu")}
    facts = engine.facts_for(answers)
    assert facts["tp_twitch"] == "not_sure"
    assert facts["ivdu"] == "prefer_not"


def test_engine_sets_match_the_rule_file() -> None:
    # The conservative set lives in engine.py for derived values and in the rule
    # file for K02 and {treatment}; they must not drift apart.
    ruleset = load_ruleset()
    k02 = ruleset.by_id["K02_NO_CONSERVATIVE"].when["all"][1]["not"]
    assert k02["value"] == list(engine.CONSERVATIVE_SET)
    assert ruleset.placeholders["treatment"].codes == engine.CONSERVATIVE_SET
    assert set(ruleset.placeholders["names"].codes) == engine.ANTICOAG_CODES


@pytest.mark.parametrize(
    ("qid", "changes", "expected"),
    [
        (
            "Q20",
            {"bt": ["bt_apixaban", "bt_warfarin"]},
            "I take a blood thinner: warfarin (Coumadin, Jantoven) and apixaban (Eliquis). ",
        ),
        (
            "Q20",
            {"bt": ["bt_heparin", "bt_not_sure", "bt_aspirin", "bt_clopidogrel"]},
            "I take a blood thinner: heparin or enoxaparin (Lovenox) shots, clopidogrel "
            "(Plavix) and one, but I am not sure which. ",
        ),
        ("Q20", {}, "I take a blood thinner: a blood thinner. "),
        ("Q24", {"allergy": ["alg_latex", "alg_steroid"]}, "I am allergic to latex. "),
        (
            "Q41",
            {
                "tx": ["tx_tens", "tx_otc", "tx_massage"],
                "tx_tens_effect": "helped_lot",
                "tx_otc_effect": "helped_lot",
                "tx_massage_effect": "helped_little",
            },
            "TENS (electrical stimulation) is helping a lot. ",
        ),
        ("Q41", {"tx_pt_effect": "helped_lot"}, "Physical therapy or a guided exercise program is"),
        ("Q41", {}, "A treatment I am doing is helping a lot."),
        (
            "Q46",
            {
                "tx": ["tx_tpi"],
                "tpi_problems": ["bruising", "breathing", "infection"],
                "tpi_last": "gt_1y",
            },
            "I had a problem after a past shot: infection and chest pain or trouble breathing "
            "afterwards. ",
        ),
        ("Q01", {}, "After you examine me"),
    ],
)
def test_question_text_fills_placeholders(qid: str, changes: dict, expected: str) -> None:
    assert question_text(qid, {**BASELINE, **changes}).startswith(expected)


def test_result_questions_are_filled() -> None:
    result = score({**BASELINE, "bt": ["bt_rivaroxaban"]})
    assert result.asked[0].id == "Q20"
    assert "rivaroxaban (Xarelto)" in result.asked[0].text
    assert "{" not in "".join(q.text for q in result.asked)


def test_question_text_translates_every_part_and_joins_in_that_language() -> None:
    # The scorer knows only English; the web layer hands it a translator and a joiner.
    words = {
        "I take a blood thinner: {names}. What should I do about it before the shot? "
        "I will not stop it unless the doctor who prescribed it says so.": "Tomo: {names}.",
        "Warfarin (Coumadin, Jantoven)": "Warfarina (Coumadin)",
        "Apixaban (Eliquis)": "Apixabán (Eliquis)",
        "something the clinic may use": "algo que la clínica pueda usar",
    }

    def spanish_list(items) -> str:
        return " y ".join(items)

    answers = {**BASELINE, "bt": ["bt_warfarin", "bt_apixaban"]}
    text = question_text("Q20", answers, translate=lambda s: words.get(s, s), join=spanish_list)
    assert text == "Tomo: warfarina (Coumadin) y apixabán (Eliquis)."
    # A fallback is translated too.
    fallback = question_text(
        "Q24", {**BASELINE, "allergy": ["alg_none"]}, translate=lambda s: words.get(s, s)
    )
    assert "something the clinic may use" not in fallback
