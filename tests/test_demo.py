"""Demo data: fictional people and the ``demo seed`` command.

The answer sets themselves come from the one answer generator: tests/test_answers.py.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from screening import demo, search_index
from screening.audit import AuditEvent
from screening.extensions import db
from screening.models import Clinic, Submission
from screening.patient.forms import BEST_TIMES, age_on
from screening.scoring import questionnaire, score
from screening.submissions import urgency

NOW = datetime(2026, 11, 20, 15, 30, tzinfo=UTC)
PHONE_RE = re.compile(r"^\(\d{3}\) 555-01\d\d$")


@pytest.fixture()
def app(make_app):
    # No clinic: seeding makes its own, as on a fresh database.
    app = make_app(clinic=None)
    app.cli.add_command(demo.demo_cli)
    return app


def test_best_times_are_the_contact_page_codes() -> None:
    assert set(demo.BEST_TIME_WEIGHTS) == {code for code, _label in BEST_TIMES}


@pytest.mark.parametrize(
    "submitted_at",
    [
        NOW,
        datetime(2028, 3, 1, 3, 0, tzinfo=UTC),  # 29 February in New York
        datetime(2027, 1, 1, 2, 0, tzinfo=UTC),  # still 31 December in New York
    ],
)
def test_personal_details_are_fictional_and_match_the_age(submitted_at: datetime) -> None:
    today = submitted_at.astimezone(ZoneInfo("America/New_York")).date()
    rng = random.Random(3)
    for age in range(18, 96):
        personal = demo.generate_personal(rng, submitted_at, age=age)
        assert age_on(date.fromisoformat(personal["dob"]), today) == age
        assert PHONE_RE.match(personal["phone"])
        assert personal["email"] is None or personal["email"].endswith("@example.com")
        assert personal["best_time"] in ("morning", "afternoon", "evening", "any_time")
        first, last = personal["full_name"].split()
        assert first in demo.FIRST_NAMES and last in demo.LAST_NAMES


def test_seed_command_creates_scored_submissions(app, runner) -> None:
    result = runner.invoke(args=["demo", "seed", "--count", "1000", "--seed", "4", "--force"])
    assert result.exit_code == 0, result.output
    assert "Created 1000 demo submissions" in result.output
    with app.app_context():
        rows = db.session.scalars(select(Submission)).all()
        assert len(rows) == 1000
        assert len({row.reference for row in rows}) == 1000
        assert len({row.submit_key for row in rows}) == 1000
        clinics = {c.id: c.name for c in db.session.scalars(select(Clinic))}
        assert sorted(clinics.values()) == sorted(demo.DEFAULT_CLINICS)
        per_clinic = Counter(clinics[row.clinic_id] for row in rows)
        assert all(per_clinic[name] > 50 for name in demo.DEFAULT_CLINICS)
        now = datetime.now(UTC)
        zone = ZoneInfo(app.config["CLINIC_TIMEZONE"])
        for row in rows:
            result = score(row.answers)
            assert row.result == result.to_dict()
            assert row.outcome == result.outcome.value
            assert row.ruleset_version == result.ruleset_version
            assert row.urgency == urgency(row.outcome, row.care_level)
            assert {t.digest for t in row.search_tokens} == search_index.tokens(row.personal)
            assert {t.clinic_id for t in row.search_tokens} == {row.clinic_id}
            assert row.questionnaire_version == questionnaire.VERSION
            assert row.status in demo.STATUSES
            assert now - timedelta(days=121) < row.submitted_at <= now
            assert row.started_at < row.submitted_at
            assert row.submit_key.startswith(demo.SUBMIT_KEY_PREFIX)
            assert row.personal["clinic_id"] == row.clinic_id
            day = row.submitted_at.astimezone(zone).date()
            assert age_on(date.fromisoformat(row.personal["dob"]), day) == row.answers["age"]
        outcomes = Counter(row.outcome for row in rows)
        assert set(outcomes) == {"SEEK_CARE", "NOT_A_FIT", "DISCUSS_WITH_CONCERNS", "DISCUSS"}
        statuses = Counter(row.status for row in rows)
        assert {"new", "in_review", "closed"} <= set(statuses)
        recent = [r.status for r in rows if now - r.submitted_at < timedelta(days=3)]
        old = [r.status for r in rows if now - r.submitted_at > timedelta(days=60)]
        assert Counter(recent).most_common(1)[0][0] == "new"
        assert Counter(old).most_common(1)[0][0] == "closed"
        actions = db.session.scalars(select(AuditEvent.action)).all()
        assert actions.count("clinic.create") == 3
        assert actions[-1] == "demo.seed"


def test_seed_command_refuses_in_production(app, runner) -> None:
    assert app.config["ENVIRONMENT"] == "production"
    result = runner.invoke(args=["demo", "seed", "--count", "5"])
    assert result.exit_code != 0
    assert "production" in result.output
    assert "--force" in result.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Submission)) == 0
        assert db.session.scalar(select(func.count()).select_from(Clinic)) == 0


def test_seed_command_runs_in_development(app, runner) -> None:
    app.config["ENVIRONMENT"] = "development"
    result = runner.invoke(args=["demo", "seed", "--count", "3", "--days", "7"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Submission)) == 3


def test_seed_uses_existing_clinics(app) -> None:
    with app.app_context():
        db.session.add(Clinic(name="West Clinic"))
        db.session.add(Clinic(name="Closed Clinic", active=False))
        db.session.commit()
        assert demo.seed(20, now=NOW) == 20
        names = db.session.scalars(select(Clinic.name).join(Submission.clinic)).all()
        assert set(names) == {"West Clinic"}
        # With one clinic the patient chooses none, as in the real form.
        personal = db.session.scalars(select(Submission.personal)).all()
        assert all("clinic_id" not in p for p in personal)


def test_seed_creates_named_clinics(app) -> None:
    with app.app_context():
        assert demo.seed(30, clinics=["Alpha Clinic", "Beta Clinic"], now=NOW) == 30
        names = db.session.scalars(select(Clinic.name).join(Submission.clinic)).all()
        assert set(names) == {"Alpha Clinic", "Beta Clinic"}


def test_same_seed_same_content_fresh_identifiers(app) -> None:
    with app.app_context():
        demo.seed(5, seed=7, now=NOW)
        demo.seed(5, seed=7, now=NOW)
        rows = db.session.scalars(select(Submission).order_by(Submission.id)).all()
        first, second = rows[:5], rows[5:]
        assert [r.answers for r in first] == [r.answers for r in second]
        assert [r.personal for r in first] == [r.personal for r in second]
        assert [r.submitted_at for r in first] == [r.submitted_at for r in second]
        assert [r.status for r in first] == [r.status for r in second]
        assert not {r.reference for r in first} & {r.reference for r in second}
        assert all(NOW - timedelta(days=120) <= r.submitted_at <= NOW for r in rows)


def test_reference_collisions_draw_again(app, monkeypatch) -> None:
    with app.app_context():
        demo.seed(1, now=NOW)
        existing = db.session.scalar(select(Submission.reference))
        codes = iter([existing, "AAA-AAA-AA2", "AAA-AAA-AA2", "AAA-AAA-AA3"])
        monkeypatch.setattr(demo, "readable_code", lambda: next(codes))
        assert demo.seed(2, now=NOW) == 2
        references = db.session.scalars(select(Submission.reference)).all()
        assert sorted(references) == sorted([existing, "AAA-AAA-AA2", "AAA-AAA-AA3"])


def test_seed_batches(app) -> None:
    with app.app_context():
        summary = demo.seed_summary(25, batch_size=10, now=NOW)
        assert summary.created == 25
        assert sum(summary.clinics.values()) == 25
        assert db.session.scalar(select(func.count()).select_from(Submission)) == 25
