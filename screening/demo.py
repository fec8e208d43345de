"""Demo data: realistic, fictional submissions for trying the staff side and benchmarks.

``flask --app screening demo seed --count N`` fills the database with ``N`` submissions
whose answers follow the questionnaire's rules (hidden questions absent, exclusive options
alone, required questions answered), scored by the real scorer and spread over clinics,
dates and workflow states.

The answers are drawn from weighted tables rather than uniformly, so the outcome mix looks
like a clinic's: most people answer the warning signs "no", have pain in one to three
places and have had it for months. All names, phone numbers (555-01xx) and e-mail
addresses (example.com) are fictional.

The same ``seed`` gives the same answers and people (and, for the same ``now`` and
``days``, the same dates and statuses); only the identifiers (reference code,
``public_id`` and ``submit_key``) are fresh random values, so seeding twice adds rows
instead of colliding. Every demo row's ``submit_key`` starts
with :data:`SUBMIT_KEY_PREFIX`, so demo rows can be told apart from real ones.
"""

from __future__ import annotations

import itertools
import random
import secrets
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from screening import audit, integrity, search_index
from screening.crypto import key_store
from screening.extensions import db
from screening.models import DONE_STATUSES, Clinic, Status, Submission, readable_code, utcnow
from screening.scoring import Outcome, questionnaire, score
from screening.staff import accounts
from screening.submissions import apply_result

#: Clinics created when the database has none and no names are given.
DEFAULT_CLINICS = ("North Clinic", "South Clinic", "East Clinic")
#: Every demo submission's ``submit_key`` starts with this.
SUBMIT_KEY_PREFIX = "demo-"
#: The workflow states, in workflow order.
STATUSES = tuple(Status)

Q = questionnaire.QUESTIONS

# ---------------------------------------------------------------------------- answers
#
# Weights by answer code. Codes not listed get weight 0; a question without an entry is
# answered uniformly over its codes (so a question added to the data file still gets
# valid answers). ``tests/test_demo.py`` checks every code here exists.

WEIGHTS: dict[str, dict[str, float]] = {
    "dur": {"lt_2w": 5, "w2_6": 8, "w6_m3": 14, "m3_12": 30, "gt_1y": 43},
    "onset": {"gradual": 52, "after_injury": 18, "sudden_no_injury": 14, "not_sure": 16},
    "trend": {"worse_fast": 3, "worse_slow": 20, "same": 42, "better": 8, "comes_goes": 27},
    "rom_limited": {"yes": 55, "no": 45},
    "radiating_limb": {"yes": 9, "no": 81, "not_sure": 10},
    "joint_swelling": {"yes": 4, "no": 96},
    "night_pain": {"yes": 5, "no": 95},
    "pt_weeks": {"lt_4w": 35, "w4_6": 30, "ge_6w": 35},
    "tpi_last": {"lt_6w": 10, "w6_m3": 25, "m3_12": 40, "gt_1y": 25},
    "tpi_sessions_12m": {"s0": 15, "s1": 35, "s2": 28, "s3": 14, "s4_plus": 8},
    "tpi_relief": {"none": 10, "lt_half": 18, "ge_half": 57, "too_soon": 15},
    "tpi_duration": {"lt_1w": 15, "w1_6": 35, "gt_6w": 50},
    "steroid_inj_3m": {"yes": 7, "no": 89, "not_sure": 4},
    "nsaid_regular": {"yes": 28, "no": 72},
    "supplements": {"yes": 20, "no": 70, "not_sure": 10},
    "oral_steroid_3m": {"yes": 3, "no": 95, "not_sure": 2},
    "immuno_meds": {"yes": 2, "no": 96, "not_sure": 2},
    "la_reaction": {
        "breathing_swelling": 10,
        "hives_rash": 25,
        "faint": 15,
        "racing_heart": 25,
        "unknown": 20,
        "other": 5,
    },
    "bleed_dx": {"yes": 1, "no": 96, "not_sure": 3},
    "bruise_easy": {"yes": 6, "no": 94},
    "immuno_condition": {"yes": 1.5, "no": 98.5},
    "ivdu": {"yes": 0.5, "no": 95.5, "prefer_not": 4},
    "fever_2w": {"yes": 1.2, "no": 98.8},
    "unwell_now": {"yes": 3, "no": 97},
    "antibiotics_now": {"yes": 2, "no": 98},
    "skin_at_site": {"yes": 1.5, "no": 98.5},
    "needle_feeling": {"ok": 58, "nervous": 35, "very_afraid": 7},
    "fainted_needle": {"yes": 9, "no": 91},
    "injury_6w": {"none": 90, "major": 0.8, "minor_fall": 2.5, "strain": 5, "other": 1.7},
    "ha_new": {"yes": 12, "no": 88},
    "ha_gca": {"yes": 4, "no": 96},
}

#: Chance of "yes" to each warning sign; everything else there is "no".
WARNING_SIGNS: dict[str, float] = {
    "rf_bladder": 0.004,
    "rf_bowel": 0.002,
    "rf_saddle": 0.004,
    "rf_limb_weak": 0.012,
    "rf_gait_hands": 0.008,
    "rf_weight": 0.01,
    "rf_chest": 0.006,
    "rf_stroke": 0.002,
    "rf_thunderclap": 0.003,
    "rf_fever_neck": 0.002,
    "rf_leg_swelling": 0.005,
}

#: How a tried treatment worked.
EFFECT_WEIGHTS = {"helped_lot": 12, "helped_little": 45, "no_help": 28, "worse": 4, "too_soon": 11}

#: Trigger point features (tp_knot ...) as (yes, no, not_sure) weights, for people whose
#: pain is mostly muscular and for the others.
TP_WEIGHTS: dict[str, dict[bool, tuple[float, float, float]]] = {
    "tp_knot": {True: (72, 10, 18), False: (15, 60, 25)},
    "tp_spot": {True: (76, 9, 15), False: (20, 55, 25)},
    "tp_referred": {True: (55, 20, 25), False: (8, 72, 20)},
    "tp_familiar": {True: (66, 14, 20), False: (18, 50, 32)},
    "tp_twitch": {True: (22, 30, 48), False: (4, 60, 36)},
}

#: Weights of each multi-choice option when some options are picked.
MULTI_WEIGHTS: dict[str, dict[str, float]] = {
    "quality": {
        "dull_ache": 30,
        "deep_ache": 30,
        "tight_stiff": 40,
        "throbbing": 12,
        "sharp_stabbing": 14,
        "burning": 8,
        "shooting_electric": 5,
        "pins_needles": 5,
        "numbness": 4,
        "other": 2,
    },
    "triggers": {
        "trig_posture": 40,
        "trig_screen": 30,
        "trig_repetitive": 18,
        "trig_lifting": 15,
        "trig_stress": 28,
        "trig_sleep": 18,
        "trig_cold": 6,
        "trig_injury": 6,
        "trig_other": 4,
    },
    "tx": {
        "tx_pt": 30,
        "tx_stretch": 35,
        "tx_massage": 28,
        "tx_manip": 14,
        "tx_heat_ice": 35,
        "tx_otc": 50,
        "tx_rx": 18,
        "tx_acupuncture": 6,
        "tx_dry_needling": 6,
        "tx_tpi": 10,
        "tx_other_inj": 5,
        "tx_tens": 5,
        "tx_cbt": 3,
        "tx_surgery": 1.5,
    },
    "tpi_problems": {
        "bruising": 40,
        "soreness_gt3d": 40,
        "infection": 2,
        "fainting": 6,
        "allergic": 2,
        "skin_change": 3,
        "breathing": 1,
        "other": 6,
    },
    "bt": {
        "bt_warfarin": 10,
        "bt_apixaban": 18,
        "bt_rivaroxaban": 10,
        "bt_dabigatran": 2,
        "bt_edoxaban": 1,
        "bt_heparin": 2,
        "bt_clopidogrel": 12,
        "bt_prasugrel": 1,
        "bt_ticagrelor": 2,
        "bt_aspirin": 60,
        "bt_other": 3,
        "bt_not_sure": 12,
    },
    "allergy": {
        "alg_lidocaine": 3,
        "alg_bupivacaine": 1,
        "alg_other_caine": 3,
        "alg_steroid": 3,
        "alg_latex": 12,
        "alg_iodine": 10,
        "alg_chlorhexidine": 3,
        "alg_tape_alcohol": 14,
        "alg_preservative": 6,
        "alg_other": 45,
    },
}

#: How many options are picked, as weights for 1, 2, 3, ...
MULTI_COUNTS: dict[str, tuple[float, ...]] = {
    "quality": (35, 40, 18, 7),
    "triggers": (30, 35, 22, 10, 3),
    "tx": (30, 32, 22, 11, 5),
    "tpi_problems": (80, 18, 2),
    "bt": (92, 8),
    "allergy": (82, 15, 3),
}

#: Chance that a multi-choice question is answered with its "none" option alone.
NONE_CHANCE = {"triggers": 0.07, "tx": 0.12, "tpi_problems": 0.62, "allergy": 0.8}

#: Chance that an optional question is answered at all.
OPTIONAL_CHANCE: dict[str, float] = {
    "pain_now": 0.75,
    "other_location": 0.08,
    "tp_twitch": 0.6,
    "supplements": 0.8,
    "med_list": 0.4,
    "ivdu": 0.85,
    "other_conditions": 0.22,
    "goals": 0.5,
    "questions_free": 0.3,
}

#: Short, plausible free text (never about real people), by question id.
PHRASES: dict[str, tuple[str, ...]] = {
    "other_location": (
        "Worse on the side I sleep on",
        "It moves between both sides",
        "Along the edge of my shoulder blade",
        "Where my bag strap sits",
    ),
    "triggers_other": (
        "Driving long distances",
        "Carrying my toddler",
        "Gardening on weekends",
        "Playing guitar",
        "Long shifts on my feet",
    ),
    "tpi_problems_other": (
        "Felt light-headed for a few minutes",
        "Numb for a few hours",
        "Headache the next day",
    ),
    "bt_other_text": (
        "Cilostazol",
        "Dipyridamole",
        "One from my heart doctor, not sure of the name",
    ),
    "med_list": (
        "Ibuprofen when needed",
        "Lisinopril 10 mg daily, vitamin D",
        "Metformin, atorvastatin",
        "Sertraline 50 mg",
        "Levothyroxine",
        "Acetaminophen most days",
        "Omeprazole, fish oil",
        "Cyclobenzaprine at night",
    ),
    "allergy_other": (
        "Penicillin",
        "Sulfa drugs",
        "Codeine makes me sick",
        "Shellfish",
        "Adhesive bandages give me a rash",
    ),
    "la_reaction_other": (
        "My heart raced at the dentist",
        "Felt shaky and sweaty",
        "Numb much longer than expected",
    ),
    "other_conditions": (
        "High blood pressure",
        "Asthma",
        "Migraines",
        "Thyroid problems",
        "Acid reflux",
        "Anxiety",
        "Sleep apnea",
        "High cholesterol",
    ),
    "goals": (
        "Sleep through the night",
        "Work at my desk without pain",
        "Pick up my grandchildren",
        "Get back to running",
        "Garden again",
        "Drive without turning my whole body",
        "Play tennis again",
        "Carry groceries without pain",
    ),
    "questions_free": (
        "How many shots would I need?",
        "Will it hurt?",
        "Can I drive home afterwards?",
        "Is there a shot without steroid?",
        "How long before it works?",
        "Should I keep doing physical therapy?",
    ),
}

# Body map: where pain usually starts, and which places come with it.
PRIMARY_SITES: dict[str, float] = {
    "upper_back_trap": 24,
    "neck": 15,
    "lower_back": 20,
    "buttock_hip": 8,
    "shoulder": 10,
    "mid_back": 7,
    "head": 4,
    "jaw": 3,
    "chest": 1,
    "upper_arm": 2,
    "forearm_hand": 2,
    "abdomen": 0.5,
    "pelvis_groin": 0.5,
    "thigh": 1.5,
    "lower_leg_foot": 1.5,
}
NEIGHBOURS: dict[str, tuple[str, ...]] = {
    "head": ("neck", "jaw", "upper_back_trap"),
    "jaw": ("head", "neck"),
    "neck": ("upper_back_trap", "head", "shoulder"),
    "upper_back_trap": ("neck", "shoulder", "mid_back"),
    "shoulder": ("upper_back_trap", "upper_arm", "mid_back"),
    "mid_back": ("upper_back_trap", "shoulder", "lower_back"),
    "chest": ("shoulder", "mid_back"),
    "upper_arm": ("shoulder", "forearm_hand"),
    "forearm_hand": ("upper_arm",),
    "abdomen": ("lower_back", "pelvis_groin"),
    "lower_back": ("buttock_hip", "mid_back"),
    "buttock_hip": ("lower_back", "thigh"),
    "pelvis_groin": ("buttock_hip", "abdomen"),
    "thigh": ("buttock_hip", "lower_leg_foot"),
    "lower_leg_foot": ("thigh",),
}
#: Weights for how many places hurt: 1, 2, 3, ...
REGION_COUNTS = (30, 34, 19, 8, 4, 2, 1.5, 1.5)

# ---------------------------------------------------------------------------- people

# Names are drawn with falling weights (the n-th name ~ 1 / (n + offset)), as real names
# are: a few are common, most are rare. At 100,000 people the most common full name
# ("Alex Example") is shared by 20 to 30 of them and a typical full name by a handful,
# so a search behaves as it would in a real clinic rather than matching ever more rows
# as the table grows.
FIRST_NAMES = (
    "Alex", "Avery", "Bailey", "Casey", "Dana", "Devon", "Eli", "Emery", "Finley", "Gray",
    "Harper", "Jamie", "Jordan", "Kai", "Logan", "Morgan", "Noel", "Parker", "Quinn", "Reese",
    "Riley", "Robin", "Rowan", "Sage", "Sam", "Skyler", "Taylor", "Toby", "Val", "Wren",
    "Maria", "James", "Mary", "John", "Linda", "Michael", "Patricia", "Robert", "Jennifer",
    "David", "Elizabeth", "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica",
    "Thomas", "Sarah", "Charles", "Karen", "Daniel", "Nancy", "Matthew", "Lisa", "Anthony",
    "Betty", "Mark", "Margaret", "Donald", "Sandra", "Steven", "Ashley", "Paul", "Kimberly",
    "Andrew", "Emily", "Joshua", "Donna", "Kenneth", "Michelle", "Kevin", "Carol", "Brian",
    "Amanda", "George", "Melissa", "Edward", "Deborah", "Ronald", "Stephanie", "Timothy",
    "Rebecca", "Jason", "Laura", "Jeffrey", "Sharon", "Ryan", "Cynthia", "Jacob", "Kathleen",
    "Gary", "Amy", "Nicholas", "Shirley", "Eric", "Angela", "Jonathan", "Helen", "Stephen",
    "Anna", "Larry", "Brenda", "Justin", "Pamela", "Scott", "Nicole", "Brandon", "Samantha",
    "Benjamin", "Katherine", "Samuel", "Emma", "Gregory", "Ruth", "Frank", "Christine",
    "Raymond", "Catherine", "Patrick", "Rachel", "Jack", "Carolyn", "Dennis", "Janet",
    "Jose", "Luis", "Carlos", "Juan", "Ana", "Rosa", "Carmen", "Sofia", "Lucia", "Diego",
    "Wei", "Mei", "Hiroshi", "Yuki", "Priya", "Ravi", "Amit", "Anjali", "Fatima", "Omar",
    "Ahmed", "Aisha", "Yusuf", "Chidi", "Amara", "Kwame", "Nia", "Ivan", "Olga", "Dmitri",
    "Sven", "Ingrid", "Lars", "Giulia", "Marco", "Minh", "Linh", "Hana", "Jae", "Tariq",
    "Leila", "Noor", "Mateo", "Valentina", "Camila", "Santiago", "Isabel", "Pedro", "Elena",
    "Nadia", "Kofi", "Zara", "Ines", "Tomas", "Alina", "Kenji", "Mira", "Arjun", "Deepa",
)  # fmt: skip
# Last names: obviously made up ones, then compounds of two place-name parts (Ashford,
# Willowmere ...), in a fixed shuffled order so the common ones are not all "Ash...".
_LAST_STARTS = (
    "Ash", "Birch", "Brook", "Cedar", "Clay", "Cold", "Elm", "Fair", "Fern", "Fox", "Glen",
    "Green", "Hazel", "Heath", "High", "Holly", "Lake", "Lark", "Linden", "Maple", "Marsh",
    "Mill", "Moss", "North", "Oak", "Pine", "Red", "River", "Rose", "Rush", "Sand", "Silver",
    "Stone", "Thorn", "West", "Whit", "Willow", "Wood", "Wren", "Yew",
)  # fmt: skip
_LAST_ENDS = (
    "bank", "bourne", "bridge", "brook", "by", "combe", "crest", "dale", "den", "down",
    "field", "ford", "gate", "hall", "ham", "hill", "holm", "hurst", "lake", "ley", "low",
    "mere", "more", "ridge", "shaw", "shore", "stead", "ton", "wade", "well", "wick", "wood",
    "worth",
)  # fmt: skip
_COMPOUNDS = [
    start + end for start in _LAST_STARTS for end in _LAST_ENDS if end not in start.lower()
]
random.Random("demo-last-names").shuffle(_COMPOUNDS)  # not a secret  # noqa: S311  # nosec B311
_MADE_UP = (
    "Example", "Sample", "Tester", "Demo", "Placeholder", "Mockingbird", "Fieldstone",
    "Brookside", "Hillcrest", "Oakwood", "Lakeshore", "Maplewood", "Riverbend", "Stonebridge",
    "Willowby", "Ashdown", "Birchfield", "Cedarholm", "Elmsworth", "Foxglove",
)  # fmt: skip
LAST_NAMES = (*_MADE_UP, *(name for name in _COMPOUNDS if name not in _MADE_UP))
#: Cumulative weights for :func:`random.Random.choices`: the n-th first name has weight
#: 1 / (n + 10) (the most common about 3 % of people), the n-th last name 1 / (n + 30)
#: (the most common about 1 %), roughly as in a real population.
FIRST_CUM_WEIGHTS = tuple(itertools.accumulate(1 / (n + 10) for n in range(len(FIRST_NAMES))))
LAST_CUM_WEIGHTS = tuple(itertools.accumulate(1 / (n + 30) for n in range(len(LAST_NAMES))))
#: When people ask to be called (codes of the contact page).
BEST_TIME_WEIGHTS = {"morning": 30, "afternoon": 30, "evening": 15, "any_time": 25}
#: Area codes for the fictional 555-01xx numbers: 2xx to 9xx except N11 and N9x, so about
#: 71,000 different numbers and a whole number is near-unique, as a real one is.
AREA_CODES = tuple(
    f"{a}{b}{c}" for a in range(2, 10) for b in range(9) for c in range(10) if (b, c) != (1, 1)
)


@dataclass(frozen=True)
class _Person:
    """What shapes one generated person's answers together (never stored)."""

    age: int
    female: bool
    #: Pain mostly muscular, so the trigger point features tend to be "yes".
    myofascial: bool
    #: Pain in many places at once.
    widespread: bool


def _pick(rng: random.Random, weights: Mapping[str, float]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _ynu(rng: random.Random, weights: tuple[float, float, float]) -> str:
    return rng.choices(("yes", "no", "not_sure"), weights=weights)[0]


def _some(rng: random.Random, weights: Mapping[str, float], count: int) -> list[str]:
    """Pick ``count`` different codes, each with its weight."""
    pool = dict(weights)
    chosen: list[str] = []
    while pool and len(chosen) < count:
        code = _pick(rng, pool)
        chosen.append(code)
        del pool[code]
    return chosen


def _count(rng: random.Random, weights: Sequence[float]) -> int:
    return rng.choices(range(1, len(weights) + 1), weights=weights)[0]


def _person(rng: random.Random) -> _Person:
    # Most people are 30 to 65; a few are at either end of the form's range.
    age = round(rng.triangular(18, 95, 47))
    return _Person(
        age=min(max(age, questionnaire.MIN_AGE), 95),
        female=rng.random() < 0.58,
        myofascial=rng.random() < 0.72,
        widespread=rng.random() < 0.025,
    )


def _side(base: str, side: str) -> str:
    sided = f"{base}_{side}"
    return sided if sided in questionnaire.REGIONS else base


def _regions(rng: random.Random, person: _Person) -> tuple[list[str], str]:
    """Return the painful places and the one that bothers most."""
    if person.widespread:
        chosen = rng.sample(list(questionnaire.REGIONS), rng.randint(8, 16))
        return chosen, rng.choice(chosen)
    side = rng.choice("lr")
    start = _side(_pick(rng, PRIMARY_SITES), side)
    chosen = [start]
    wanted = _count(rng, REGION_COUNTS)
    while len(chosen) < wanted:
        here = rng.choice(chosen)
        base = here[:-2] if here[-2:] in ("_l", "_r") else here
        if base != here and rng.random() < 0.4:
            mirror = _side(base, "r" if here.endswith("_l") else "l")
            candidate = mirror
        else:
            candidate = _side(rng.choice(NEIGHBOURS[base]), here[-1] if base != here else side)
        if candidate not in chosen:
            chosen.append(candidate)
        elif rng.random() < 0.1:  # rarely, somewhere unrelated
            other = rng.choice(list(questionnaire.REGIONS))
            if other not in chosen:
                chosen.append(other)
    primary = start if rng.random() < 0.85 else rng.choice(chosen)
    return chosen, primary


def _multi(rng: random.Random, qid: str, person: _Person) -> list[str]:
    question = Q[qid]
    if question.exclusive is not None:
        none_chance = NONE_CHANCE.get(qid, 0.1)
        if qid == "bt":  # blood thinners are mostly an older person's medicine
            none_chance = 0.97 if person.age < 50 else 0.88 if person.age < 65 else 0.72
        if rng.random() < none_chance:
            return [question.exclusive]
    weights = MULTI_WEIGHTS.get(qid) or {o.code: 1 for o in question.options}
    weights = {c: w for c, w in weights.items() if c != question.exclusive}
    if qid == "quality" and not person.myofascial:
        weights = {**weights, "shooting_electric": 14, "pins_needles": 12, "numbness": 10}
    return _some(rng, weights, _count(rng, MULTI_COUNTS.get(qid, (1,))))


def _choice(rng: random.Random, qid: str, answers: Mapping[str, Any], person: _Person) -> str:
    question = Q[qid]
    if qid in WARNING_SIGNS:
        return "yes" if rng.random() < WARNING_SIGNS[qid] else "no"
    if qid in TP_WEIGHTS:
        return _ynu(rng, TP_WEIGHTS[qid][person.myofascial])
    if question.about is not None:
        return _pick(rng, EFFECT_WEIGHTS)
    if question.choices_within is not None:
        return rng.choice(answers[question.choices_within])
    if qid == "preg":
        if not person.female:
            return "not_applicable" if rng.random() < 0.9 else "no"
        if person.age >= 52:
            return "not_applicable" if rng.random() < 0.6 else "no"
        return _pick(rng, {"no": 88, "yes": 2, "not_sure": 4, "not_applicable": 6})
    if qid == "breastfeed":
        if not person.female:
            return "not_applicable" if rng.random() < 0.85 else "no"
        if person.age < 42 and rng.random() < 0.04:
            return "yes"
        return "no" if rng.random() < 0.7 else "not_applicable"
    if qid == "dur" and person.widespread:
        return _pick(rng, {"m3_12": 25, "gt_1y": 75})
    if qid == "diabetes":
        chance = 0.06 if person.age < 45 else 0.14 if person.age < 65 else 0.22
        if rng.random() >= chance:
            return "no"
        return _pick(rng, {"diet_only": 20, "non_insulin": 55, "insulin": 25})
    if qid == "cancer_hx":
        past = 0.015 if person.age < 45 else 0.05 if person.age < 65 else 0.1
        roll = rng.random()
        return "current" if roll < 0.015 else "past" if roll < 0.015 + past else "no"
    if qid == "osteoporosis":
        yes = 0.01 if person.age < 50 else 0.08 if person.age < 65 else 0.2
        yes *= 1.6 if person.female else 0.5
        roll = rng.random()
        return "yes" if roll < yes else "not_sure" if roll < yes + 0.04 else "no"
    if qid == "fm_dx":
        yes = 0.45 if person.widespread else 0.06 if person.female else 0.02
        roll = rng.random()
        return "yes" if roll < yes else "not_sure" if roll < yes + 0.05 else "no"
    weights = WEIGHTS.get(qid) or {o.code: 1 for o in question.options}
    return _pick(rng, weights)


def _number(rng: random.Random, qid: str, answers: Mapping[str, Any], person: _Person) -> int:
    question = Q[qid]
    low, high = question.min, question.max
    assert low is not None and high is not None
    if qid == "age":
        return person.age
    base = answers.get("peg_p")
    if qid == "peg_p":
        value = rng.gauss(6.0 if not person.widespread else 7.0, 1.7)
    elif base is not None:
        # Interference and pain right now follow the average pain, give or take.
        value = rng.gauss(base + (0.3 if qid in ("peg_e", "peg_g") else -0.4), 1.5)
    else:
        value = rng.uniform(low, high)
    return min(max(round(value), max(low, 1) if qid == "peg_p" else low), high)


def _text(rng: random.Random, qid: str) -> str:
    limit = Q[qid].max_length or 200
    phrases = PHRASES.get(qid) or ("See my notes",)
    return rng.choice(phrases)[:limit]


def generate_answers(rng: random.Random) -> dict[str, Any]:
    """Return one valid, realistic coded answer set (screening/scoring/README.md §1).

    Questions are answered in form order; a question is answered only when it is shown
    by the answers so far, exclusive options ("Nothing yet") stand alone, the primary
    place is one of the selected places, the age is 18 to 95 and consent is given, so
    :func:`screening.scoring.questionnaire.validate` accepts every result. Answers are
    weighted, not uniform: warning signs are rare, most pain is in one to three nearby
    places and has lasted months.

    :param rng: the only source of randomness; the same state gives the same answers.
    """
    person = _person(rng)
    regions, primary = _regions(rng, person)
    answers: dict[str, Any] = {}
    for qid, question in Q.items():
        if not questionnaire.is_shown(qid, answers):
            continue
        if not question.required and rng.random() >= OPTIONAL_CHANCE.get(qid, 0.3):
            continue
        kind = question.type
        if qid == "regions":
            value: Any = regions
        elif qid == "primary_region":
            value = primary
        elif kind in questionnaire.CHOICE_TYPES:
            value = _choice(rng, qid, answers, person)
        elif kind == "multi":
            value = _multi(rng, qid, person)
        elif kind in ("scale", "int"):
            value = _number(rng, qid, answers, person)
        elif kind == "text":
            value = _text(rng, qid)
        else:  # the consent box
            value = True
        answers[qid] = value
    return answers


def _birth_date(rng: random.Random, age: int, today: date) -> date:
    """Return a date of birth that makes someone ``age`` years old on ``today``."""
    latest = _years_before(today, age)  # their birthday is today at the latest
    earliest = _years_before(today, age + 1) + timedelta(days=1)
    return earliest + timedelta(days=rng.randrange((latest - earliest).days + 1))


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February in a year without one
        return day.replace(year=day.year - years, day=28)


def generate_personal(
    rng: random.Random,
    submitted_at: datetime,
    *,
    age: int | None = None,
    timezone: str = "America/New_York",
) -> dict[str, Any]:
    """Return fictional contact details, shaped like the contact page stores them.

    :param submitted_at: when the form was sent (aware); the date of birth makes the
        person ``age`` on that day in ``timezone`` (the clinic's calendar day).
    :param age: age in whole years; drawn (18 to 95) when not given.
    :return: ``dob`` (ISO date), ``full_name``, ``phone`` (555-01xx), ``email``
        (example.com, or None), ``best_time``.
    """
    if age is None:
        age = _person(rng).age
    today = submitted_at.astimezone(ZoneInfo(timezone)).date()
    first = rng.choices(FIRST_NAMES, cum_weights=FIRST_CUM_WEIGHTS)[0]
    last = rng.choices(LAST_NAMES, cum_weights=LAST_CUM_WEIGHTS)[0]
    email = None
    if rng.random() < 0.45:
        email = f"{first}.{last}{rng.randrange(100)}@example.com".lower()
    return {
        "dob": _birth_date(rng, age, today).isoformat(),
        "full_name": f"{first} {last}",
        "phone": f"({rng.choice(AREA_CODES)}) 555-01{rng.randrange(100):02d}",
        "email": email,
        "best_time": _pick(rng, BEST_TIME_WEIGHTS),
    }


# ---------------------------------------------------------------------------- seeding

#: Relative number of forms sent in each local hour of the day.
HOUR_WEIGHTS = (
    (0.05,) * 6 + (0.2, 0.5) + (0.9,) * 4 + (1.0, 1.0) + (0.8,) * 4 + (1.0,) * 4 + (0.5, 0.2)
)

#: Status weights by how many days ago the form was sent (first band that fits).
STATUS_BY_AGE: tuple[tuple[int, dict[str, float]], ...] = (
    (3, {"new": 75, "in_review": 20, "contacted": 5}),
    (
        14,
        {
            "new": 22,
            "in_review": 30,
            "contacted": 25,
            "scheduled": 12,
            "not_proceeding": 6,
            "closed": 5,
        },
    ),
    (
        45,
        {
            "new": 4,
            "in_review": 8,
            "contacted": 20,
            "scheduled": 25,
            "not_proceeding": 16,
            "closed": 27,
        },
    ),
    (
        10**6,
        {
            "new": 1,
            "in_review": 2,
            "contacted": 5,
            "scheduled": 9,
            "not_proceeding": 15,
            "closed": 68,
        },
    ),
)


def _submitted_at(rng: random.Random, now: datetime, days: int, zone: ZoneInfo) -> datetime:
    """Return a time in the last ``days`` days, busier on weekday daytimes."""
    span = days * 86400
    while True:
        moment = now - timedelta(seconds=rng.uniform(0, span - 1))
        local = moment.astimezone(zone)
        keep = HOUR_WEIGHTS[local.hour] * (0.5 if local.weekday() >= 5 else 1.0)
        if rng.random() < keep:
            return moment.replace(microsecond=0)


def _status(rng: random.Random, age: timedelta, outcome: str) -> str:
    for limit, weights in STATUS_BY_AGE:
        if age.days < limit:
            status = _pick(rng, weights)
            break
    if outcome == Outcome.SEEK_CARE and status == Status.NEW and age > timedelta(days=1):
        status = Status.CONTACTED  # urgent ones are called first
    if outcome == Outcome.NOT_A_FIT and status == Status.SCHEDULED and rng.random() < 0.6:
        status = Status.NOT_PROCEEDING
    return status


@dataclass
class SeedSummary:
    """What :func:`seed_summary` did."""

    created: int = 0
    clinics: dict[str, int] = field(default_factory=dict)
    new_clinics: list[str] = field(default_factory=list)
    outcomes: Counter[str] = field(default_factory=Counter)
    statuses: Counter[str] = field(default_factory=Counter)
    first: datetime | None = None
    last: datetime | None = None
    seconds: float = 0.0


def _clinics(names: Sequence[str] | None) -> tuple[list[Clinic], list[str]]:
    """Return the clinics to fill, creating those that do not exist yet."""
    if names is None:
        existing = db.session.scalars(
            select(Clinic).where(Clinic.active.is_(True)).order_by(Clinic.id)
        ).all()
        if existing:
            return list(existing), []
        names = DEFAULT_CLINICS
    clinics, created = [], []
    for name in names:
        clinic = accounts.clinic_by_name(name)
        if clinic is None:
            clinic = accounts.create_clinic(name)
            created.append(clinic.name)
        clinics.append(clinic)
    if created:
        db.session.commit()  # kept if an insert below collides and rolls back to retry
    return clinics, created


def _references(count: int, taken: set[str]) -> list[str]:
    """Return ``count`` new reference codes, none in ``taken`` nor in the database."""
    codes: list[str] = []
    while len(codes) < count:
        fresh = {readable_code() for _ in range(count - len(codes))} - taken
        fresh -= set(
            db.session.scalars(select(Submission.reference).where(Submission.reference.in_(fresh)))
        )
        codes.extend(sorted(fresh))
        taken.update(fresh)
    return codes


def seed_summary(
    count: int,
    *,
    seed: int = 1,
    clinics: Sequence[str] | None = None,
    days: int = 120,
    now: datetime | None = None,
    batch_size: int = 1000,
) -> SeedSummary:
    """Like :func:`seed`, returning what was done (for the command's report)."""
    if count < 0 or days < 1 or batch_size < 1:
        raise ValueError("count must be >= 0, days and batch_size >= 1")
    started = time.perf_counter()
    now = now or utcnow()
    zone = ZoneInfo(current_app.config["CLINIC_TIMEZONE"])
    rng = random.Random(seed)  # noqa: S311  (fictional data, not security)  # nosec B311
    targets, new_clinics = _clinics(clinics)
    summary = SeedSummary(new_clinics=new_clinics, clinics={c.name: 0 for c in targets})
    # Bigger clinics first: the first gets about half of the forms.
    clinic_weights = [1 / (index + 1) for index in range(len(targets))]
    # Dates come from their own stream, so the answers do not depend on ``now``.
    clock = random.Random(f"demo-dates-{seed}")  # noqa: S311  (fictional dates)  # nosec B311
    times = sorted(_submitted_at(clock, now, days, zone) for _ in range(count))
    taken: set[str] = set()
    for start in range(0, count, batch_size):
        rows = []
        for submitted_at in times[start : start + batch_size]:
            answers = generate_answers(rng)
            clinic = rng.choices(targets, weights=clinic_weights)[0]
            personal = generate_personal(rng, submitted_at, age=answers["age"], timezone=zone.key)
            if len(targets) > 1:
                personal["clinic_id"] = clinic.id
            minutes = rng.uniform(5, 40) if rng.random() < 0.93 else rng.uniform(60, 60 * 72)
            row = SimpleNamespace(
                answers=answers,
                personal=personal,
                language="en",
                clinic_id=clinic.id,
                questionnaire_version=questionnaire.VERSION,
                started_at=submitted_at - timedelta(minutes=minutes),
                submitted_at=submitted_at,
            )
            # The real scorer, copied onto the row exactly as a real submit does.
            apply_result(row, score(answers))  # type: ignore[arg-type]
            row.status = _status(rng, now - submitted_at, row.outcome)
            row.is_open = row.status not in DONE_STATUSES
            rows.append(vars(row))
            summary.clinics[clinic.name] += 1
            summary.outcomes[row.outcome] += 1
            summary.statuses[row.status] += 1
        _insert(rows, taken)
        summary.created += len(rows)
    if times:
        summary.first, summary.last = times[0], times[-1]
    summary.seconds = time.perf_counter() - started
    return summary


def _insert(rows: list[dict[str, Any]], taken: set[str]) -> None:
    """Insert one batch in one statement and commit; draw codes again on a collision.

    Bulk statements skip the ORM, so the digests and search tokens are made here too.
    """
    ring = key_store().ring()
    for _attempt in range(5):
        for row, reference in zip(rows, _references(len(rows), taken), strict=True):
            row["reference"] = reference
            row["public_id"] = secrets.token_hex(16)
            row["submit_key"] = SUBMIT_KEY_PREFIX + secrets.token_hex(16)
            row["digest"] = integrity.digest_of(row, ring)
        try:
            table = Submission.__table__
            ids = db.session.scalars(
                insert(table).returning(table.c.id, sort_by_parameter_order=True), rows
            ).all()
            search_index.insert_rows(
                db.session,
                (
                    token
                    for row, row_id in zip(rows, ids, strict=True)
                    for token in search_index.token_rows(
                        row_id, row["clinic_id"], row["personal"], ring
                    )
                ),
            )
            db.session.commit()
            return
        except IntegrityError:  # a concurrent writer took a code in the meantime
            db.session.rollback()
    raise RuntimeError("could not allocate unique reference codes")


def seed(
    count: int,
    *,
    seed: int = 1,
    clinics: list[str] | None = None,
    days: int = 120,
    now: datetime | None = None,
) -> int:
    """Add ``count`` fictional, scored submissions to the database.

    Needs an application context. Rows go in batches of 1,000, one statement and one
    commit per batch, so 100,000 rows take a minute or two rather than hours.

    :param seed: seeds :class:`random.Random`; the same seed gives the same answers,
        people and clinics, and with the same ``now`` the same dates and statuses
        (reference codes are always fresh).
    :param clinics: clinic names to fill, created when missing. By default every active
        clinic, or :data:`DEFAULT_CLINICS` when there is none.
    :param days: submissions are spread over this many days before ``now``.
    :param now: the end of that span (aware); defaults to the current time.
    :return: the number of submissions created.
    """
    return seed_summary(count, seed=seed, clinics=clinics, days=days, now=now).created


demo_cli = AppGroup("demo", help="Fictional demo data (never in a real clinic's database).")


@demo_cli.command("seed")
@click.option("--count", type=click.IntRange(min=1), required=True, help="How many submissions.")
@click.option("--seed", "seed_value", type=int, default=1, show_default=True, help="Random seed.")
@click.option(
    "--days", type=click.IntRange(min=1), default=120, show_default=True, help="Spread over."
)
@click.option(
    "--clinic",
    "clinic_names",
    multiple=True,
    help="Clinic to fill (repeatable); created when missing. Default: all active clinics.",
)
@click.option("--force", is_flag=True, help="Run even though ENVIRONMENT is production.")
def seed_command(
    count: int, seed_value: int, days: int, clinic_names: tuple[str, ...], force: bool
) -> None:
    """Add COUNT fictional, scored submissions spread over clinics and dates."""
    environment = current_app.config["ENVIRONMENT"]
    if environment == "production" and not force:
        raise click.ClickException(
            "Refusing to add demo data: ENVIRONMENT is 'production'. Demo submissions look "
            "like real patients in the clinic's queue. Point DATABASE_URL at a development "
            "database (SCREENING_ENVIRONMENT=development), or pass --force if this database "
            "is really a throwaway one."
        )
    summary = seed_summary(count, seed=seed_value, clinics=list(clinic_names) or None, days=days)
    for name in summary.new_clinics:
        audit.record("clinic.create", target=name, detail={"via": "demo seed"})
    audit.record(
        "demo.seed",
        target=f"{summary.created} demo submissions",
        detail={"count": summary.created, "seed": seed_value, "days": days, "via": "cli"},
    )
    db.session.commit()
    for name in summary.new_clinics:
        click.echo(f"Added clinic {name}.")
    rate = summary.created / summary.seconds if summary.seconds else 0.0
    click.echo(
        f"Created {summary.created} demo submissions (seed {seed_value}) in "
        f"{summary.seconds:.1f} s ({rate:,.0f} rows/s)."
    )
    if summary.first and summary.last:
        click.echo(f"Submitted between {summary.first:%Y-%m-%d} and {summary.last:%Y-%m-%d} (UTC).")
    click.echo("Clinics: " + ", ".join(f"{n} {c}" for n, c in summary.clinics.items()) + ".")
    outcomes = tuple(Outcome)
    click.echo("Outcomes: " + ", ".join(f"{o} {summary.outcomes[o]}" for o in outcomes) + ".")
    click.echo("Statuses: " + ", ".join(f"{s} {summary.statuses[s]}" for s in STATUSES) + ".")
    click.echo(f"Demo rows have a submit_key starting with {SUBMIT_KEY_PREFIX!r}.")
