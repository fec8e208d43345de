"""Answer sets for tests: the spec's baseline "B" (section 4) and helpers."""

from __future__ import annotations

from typing import Any

from screening.scoring import questionnaire

#: Baseline answer set B of spec section 4, in the scorer's format.
BASELINE: dict[str, Any] = {
    "age": 45,
    "preg": "no",
    "breastfeed": "no",
    "dur": "m3_12",
    "onset": "gradual",
    "trend": "same",
    "peg_p": 6,
    "peg_e": 5,
    "peg_g": 6,
    "regions": ["lower_back_l", "buttock_hip_l"],
    "primary_region": "lower_back_l",
    "tp_knot": "yes",
    "tp_spot": "yes",
    "tp_referred": "yes",
    "tp_familiar": "yes",
    "tp_twitch": "not_sure",
    "rom_limited": "yes",
    "quality": ["deep_ache", "tight_stiff"],
    "radiating_limb": "no",
    "joint_swelling": "no",
    "night_pain": "no",
    "triggers": ["trig_posture", "trig_stress"],
    "tx": ["tx_pt", "tx_otc"],
    "pt_weeks": "ge_6w",
    "tx_pt_effect": "helped_little",
    "tx_otc_effect": "helped_little",
    "steroid_inj_3m": "no",
    "bt": ["bt_none"],
    "nsaid_regular": "no",
    "supplements": "no",
    "oral_steroid_3m": "no",
    "immuno_meds": "no",
    "diabetes": "no",
    "allergy": ["alg_none"],
    "bleed_dx": "no",
    "bruise_easy": "no",
    "cancer_hx": "no",
    "osteoporosis": "no",
    "immuno_condition": "no",
    "fm_dx": "no",
    "ivdu": "prefer_not",
    "fever_2w": "no",
    "unwell_now": "no",
    "antibiotics_now": "no",
    "skin_at_site": "no",
    "needle_feeling": "nervous",
    "fainted_needle": "no",
    "injury_6w": "none",
    **{qid: "no" for qid in questionnaire.QUESTIONS if qid.startswith("rf_")},
    "consent": True,
}

CONTACT = {
    "full_name": "Alex Example",
    "phone": "555 123 4567",
    "email": "alex@example.com",
    "best_time": "morning",
}


def answers(**overrides: Any) -> dict[str, Any]:
    """Return baseline B with ``overrides`` applied (a value of None removes the answer)."""
    result = {**BASELINE, **overrides}
    return {k: v for k, v in result.items() if v is not None}
