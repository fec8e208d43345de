"""The one generator of coded answer sets: realistic ones, or any from the whole answer space.

:func:`generate` answers the questions in form order. A question is answered only when
the answers so far show it, an optional one may be skipped, an exclusive option ("Nothing
yet") stands alone, the place that bothers most is one of the places ticked, the age is
adult and consent is given, so :func:`screening.scoring.questionnaire.validate` accepts
every set, whoever makes the choices.

Every choice goes through a :class:`Chooser`, which is told both what may be chosen (every
code of the question, every number in its range) and how often a clinic sees each answer
(the weights in ``weights.toml``, beside this file). Two choosers:

- :class:`Realistic` draws by those weights from a :class:`random.Random`: the demo data
  (``flask demo seed``) and the benchmarks. :func:`generate_answers` is the short way.
- :class:`WholeSpace` lets every value of the domain come up, the rare ones often enough
  to be tested (one time in eight at least), and makes each choice from one integer,
  ``index(n)`` in ``0 .. n-1``, where 0 is always the most typical answer. The property
  tests pass hypothesis's integers as ``index``: hypothesis then drives the same choices
  the demo makes, and shrinks a failing set choice by choice towards a typical patient
  with only the answers that matter left unusual.

Like the scorer, this module imports only the standard library and :mod:`screening.scoring`
(``tests/test_architecture.py`` keeps it so); the seeding beside it, in
``screening/demo/__init__.py``, is what needs the database.
"""

from __future__ import annotations

import random
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

from screening.scoring import questionnaire

WEIGHTS_FILE = Path(__file__).with_name("weights.toml")
Q = questionnaire.QUESTIONS
T = TypeVar("T")

#: Tries of the body-map walk to find a new place before it stops with fewer places.
MAX_REGION_TRIES = 1000


class Chooser(Protocol):
    """Where a generated answer set takes its choices from.

    Each method is given the domain (what may be chosen) and the realistic weights; a
    chooser may follow the weights (:class:`Realistic`) or only the domain
    (:class:`WholeSpace`), but always returns a value of the domain.
    """

    def chance(self, probability: float) -> bool:
        """True or False; True with ``probability`` in a clinic."""
        ...

    def one(self, items: Sequence[T], weights: Sequence[float] | None = None) -> T:
        """One of ``items`` (``weights`` as often as a clinic sees each; None: evenly)."""
        ...

    def some(
        self, items: Sequence[str], weights: Sequence[float], counts: Sequence[float]
    ) -> list[str]:
        """Different ``items``, at least one; ``counts`` weigh how many (1, 2, 3, ...)."""
        ...

    def sample(self, items: Sequence[str], low: int, high: int) -> list[str]:
        """Different ``items``, at least one; in a clinic ``low`` to ``high`` of them."""
        ...

    def number(self, low: int, high: int, draw: Callable[[random.Random], float]) -> int:
        """An integer from ``low`` to ``high``; in a clinic ``draw(rng)``, rounded."""
        ...

    def text(self, phrases: Sequence[str], max_length: int) -> str:
        """Free text of at most ``max_length`` characters; in a clinic one of ``phrases``."""
        ...


class Realistic:
    """A :class:`Chooser` that follows the weights, drawing from ``rng`` (the demo data)."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def chance(self, probability: float) -> bool:
        return self.rng.random() < probability

    def one(self, items: Sequence[T], weights: Sequence[float] | None = None) -> T:
        if weights is None:
            return self.rng.choice(items)
        return self.rng.choices(items, weights=weights)[0]

    def some(
        self, items: Sequence[str], weights: Sequence[float], counts: Sequence[float]
    ) -> list[str]:
        count = self.one(range(1, len(counts) + 1), counts)
        pool = {item: weight for item, weight in zip(items, weights, strict=True) if weight > 0}
        chosen: list[str] = []
        while pool and len(chosen) < count:
            item = self.one(list(pool), list(pool.values()))
            chosen.append(item)
            del pool[item]
        return chosen

    def sample(self, items: Sequence[str], low: int, high: int) -> list[str]:
        return self.rng.sample(list(items), self.rng.randint(low, high))

    def number(self, low: int, high: int, draw: Callable[[random.Random], float]) -> int:
        return min(max(round(draw(self.rng)), low), high)

    def text(self, phrases: Sequence[str], max_length: int) -> str:
        return self.rng.choice(phrases)[:max_length]


class WholeSpace:
    """A :class:`Chooser` over the whole domain, each choice made by ``index(n)``.

    ``index(n)`` returns an integer from 0 to n - 1; 0 is always the typical choice (the
    likelier outcome of a chance, the most common code, the lowest number, one option,
    the shortest text), so a source that shrinks towards 0 shrinks towards a typical
    patient. With an even ``index``, an unusual answer comes up as often as the typical
    one, except where a clinic sees it less than one time in ten (:data:`RARE`: a warning
    sign, a bleeding disorder): then one time in eight, so the eleven warning signs do not
    make nearly every set an emergency. ``WholeSpace(random.Random(seed).randrange)``
    gives a seeded sample.
    """

    #: An answer a clinic sees less often than this comes up one time in eight; the
    #: others are as likely as the typical answer.
    RARE = 0.1
    #: Text is drawn from these characters (validation's concern is length and odd bytes).
    ALPHABET = "ab c"
    #: Longest text drawn: enough to be text, short enough to shrink quickly.
    TEXT_LENGTH = 20

    def __init__(self, index: Callable[[int], int]) -> None:
        self.index = index

    def _rare(self, share: float) -> bool:
        """True one time in eight when ``share`` is under :data:`RARE`, else one in two.

        False at index 0.
        """
        if share < self.RARE:
            return self.index(8) == 7
        return self.index(2) == 1

    def chance(self, probability: float) -> bool:
        likely = probability >= 0.5
        return likely != self._rare(min(probability, 1 - probability))

    def one(self, items: Sequence[T], weights: Sequence[float] | None = None) -> T:
        if weights is None or len(set(weights)) <= 1:
            return items[self.index(len(items))]
        ranked = [item for _weight, item in sorted(zip(weights, items, strict=True), key=_heaviest)]
        if not self._rare(1 - max(weights) / sum(weights)):
            return ranked[0]
        return ranked[1 + self.index(len(ranked) - 1)]

    def some(
        self, items: Sequence[str], weights: Sequence[float], counts: Sequence[float]
    ) -> list[str]:
        ranked = [item for _w, item in sorted(zip(weights, items, strict=True), key=_heaviest)]
        # One option, then another three times in four: about four, any number possible.
        chosen = [ranked.pop(self.index(len(ranked)))]
        while ranked and self.index(4):
            chosen.append(ranked.pop(self.index(len(ranked))))
        return chosen

    def sample(self, items: Sequence[str], low: int, high: int) -> list[str]:
        pool = list(items)
        return [pool.pop(self.index(len(pool))) for _ in range(1 + self.index(len(pool)))]

    def number(self, low: int, high: int, draw: Callable[[random.Random], float]) -> int:
        return low + self.index(high - low + 1)

    def text(self, phrases: Sequence[str], max_length: int) -> str:
        length = 1 + self.index(min(max_length, self.TEXT_LENGTH))
        text = "".join(self.ALPHABET[self.index(len(self.ALPHABET))] for _ in range(length))
        return text if text.strip() else "a" + text[1:]  # blank text counts as no answer


def _heaviest(pair: tuple[float, Any]) -> float:
    return -pair[0]  # sorted() is stable: equal weights keep the data file's order


# ---------------------------------------------------------------------------- weights


class WeightsError(ValueError):
    """The weights file names a question, code or section that does not exist."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(f"{path.name}: " + "; ".join(problems))


@dataclass(frozen=True)
class MultiWeights:
    counts: tuple[float, ...]
    none: float | None
    weights: Mapping[str, float]
    not_myofascial: Mapping[str, float]


@dataclass(frozen=True)
class Weights:
    """``weights.toml``, checked against the questionnaire (see the file's header)."""

    people: Mapping[str, Any]
    optional: Mapping[str, float]
    warning_signs: Mapping[str, float]
    choice: Mapping[str, Mapping[str, float]]
    effects: Mapping[str, float]
    trigger_points: Mapping[str, Mapping[bool, Mapping[str, float]]]
    multi: Mapping[str, MultiWeights]
    phrases: Mapping[str, tuple[str, ...]]
    regions: Mapping[str, Any]


SECTIONS = (
    "people",
    "optional",
    "warning_signs",
    "choice",
    "effects",
    "trigger_points",
    "multi",
    "phrases",
    "regions",
)


def _side(base: str, side: str) -> str:
    sided = f"{base}_{side}"
    return sided if sided in questionnaire.REGIONS else base


def _check(data: dict[str, Any]) -> list[str]:
    """Return every problem of the raw file, each naming its place."""
    problems: list[str] = []

    def say(where: str, problem: str) -> None:
        problems.append(f"[{where}] {problem}")

    def chances(where: str, table: Mapping[str, Any]) -> None:
        for key, value in table.items():
            if not isinstance(value, int | float) or not 0 <= value <= 1:
                say(where, f"{key} = {value!r} is not a chance from 0 to 1")

    def weights(where: str, qid: str, table: Any, codes: frozenset[str] | set[str]) -> None:
        if not isinstance(table, dict) or not table:
            say(where, "needs weights by answer code")
            return
        unknown = sorted(set(table) - codes)
        if unknown:
            say(where, f"unknown codes {unknown} ({qid}'s codes: {sorted(codes)})")
        if any(not isinstance(w, int | float) or w < 0 for w in table.values()):
            say(where, "weights must be numbers of 0 or more")
        elif not any(table.values()):
            say(where, "at least one weight must be above 0")

    def counts_of(where: str, counts: Any, things: str) -> None:
        numbers = isinstance(counts, list) and all(isinstance(c, int | float) for c in counts)
        if not numbers or not counts or min(counts) < 0 or not any(counts):
            say(where, f"counts must be a list of weights for 1, 2, 3, ... {things}")

    def question(where: str, qid: str, types: tuple[str, ...]) -> bool:
        if qid not in Q:
            say(where, f"unknown question id {qid!r}")
            return False
        if Q[qid].type not in types:
            say(where, f"{qid} is a {Q[qid].type} question, not {' or '.join(types)}")
            return False
        return True

    for section in sorted(set(data) - set(SECTIONS)):
        problems.append(f"unknown section [{section}] (known: {', '.join(SECTIONS)})")
    missing = [s for s in SECTIONS if s not in data]
    if missing:
        problems.append(f"missing sections {missing}")
        return problems
    people = data["people"]
    chances("people", {k: people.get(k) for k in ("female", "myofascial", "widespread")})
    age = people.get("age", {})
    if not (
        questionnaire.MIN_AGE <= age.get("low", -1) <= age.get("mode", -1) <= age.get("high", -1)
    ):
        say("people", f"age needs {questionnaire.MIN_AGE} <= low <= mode <= high")
    elif age["high"] > Q["age"].max:
        say("people", f"age high {age['high']} is above the form's {Q['age'].max}")
    for key in sorted(set(people) - {"female", "myofascial", "widespread", "age"}):
        say("people", f"unknown key {key!r}")
    chances("optional", data["optional"])
    for qid in data["optional"]:
        if qid == "default":
            continue
        if qid not in Q:
            say("optional", f"unknown question id {qid!r}")
        elif Q[qid].required:
            say("optional", f"{qid} is required: it is always answered")
    chances("warning_signs", data["warning_signs"])
    for qid in data["warning_signs"]:
        question("warning_signs", qid, ("yes_no",))
    for qid, table in data["choice"].items():
        if question(f"choice.{qid}", qid, tuple(questionnaire.CHOICE_TYPES)):
            weights(f"choice.{qid}", qid, table, Q[qid].codes)
    effect_codes = frozenset().union(*(q.codes for q in Q.values() if q.about is not None))
    weights("effects", "the effect questions", data["effects"], effect_codes)
    for qid, kinds in data["trigger_points"].items():
        if question(f"trigger_points.{qid}", qid, ("ynu",)):
            if set(kinds) != {"myofascial", "not_myofascial"}:
                say(f"trigger_points.{qid}", "needs exactly myofascial and not_myofascial")
            for kind, table in kinds.items():
                weights(f"trigger_points.{qid}.{kind}", qid, table, Q[qid].codes)
    for qid, entry in data["multi"].items():
        where = f"multi.{qid}"
        if not question(where, qid, ("multi",)):
            continue
        codes = Q[qid].codes - {Q[qid].exclusive}
        for key in sorted(set(entry) - {"counts", "none", "weights", "not_myofascial"}):
            say(where, f"unknown key {key!r}")
        counts_of(where, entry.get("counts"), "options")
        if "none" in entry:
            if Q[qid].exclusive is None:
                say(where, f"{qid} has no 'none' option")
            chances(where, {"none": entry["none"]})
        weights(f"{where}.weights", qid, entry.get("weights"), codes)
        if "not_myofascial" in entry:
            weights(f"{where}.not_myofascial", qid, entry["not_myofascial"], codes)
    for qid, phrases in data["phrases"].items():
        if question("phrases", qid, ("text",)):
            limit = Q[qid].max_length or 200
            for phrase in phrases:
                if not isinstance(phrase, str) or not phrase.strip() or len(phrase) > limit:
                    say("phrases", f"{qid}: {phrase!r} is empty or longer than {limit}")
    regions = data["regions"]
    chances("regions", {k: regions.get(k) for k in ("mirror", "unrelated", "primary_is_first")})
    counts_of("regions", regions.get("counts"), "places")
    spread = regions.get("widespread", {})
    if not 1 <= spread.get("low", 0) <= spread.get("high", 0) <= len(questionnaire.REGIONS):
        say("regions", f"widespread needs 1 <= low <= high <= {len(questionnaire.REGIONS)}")
    known = {"counts", "widespread", "mirror", "unrelated", "primary_is_first"}
    for key in sorted(set(regions) - known - {"primary", "neighbours"}):
        say("regions", f"unknown key {key!r}")
    bases = {code.removesuffix("_l").removesuffix("_r") for code in questionnaire.REGIONS}
    primary, neighbours = regions.get("primary", {}), regions.get("neighbours", {})
    for where, names in (
        ("regions.primary", list(primary)),
        ("regions.neighbours", [*neighbours, *(n for ns in neighbours.values() for n in ns)]),
    ):
        unknown = sorted(set(names) - bases)
        if unknown:
            say(where, f"unknown places {unknown} (places: {sorted(bases)})")
    if set(primary) != set(neighbours):
        say("regions", "primary and neighbours must list the same places")
    return problems


def load_weights(path: Path = WEIGHTS_FILE) -> Weights:
    """Read and check ``weights.toml``.

    :raise WeightsError: naming every unknown question id, answer code, section or place,
        and every chance or weight out of range.
    """
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    problems = _check(data)
    if problems:
        raise WeightsError(path, problems)
    multi = {
        qid: MultiWeights(
            counts=tuple(entry["counts"]),
            none=entry.get("none"),
            weights=entry["weights"],
            not_myofascial=entry.get("not_myofascial", {}),
        )
        for qid, entry in data["multi"].items()
    }
    trigger_points = {
        qid: {True: kinds["myofascial"], False: kinds["not_myofascial"]}
        for qid, kinds in data["trigger_points"].items()
    }
    return Weights(
        people=data["people"],
        optional=data["optional"],
        warning_signs=data["warning_signs"],
        choice=data["choice"],
        effects=data["effects"],
        trigger_points=trigger_points,
        multi=multi,
        phrases={qid: tuple(phrases) for qid, phrases in data["phrases"].items()},
        regions=data["regions"],
    )


WEIGHTS = load_weights()


# ---------------------------------------------------------------------------- answers


@dataclass(frozen=True)
class Person:
    """What shapes one generated person's answers together (never stored)."""

    age: int
    female: bool
    #: Pain mostly muscular, so the trigger point features tend to be "yes".
    myofascial: bool
    #: Pain in many places at once.
    widespread: bool


def person(choose: Chooser, weights: Weights = WEIGHTS) -> Person:
    """Draw the person behind one answer set (their age is the age answered)."""
    people = weights.people
    age = people["age"]
    oldest = Q["age"].max
    if oldest is None:  # questionnaire.toml gives the age question a maximum
        raise ValueError("the age question has no maximum")
    return Person(
        age=choose.number(
            questionnaire.MIN_AGE,
            oldest,
            lambda rng: rng.triangular(age["low"], age["high"], age["mode"]),
        ),
        female=choose.chance(people["female"]),
        myofascial=choose.chance(people["myofascial"]),
        widespread=choose.chance(people["widespread"]),
    )


def _weighted(
    choose: Chooser, question: questionnaire.Question, table: Mapping[str, float] | None
) -> str:
    """One code of ``question``: by ``table``, codes it leaves out never realistically."""
    if not table:
        codes = [o.code for o in question.options]
        return choose.one(codes, [1] * len(codes))
    rest = [o.code for o in question.options if o.code not in table]
    return choose.one([*table, *rest], [*table.values(), *[0] * len(rest)])


def _regions(choose: Chooser, who: Person, weights: Weights) -> tuple[list[str], str]:
    """Return the painful places and the one that bothers most."""
    table = weights.regions
    if who.widespread:
        chosen = choose.sample(
            list(questionnaire.REGIONS), table["widespread"]["low"], table["widespread"]["high"]
        )
        return chosen, choose.one(chosen)
    side = choose.one("lr")
    start = _side(choose.one(list(table["primary"]), list(table["primary"].values())), side)
    chosen = [start]
    counts = table["counts"]
    wanted = choose.one(range(1, len(counts) + 1), counts)
    for _try in range(MAX_REGION_TRIES):
        if len(chosen) >= wanted:
            break
        here = choose.one(chosen)
        base = here[:-2] if here[-2:] in ("_l", "_r") else here
        if base != here and choose.chance(table["mirror"]):
            candidate = _side(base, "r" if here.endswith("_l") else "l")
        else:
            near = choose.one(table["neighbours"][base])
            candidate = _side(near, here[-1] if base != here else side)
        if candidate not in chosen:
            chosen.append(candidate)
        elif choose.chance(table["unrelated"]):  # rarely, somewhere unrelated
            other = choose.one(list(questionnaire.REGIONS))
            if other not in chosen:
                chosen.append(other)
    primary = start if choose.chance(table["primary_is_first"]) else choose.one(chosen)
    return chosen, primary


def _multi(
    choose: Chooser, question: questionnaire.Question, who: Person, weights: Weights
) -> list[str]:
    entry = weights.multi.get(question.id)
    if question.exclusive is not None:
        none_chance = entry.none if entry is not None and entry.none is not None else 0.1
        if question.id == "bt":  # blood thinners are mostly an older person's medicine
            none_chance = 0.97 if who.age < 50 else 0.88 if who.age < 65 else 0.72
        if choose.chance(none_chance):
            return [question.exclusive]
    codes = [o.code for o in question.options if o.code != question.exclusive]
    table: dict[str, float] = (
        dict(entry.weights) if entry is not None else dict.fromkeys(codes, 1.0)
    )
    if entry is not None and not who.myofascial:
        table.update(entry.not_myofascial)
    rest = [code for code in codes if code not in table]
    counts = entry.counts if entry is not None else (1,)
    return choose.some([*table, *rest], [*table.values(), *[0] * len(rest)], counts)


def _choice(
    choose: Chooser,
    question: questionnaire.Question,
    answers: Mapping[str, Any],
    who: Person,
    weights: Weights,
) -> str:
    qid = question.id
    if qid in weights.warning_signs:
        return "yes" if choose.chance(weights.warning_signs[qid]) else "no"
    if qid in weights.trigger_points:
        return _weighted(choose, question, weights.trigger_points[qid][who.myofascial])
    if question.about is not None:
        return _weighted(choose, question, weights.effects)
    if question.choices_within is not None:
        return choose.one(answers[question.choices_within])
    # Answers that depend on who the person is.
    if qid == "preg":
        if not who.female:
            return "not_applicable" if choose.chance(0.9) else "no"
        if who.age >= 52:
            return "not_applicable" if choose.chance(0.6) else "no"
        return _weighted(choose, question, {"no": 88, "yes": 2, "not_sure": 4, "not_applicable": 6})
    if qid == "breastfeed":
        if not who.female:
            return "not_applicable" if choose.chance(0.85) else "no"
        if who.age < 42 and choose.chance(0.04):
            return "yes"
        return "no" if choose.chance(0.7) else "not_applicable"
    if qid == "dur" and who.widespread:
        return choose.one(["m3_12", "gt_1y"], [25, 75])
    if qid == "diabetes":
        if not choose.chance(0.06 if who.age < 45 else 0.14 if who.age < 65 else 0.22):
            return "no"
        return choose.one(["diet_only", "non_insulin", "insulin"], [20, 55, 25])
    if qid == "cancer_hx":
        past = 0.015 if who.age < 45 else 0.05 if who.age < 65 else 0.1
        return choose.one(["current", "past", "no"], [0.015, past, 1 - 0.015 - past])
    if qid == "osteoporosis":
        yes = 0.01 if who.age < 50 else 0.08 if who.age < 65 else 0.2
        yes *= 1.6 if who.female else 0.5
        return choose.one(["yes", "not_sure", "no"], [yes, 0.04, 1 - yes - 0.04])
    if qid == "fm_dx":
        yes = 0.45 if who.widespread else 0.06 if who.female else 0.02
        return choose.one(["yes", "not_sure", "no"], [yes, 0.05, 1 - yes - 0.05])
    return _weighted(choose, question, weights.choice.get(qid))


def _number(
    choose: Chooser, question: questionnaire.Question, answers: Mapping[str, Any], who: Person
) -> int:
    low, high = question.min, question.max
    assert low is not None and high is not None  # every number question has a range
    if question.id == "age":
        return who.age
    base = answers.get("peg_p")
    if question.id == "peg_p":
        centre = 6.0 if not who.widespread else 7.0
        # At least 1: someone filling in this form has some pain on average.
        return choose.number(low, high, lambda rng: max(rng.gauss(centre, 1.7), 1))
    if base is not None:
        # Interference and pain right now follow the average pain, give or take.
        shift = 0.3 if question.id in ("peg_e", "peg_g") else -0.4
        return choose.number(low, high, lambda rng: rng.gauss(base + shift, 1.5))
    return choose.number(low, high, lambda rng: rng.uniform(low, high))


def generate(choose: Chooser, weights: Weights = WEIGHTS) -> dict[str, Any]:
    """Return one coded answer set that :func:`questionnaire.validate` accepts.

    :param choose: makes every choice: :class:`Realistic` for a clinic-like set,
        :class:`WholeSpace` for any set the form accepts.
    :param weights: how often a clinic sees each answer (``weights.toml``).
    """
    who = person(choose, weights)
    regions, primary = _regions(choose, who, weights)
    answers: dict[str, Any] = {}
    for qid, question in Q.items():
        if not questionnaire.is_shown(qid, answers):
            continue
        if not question.required:
            answered = weights.optional.get(qid, weights.optional["default"])
            if not choose.chance(answered):
                continue
        kind = question.type
        if qid == "regions":
            value: Any = regions
        elif qid == "primary_region":
            value = primary
        elif kind in questionnaire.CHOICE_TYPES:
            value = _choice(choose, question, answers, who, weights)
        elif kind == "multi":
            value = _multi(choose, question, who, weights)
        elif kind in ("scale", "int"):
            value = _number(choose, question, answers, who)
        elif kind == "text":
            phrases = weights.phrases.get(qid) or ("See my notes",)
            value = choose.text(phrases, question.max_length or 200)
        else:  # the consent box
            value = True
        answers[qid] = value
    return answers


def generate_answers(rng: random.Random) -> dict[str, Any]:
    """Return one realistic answer set (screening/scoring/README.md §1), drawn from ``rng``.

    Answers are weighted, not uniform: warning signs are rare, most pain is in one to
    three nearby places and has lasted months; the age is 18 to 95.

    :param rng: the only source of randomness; the same state gives the same answers.
    """
    return generate(Realistic(rng))
