"""The audit trail: fields, hash chain, append-only table, reports and CLI.

Runs on SQLite and, with DATABASE_URL set, on PostgreSQL. Tampering tests first show
that the database refuses the change, then bypass the guard as the owner would (drop
the SQLite triggers, disable the PostgreSQL ones) to prove the chain still tells.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
import time_machine
from flask import Flask, g
from flask_login import LoginManager, UserMixin, login_user
from sqlalchemy import event, func, select, text
from sqlalchemy.exc import DBAPIError, ProgrammingError

from screening import audit, create_app, database
from screening.audit import Actor, AuditError, AuditEvent
from screening.config import ConfigError, database_url_from_env
from screening.extensions import db
from screening.models import Clinic
from screening.staff import accounts

ADDRESS = {"REMOTE_ADDR": "203.0.113.7"}
ALICE = Actor(7, "alice", "clinician")
BOB = Actor(8, "bob", "intake")
T0 = datetime(2025, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)


def record(app, action, *, actor=ALICE, **kwargs):
    """Record one row inside a request from the test address, and commit it."""
    with app.test_request_context(environ_base=ADDRESS):
        row = audit.record(action, actor=actor, **kwargs)
        db.session.commit()
        return row


def seed(app, count):
    for number in range(count):
        record(app, "submission.view", submission_id=number + 1)


def rows(app):
    with app.app_context():
        return list(db.session.scalars(select(AuditEvent).order_by(AuditEvent.id)))


def problems(app):
    with app.app_context():
        return audit.verify_chain()


def raw_sql(app, *statements):
    with app.app_context(), db.engine.begin() as conn:
        for statement in statements:
            conn.execute(text(statement))


def bypass_guard(app):
    """Remove the append-only guard the way a database owner could."""
    with app.app_context():
        dialect = db.engine.dialect.name
    if dialect == "sqlite":
        raw_sql(app, "DROP TRIGGER audit_event_no_update", "DROP TRIGGER audit_event_no_delete")
    else:
        # The tests connect as a superuser; production's app role could not do this.
        raw_sql(app, "ALTER TABLE audit_event DISABLE TRIGGER ALL")


def test_record_stores_who_what_when_where(app):
    with time_machine.travel(T0, tick=False), app.test_request_context(environ_base=ADDRESS):
        g.request_id = "req-42"
        event_ = audit.record(
            "submission.status",
            actor=ALICE,
            submission_id=5,
            detail={"from": "new", "to": "in_review"},
        )
        db.session.commit()
    assert (event_.id, event_.actor_id, event_.actor_name, event_.role) == (
        1,
        7,
        "alice",
        "clinician",
    )
    [stored] = rows(app)
    assert stored.action == "submission.status"
    assert stored.submission_id == 5
    assert stored.outcome == "success"
    assert stored.ip == "203.0.113.7"
    assert stored.request_id == "req-42"
    assert stored.detail == {"from": "new", "to": "in_review"}
    assert stored.prev_hash == audit.GENESIS_HASH
    assert len(stored.row_hash) == 64
    # Read back from the database, the time is aware UTC, microseconds intact.
    assert stored.at == T0
    assert stored.at.tzinfo is UTC
    assert stored.at.utcoffset() == timedelta(0)


def test_rows_are_chained_and_verify(app):
    seed(app, 3)
    first, second, third = rows(app)
    assert [first.id, second.id, third.id] == [1, 2, 3]
    assert second.prev_hash == first.row_hash
    assert third.prev_hash == second.row_hash
    assert problems(app) == []


def test_signed_in_user_is_the_default_actor(app):
    class User(UserMixin):
        id = 12
        username = "carol"
        role = "admin"

    if not hasattr(app, "login_manager"):
        LoginManager(app).user_loader(lambda user_id: None)
    with app.test_request_context(environ_base=ADDRESS):
        login_user(User())
        audit.record("audit.view", detail={"report": "submission", "submission_id": 3})
        db.session.commit()
    with app.test_request_context(environ_base=ADDRESS):
        audit.record("authz.denied", outcome="denied")  # nobody signed in
        db.session.commit()
    carol, anonymous = rows(app)
    assert (carol.actor_id, carol.actor_name, carol.role) == (12, "carol", "admin")
    assert (anonymous.actor_id, anonymous.actor_name, anonymous.role) == (None, None, None)
    assert anonymous.ip == "203.0.113.7"


def test_record_works_without_a_request(app):
    with app.app_context():
        audit.record("account.create", actor=Actor(None, "cli", None), target="dave")
        db.session.commit()
    [row] = rows(app)
    assert (row.ip, row.request_id, row.target, row.actor_name) == (None, None, "dave", "cli")
    assert problems(app) == []


def test_typed_usernames_are_cut_and_cannot_forge_lines(app):
    typed = "bob\r\nINFO forged\x00" + "x" * 100
    record(app, "auth.login_failed", actor=Actor(None, typed), outcome="failure")
    [row] = rows(app)
    assert row.actor_name.startswith("bob\\x0d\\x0aINFO forged\\x00x")
    assert len(row.actor_name) == 64
    assert problems(app) == []


def test_detail_is_stored_as_hashed(app):
    record(app, "submission.export", detail={"ids": (3, 1), "format": "csv"})
    [row] = rows(app)
    assert row.detail == {"ids": [3, 1], "format": "csv"}
    assert problems(app) == []


@pytest.mark.parametrize(
    "kwargs",
    [{"outcome": "ok"}, {"detail": ["not", "a", "dict"]}, {"detail": {"big": "x" * 70000}}],
)
def test_bad_arguments_are_bugs_not_audit_failures(app, kwargs):
    with pytest.raises((TypeError, ValueError)):
        record(app, "submission.view", **kwargs)
    assert rows(app) == []


def test_database_refuses_update_and_delete(app):
    seed(app, 2)
    with pytest.raises(DBAPIError, match="append-only"):
        raw_sql(app, "UPDATE audit_event SET target = 'x' WHERE id = 1")
    with pytest.raises(DBAPIError, match="append-only"):
        raw_sql(app, "DELETE FROM audit_event WHERE id = 2")
    with pytest.raises(DBAPIError, match="append-only"):
        raw_sql(app, "DELETE FROM audit_event")
    assert [row.target for row in rows(app)] == [None, None]
    assert problems(app) == []


def test_database_refuses_truncate_on_postgresql(app):
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("SQLite has no TRUNCATE")
    seed(app, 1)
    with pytest.raises(DBAPIError, match="append-only"):
        raw_sql(app, "TRUNCATE audit_event")
    assert len(rows(app)) == 1


def test_an_edited_row_is_reported(app):
    seed(app, 4)
    bypass_guard(app)
    raw_sql(app, "UPDATE audit_event SET submission_id = 99 WHERE id = 2")
    found = problems(app)
    assert len(found) == 1
    assert found[0].startswith("row 2: ")


def test_an_edited_timestamp_is_reported(app):
    seed(app, 3)
    bypass_guard(app)
    with app.app_context():
        stored = db.session.get(AuditEvent, 3).at
    with app.app_context(), db.engine.begin() as conn:
        conn.execute(
            AuditEvent.__table__.update()
            .where(AuditEvent.id == 3)
            .values(at=stored - timedelta(microseconds=1))
        )
    assert [p.split(":")[0] for p in problems(app)] == ["row 3"]


def test_a_deleted_middle_row_is_reported(app):
    seed(app, 4)
    bypass_guard(app)
    raw_sql(app, "DELETE FROM audit_event WHERE id = 2")
    found = problems(app)
    assert len(found) == 1
    assert found[0].startswith("row 3: ")


def test_a_deleted_first_row_is_reported(app):
    seed(app, 2)
    bypass_guard(app)
    raw_sql(app, "DELETE FROM audit_event WHERE id = 1")
    assert [p.split(":")[0] for p in problems(app)] == ["row 2"]


def test_reordered_rows_are_reported(app):
    seed(app, 4)
    bypass_guard(app)
    raw_sql(
        app,
        "UPDATE audit_event SET id = 99 WHERE id = 2",
        "UPDATE audit_event SET id = 2 WHERE id = 3",
        "UPDATE audit_event SET id = 3 WHERE id = 99",
    )
    reported = {p.split(":")[0] for p in problems(app)}
    assert reported == {"row 2", "row 3", "row 4"}


def test_a_different_key_fails_every_row(app, make_app):
    seed(app, 2)
    rotated = make_app(AUDIT_HMAC_KEY="another-key-that-is-long-enough-0123456789")
    assert [p.split(":")[0] for p in problems(rotated)] == ["row 1", "row 2"]
    assert problems(app) == []


def test_failed_hash_raises_and_stores_nothing(app, monkeypatch, caplog):
    # Alembic's fileConfig, run in-process by tests that migrate, can disable loggers.
    monkeypatch.setattr(logging.getLogger("screening.audit"), "disabled", False)

    def broken(*args):
        raise RuntimeError("hash unavailable")

    with monkeypatch.context() as patch, pytest.raises(AuditError):
        patch.setattr(audit, "_mac", broken)
        record(app, "auth.login_failed", actor=Actor(None, "canary-user-Zq9"), outcome="failure")
    assert rows(app) == []
    # The log says what failed but not what was typed (no secrets in logs).
    assert "auth.login_failed" in caplog.text
    assert "canary-user-Zq9" not in caplog.text


def test_failed_commit_leaves_no_partial_row(app):
    def refuse(conn):
        raise RuntimeError("disk full")

    record(app, "submission.view", submission_id=1)
    with app.app_context():
        engine = db.engine
    event.listen(engine, "commit", refuse)
    try:
        with app.test_request_context(environ_base=ADDRESS):
            audit.record("submission.view", actor=ALICE, submission_id=2)
            with pytest.raises(RuntimeError, match="disk full"):
                db.session.commit()
            database.discard_session()  # what the app's error handlers do
    finally:
        event.remove(engine, "commit", refuse)
    assert [row.submission_id for row in rows(app)] == [1]
    record(app, "submission.view", submission_id=3)
    assert [row.id for row in rows(app)] == [1, 2]
    assert problems(app) == []


def test_concurrent_appends_keep_one_chain(app):
    threads_count, per_thread = 4, 10
    barrier = threading.Barrier(threads_count)
    errors: list[BaseException] = []

    def work(number):
        try:
            with app.app_context(), app.test_request_context(environ_base=ADDRESS):
                barrier.wait(timeout=120)  # bounds for a hang, not a pace
                for index in range(per_thread):
                    audit.record(
                        "submission.view",
                        actor=Actor(number, f"user{number}", "intake"),
                        submission_id=index,
                    )
                    db.session.commit()  # the caller commits (and so ends the lock)
        except BaseException as error:  # reported by the assertion below
            errors.append(error)

    workers = [threading.Thread(target=work, args=(n,)) for n in range(threads_count)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=600)
    assert not any(worker.is_alive() for worker in workers)
    assert errors == []
    stored = rows(app)
    assert [row.id for row in stored] == list(range(1, threads_count * per_thread + 1))
    assert {row.actor_id for row in stored} == set(range(threads_count))
    assert problems(app) == []


def test_reports_return_exactly_the_seeded_rows(app):
    t1, t2, t3, t4, t5 = (T0 + timedelta(hours=h) for h in range(5))
    seeded = [
        (t1, ALICE, "submission.view", {"submission_id": 1}),
        (t2, BOB, "submission.view", {"submission_id": 2}),
        (t3, ALICE, "submission.export", {"detail": {"ids": [3, 1]}}),
        (t3, BOB, "submission.search", {"detail": {"ids": [2, 11], "q": "code"}}),
        (t4, ALICE, "submission.status", {"submission_id": 1, "detail": {"to": "done"}}),
        (t5, ALICE, "submission.print", {"submission_id": 4}),
    ]
    for at, actor, action, kwargs in seeded:
        with time_machine.travel(at, tick=False):
            record(app, action, actor=actor, **kwargs)
    with app.app_context():
        touched_1 = [(r.id, r.action) for r in audit.for_submission(1)]
        touched_11 = [r.id for r in audit.for_submission(11)]
        touched_9 = audit.for_submission(9)
        alice = [(r.id, r.at) for r in audit.for_actor(7, t1, t5)]
        bob = [r.id for r in audit.for_actor(8, t2, t3 + timedelta(microseconds=1))]
        with pytest.raises(ValueError, match="aware"):
            audit.for_actor(7, t1.replace(tzinfo=None), t5)
    assert touched_1 == [(1, "submission.view"), (3, "submission.export"), (5, "submission.status")]
    assert touched_11 == [4]
    assert touched_9 == []
    # Start inclusive, end exclusive: row 6 at t5 is out.
    assert alice == [(1, t1), (3, t3), (5, t4)]
    assert bob == [2, 4]


def test_cli_verify(app):
    app.cli.add_command(audit.audit_cli)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0, result.output
    assert "audit chain intact: 0 rows" in result.output

    seed(app, 3)
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0, result.output
    assert "audit chain intact: 3 rows" in result.output
    assert rows(app)[-1].row_hash in result.output

    bypass_guard(app)
    raw_sql(app, "UPDATE audit_event SET outcome = 'denied' WHERE id = 2")
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    assert "row 2: contents do not match its hash" in result.output
    assert "intact" not in result.output


def test_init_app_refuses_a_short_key():
    bare = Flask(__name__)
    bare.config["AUDIT_HMAC_KEY"] = "short"
    with pytest.raises(ConfigError, match="AUDIT_HMAC_KEY"):
        audit.init_app(bare)


def test_audit_failure_is_logged_at_error_level(app, monkeypatch, caplog):
    monkeypatch.setattr(logging.getLogger("screening.audit"), "disabled", False)
    monkeypatch.setattr(audit, "chain_key", lambda: (_ for _ in ()).throw(RuntimeError("x")))
    with caplog.at_level(logging.ERROR, logger="screening.audit"), pytest.raises(AuditError):
        record(app, "submission.view", submission_id=1)
    assert [r.levelno for r in caplog.records if r.name == "screening.audit"] == [logging.ERROR]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == 0


# ------------------------------------------------------------------ deleted newest rows


def bypass_head_guard(app):
    """Also let the head be rewritten, as a thorough attacker with the owner's rights could."""
    with app.app_context():
        dialect = db.engine.dialect.name
    if dialect == "sqlite":
        raw_sql(app, "DROP TRIGGER audit_head_forward", "DROP TRIGGER audit_head_no_delete")
    else:
        raw_sql(app, "ALTER TABLE audit_head DISABLE TRIGGER ALL")


def saved_head(app) -> str:
    app.cli.add_command(audit.audit_cli)
    result = app.test_cli_runner().invoke(args=["audit", "verify"])
    assert result.exit_code == 0, result.output
    return result.output.split("head: ", 1)[1].strip()


def test_a_deleted_newest_row_is_reported_and_its_id_never_used_again(app):
    seed(app, 5)
    bypass_guard(app)
    raw_sql(app, "DELETE FROM audit_event WHERE id = 5")
    assert problems(app) == [
        "the trail ends at row 4 but its head is row 5 (the newest rows were deleted)"
    ]
    # The next event follows the head, not the last row left: row 5 is not written again.
    record(app, "submission.view", submission_id=6)
    assert [row.id for row in rows(app)] == [1, 2, 3, 4, 6]
    assert [p.split(":")[0] for p in problems(app)] == ["row 6"]


def test_deleting_the_newest_rows_is_detected_against_a_saved_head(app):
    seed(app, 5)
    head = saved_head(app)
    assert head == f"5:{rows(app)[-1].row_hash}"
    # A thorough attacker cuts rows 4 and 5 and rewrites the head to match.
    bypass_guard(app)
    bypass_head_guard(app)
    raw_sql(app, "DELETE FROM audit_event WHERE id > 3")
    with app.app_context():
        third = db.session.get(AuditEvent, 3)
        db.session.execute(
            audit.AuditHead.__table__.update().values(
                last_id=3, last_hash=third.row_hash, last_at=third.at
            )
        )
        db.session.commit()
    assert problems(app) == []  # the database alone cannot tell any more
    runner = app.test_cli_runner()
    result = runner.invoke(args=["audit", "verify", "--head", head])
    assert result.exit_code == 1
    assert f"saved head {head}: row 5 of the saved head is gone" in result.output
    assert "intact" not in result.output


def test_a_chain_that_grew_still_extends_its_saved_head(app):
    seed(app, 3)
    head = saved_head(app)
    seed(app, 2)
    result = app.test_cli_runner().invoke(args=["audit", "verify", "--head", head])
    assert result.exit_code == 0, result.output
    assert f"extends the saved head {head}" in result.output
    assert "audit chain intact: 5 rows" in result.output
    # A head from another chain is refused, and a malformed one is an error.
    other = "3:" + "ab" * 32
    result = app.test_cli_runner().invoke(args=["audit", "verify", "--head", other])
    assert result.exit_code == 1 and "rows were replaced" in result.output
    result = app.test_cli_runner().invoke(args=["audit", "verify", "--head", "three"])
    assert result.exit_code == 2 and "a head is <rows>:<hash>" in result.output


def test_the_head_only_moves_forward(app):
    seed(app, 2)
    for statement in (
        "UPDATE audit_head SET last_id = 1",
        "DELETE FROM audit_head",
    ):
        with pytest.raises(DBAPIError, match="only moves forward"):
            raw_sql(app, statement)
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            with pytest.raises(DBAPIError, match="only moves forward"):
                raw_sql(app, "TRUNCATE audit_head")
    assert problems(app) == []


def test_the_first_row_of_a_day_writes_the_last_days_head_to_the_log_and_file(
    make_app, tmp_path, monkeypatch, caplog
):
    monkeypatch.setattr(logging.getLogger("screening.audit.checkpoint"), "disabled", False)
    path = tmp_path / "checkpoints.log"
    app = make_app(AUDIT_CHECKPOINT_FILE=str(path))
    with time_machine.travel(datetime(2026, 12, 1, 23, 59, tzinfo=UTC), tick=False):
        seed(app, 2)
    assert not path.exists()
    head = f"2:{rows(app)[-1].row_hash}"
    with (
        caplog.at_level(logging.INFO, logger="screening.audit.checkpoint"),
        time_machine.travel(datetime(2026, 12, 2, 0, 1, tzinfo=UTC), tick=False),
    ):
        seed(app, 2)
    line = f"audit checkpoint: head {head} (end of 2026-12-01 UTC)"
    assert line in caplog.text
    assert path.read_text().count("audit checkpoint") == 1 and line in path.read_text()
    result = app.test_cli_runner().invoke(args=["audit", "verify", "--head", head])
    assert result.exit_code == 0, result.output


def test_a_derived_chain_key_is_warned_about_at_start(monkeypatch, tmp_path, caplog):
    from screening import create_app
    from screening.crypto import new_keyring

    monkeypatch.setattr(logging.getLogger("screening.audit"), "disabled", False)
    monkeypatch.setenv("SECRET_KEY", "s" * 48)
    monkeypatch.setenv("SCREENING_DATA_KEYS", new_keyring().to_json())
    monkeypatch.delenv("SCREENING_ENVIRONMENT", raising=False)
    config = {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db", "TRUSTED_PROXY_COUNT": 0}
    with caplog.at_level(logging.WARNING, logger="screening.audit"):
        create_app(config)
    assert "AUDIT_HMAC_KEY is not set" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="screening.audit"):
        create_app({**config, "AUDIT_HMAC_KEY": "k" * 40})
    assert "AUDIT_HMAC_KEY is not set" not in caplog.text


# ------------------------------------------------------------------ the app's PostgreSQL role


README = Path(__file__).resolve().parent.parent / "README.md"


def _recipe() -> tuple[list[str], list[str]]:
    """The role recipe of the README ("The audit trail, for administrators"): (superuser
    part, owner part), as statements. Read from the README itself, so the test runs what
    the docs say."""
    readme = README.read_text(encoding="utf-8")
    block = readme.split("-- as a superuser, once", 1)[1].split("-- check:", 1)[0]
    superuser, owner = block.split("-- as screening_owner, after `flask db upgrade`")

    def statements(part: str) -> list[str]:
        lines = [line.split("--", 1)[0].strip() for line in part.splitlines()]
        return [s.strip() for s in " ".join(lines).split(";") if s.strip()]

    return statements(superuser), statements(owner)


_POSTGRES = (database_url_from_env() or "").startswith("postgres")


@pytest.mark.skipif(
    not _POSTGRES, reason="PostgreSQL roles and privileges; run by CI's PostgreSQL pass"
)
def test_the_documented_app_role_may_only_read_and_append_the_trail(app):
    """The GRANT/REVOKE recipe in the README, applied as written (roles
    renamed so parallel runs do not collide), leaves the app's role able to append
    through :func:`audit.record` and read the trail, and refused UPDATE, DELETE and
    TRUNCATE on ``audit_event`` by privilege, before any trigger runs.

    PostgreSQL only, and skipped on SQLite on purpose: SQLite has no roles (the trigger
    tests above cover it), and CI's PostgreSQL pass runs this test.
    """
    with app.app_context():
        url = db.engine.url
    tag = uuid.uuid4().hex[:8]
    prefix = (url.database or "screening")[:40]
    owner, app_role = f"{prefix}_owner_{tag}", f"{prefix}_app_{tag}"
    superuser_part, owner_part = _recipe()
    assert len(superuser_part) == 4 and len(owner_part) == 4, (superuser_part, owner_part)

    def rename(statement: str) -> str:
        return statement.replace("screening_owner", f'"{owner}"').replace(
            "screening_app", f'"{app_role}"'
        )

    app_engine = None
    try:
        with app.app_context(), db.engine.begin() as conn:
            for statement in superuser_part:
                conn.execute(text(rename(statement)))
            # `flask db upgrade` run as the owner: the owner owns the tables.
            for table in db.metadata.sorted_tables:
                conn.execute(text(f'ALTER TABLE "{table.name}" OWNER TO "{owner}"'))
            conn.execute(text(f'SET LOCAL ROLE "{owner}"'))
            # The owner can run the migrations (PostgreSQL 15 no longer lets anyone create
            # in the public schema by default).
            assert conn.scalar(text("SELECT has_schema_privilege('public', 'CREATE')"))
            for statement in owner_part:
                conn.execute(text(rename(statement)))
            granted = conn.scalars(
                text(
                    "SELECT privilege_type FROM information_schema.role_table_grants "
                    "WHERE table_name = 'audit_event' AND grantee = :role"
                ),
                {"role": app_role},
            ).all()
        assert sorted(granted) == ["INSERT", "SELECT"]

        as_app = create_app(
            {
                "TESTING": True,
                "SECRET_KEY": app.config["SECRET_KEY"],
                "SQLALCHEMY_DATABASE_URI": url.set(
                    username=app_role, password=None
                ).render_as_string(hide_password=False),
            }
        )
        with as_app.app_context():
            app_engine = db.engine
            assert db.session.scalar(text("SELECT current_user")) == app_role
            db.session.rollback()
        record(as_app, "submission.view", submission_id=1)
        record(as_app, "submission.view", submission_id=2)
        assert [row.submission_id for row in rows(as_app)] == [1, 2]
        assert problems(as_app) == []
        for statement in (
            "UPDATE audit_event SET target = 'x' WHERE id = 1",
            "DELETE FROM audit_event WHERE id = 2",
            "TRUNCATE audit_event",
            "DELETE FROM audit_head",
            "TRUNCATE audit_head",
        ):
            with pytest.raises(ProgrammingError) as refused:
                raw_sql(as_app, statement)
            assert isinstance(refused.value.orig, psycopg.errors.InsufficientPrivilege)
            assert "permission denied" in str(refused.value.orig), statement
        assert [row.submission_id for row in rows(app)] == [1, 2]
        assert problems(app) == []
    finally:
        if app_engine is not None:
            app_engine.dispose()
        with app.app_context(), db.engine.begin() as conn:
            for role in (owner, app_role):
                exists = conn.scalar(
                    text("SELECT 1 FROM pg_roles WHERE rolname = :role"), {"role": role}
                )
                if exists:
                    conn.execute(text(f'REASSIGN OWNED BY "{role}" TO CURRENT_USER'))
                    conn.execute(text(f'DROP OWNED BY "{role}"'))
                    conn.execute(text(f'DROP ROLE "{role}"'))


# ------------------------------------------------------------------ the caller's transaction


def clinic_names(app):
    with app.app_context():
        return set(db.session.scalars(select(Clinic.name)))


def test_record_does_not_commit_the_caller_commits_the_change_and_its_row_together(app):
    with app.test_request_context(environ_base=ADDRESS):
        accounts.create_clinic("Lakeside Clinic")
        audit.record("clinic.create", actor=ALICE, target="Lakeside Clinic")
        db.session.commit()
    assert "Lakeside Clinic" in clinic_names(app)
    assert [(row.action, row.target) for row in rows(app)] == [("clinic.create", "Lakeside Clinic")]
    assert problems(app) == []


def test_a_failure_after_the_audit_row_is_written_rolls_back_both(app):
    record(app, "submission.view", submission_id=1)
    with (
        app.test_request_context(environ_base=ADDRESS),
        pytest.raises(RuntimeError, match="after the audit row"),
    ):
        accounts.create_clinic("Lakeside Clinic")
        audit.record("clinic.create", actor=ALICE, target="Lakeside Clinic")
        db.session.flush()  # both rows are in the database, in this transaction
        raise RuntimeError("the caller fails after the audit row, before it commits")
    # The request's end discards what it did not commit: the clinic and its row.
    assert "Lakeside Clinic" not in clinic_names(app)
    assert [row.action for row in rows(app)] == ["submission.view"]
    # The chain goes on from the last committed row, with no gap.
    record(app, "submission.view", submission_id=2)
    assert [row.id for row in rows(app)] == [1, 2]
    assert problems(app) == []


def test_a_failed_commit_rolls_back_the_change_and_its_row(app):
    def refuse(conn):
        raise RuntimeError("disk full")

    with app.app_context():
        engine = db.engine
    with app.test_request_context(environ_base=ADDRESS):
        accounts.create_clinic("Lakeside Clinic")
        audit.record("clinic.create", actor=ALICE, target="Lakeside Clinic")
        event.listen(engine, "commit", refuse)
        try:
            with pytest.raises(RuntimeError, match="disk full"):
                db.session.commit()
        finally:
            event.remove(engine, "commit", refuse)
        database.discard_session()
    assert "Lakeside Clinic" not in clinic_names(app)
    assert rows(app) == []
    record(app, "submission.view", submission_id=2)
    assert [row.id for row in rows(app)] == [1]
    assert problems(app) == []


def chain_is_free(app) -> bool:
    """Whether another connection could take the chain's lock now, without waiting:
    PostgreSQL's advisory lock, or SQLite's write lock. The connection is thrown away."""
    with app.app_context():
        raw = db.engine.raw_connection()
        try:
            cursor = raw.cursor()
            if db.engine.dialect.name == "postgresql":
                cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", (audit.CHAIN_LOCK_ID,))
                return bool(cursor.fetchone()[0])
            cursor.execute("PRAGMA busy_timeout=0")
            try:
                cursor.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as error:
                assert "locked" in str(error)
                return False
            return True
        finally:
            raw.invalidate()


def test_the_chain_stays_locked_until_the_caller_commits(app):
    """The lock record() takes lasts until the caller's transaction ends, not until
    record() returns: no other writer reads a head that is about to move."""
    record(app, "submission.view", submission_id=1)
    assert chain_is_free(app)
    with app.test_request_context(environ_base=ADDRESS):
        audit.record("submission.view", actor=ALICE, submission_id=2)
        assert not chain_is_free(app)
        db.session.commit()
        assert chain_is_free(app)
        audit.record("submission.view", actor=ALICE, submission_id=3)
        assert not chain_is_free(app)
        db.session.rollback()
        assert chain_is_free(app)
    assert [row.submission_id for row in rows(app)] == [1, 2]
    assert problems(app) == []


def test_a_rolled_back_first_row_of_a_day_logs_no_checkpoint(make_app, tmp_path, monkeypatch):
    monkeypatch.setattr(logging.getLogger("screening.audit.checkpoint"), "disabled", False)
    path = tmp_path / "checkpoints.log"
    app = make_app(AUDIT_CHECKPOINT_FILE=str(path))
    with time_machine.travel(datetime(2026, 12, 1, 23, 59, tzinfo=UTC), tick=False):
        seed(app, 1)
    with (
        time_machine.travel(datetime(2026, 12, 2, 0, 1, tzinfo=UTC), tick=False),
        app.test_request_context(environ_base=ADDRESS),
    ):
        audit.record("submission.view", actor=ALICE, submission_id=2)
        db.session.rollback()
        assert not path.exists()
        audit.record("submission.view", actor=ALICE, submission_id=3)
        db.session.commit()
    assert path.read_text().count("audit checkpoint") == 1
