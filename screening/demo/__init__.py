"""Demo data: realistic, fictional submissions for trying the staff side and benchmarks.

``flask --app screening demo seed --count N`` fills the database with ``N`` submissions
whose answers follow the questionnaire's rules (hidden questions absent, exclusive options
alone, required questions answered), scored by the real scorer and spread over clinics,
dates and workflow states.

The answers come from :mod:`screening.demo.answers`, drawn by the weights in
``screening/demo/weights.toml`` rather than uniformly, so the outcome mix looks like a
clinic's: most people answer the warning signs "no", have pain in one to three places and
have had it for months. All names, phone numbers (555-01xx) and e-mail addresses
(example.com) are fictional.

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
from screening.demo.answers import Realistic, generate_answers, person
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


def _pick(rng: random.Random, weights: Mapping[str, float]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


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
        age = person(Realistic(rng)).age
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
