"""Record systems' tokens: the command line, the administrators' pages, the migration."""

from __future__ import annotations

import re
from datetime import timedelta

from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, select, text

from screening.audit import AuditEvent
from screening.extensions import db
from screening.fhir.models import ApiToken
from screening.models import token_hash
from tests.fhir.helpers import RecordSystem, store
from tests.staff.helpers import StaffClient, make_staff

SEARCH = "/fhir/QuestionnaireResponse"
TOKEN_RE = re.compile(r"scr_[A-Za-z0-9_-]{43}")


def tokens_in_db(app) -> list[ApiToken]:
    with app.app_context():
        rows = db.session.scalars(select(ApiToken).order_by(ApiToken.id)).all()
        for row in rows:
            _ = row.clinics
        db.session.expunge_all()
        return rows


def actions(app) -> list[tuple[str, str | None]]:
    with app.app_context():
        return [
            (row.action, row.target)
            for row in db.session.scalars(select(AuditEvent).order_by(AuditEvent.id))
        ]


# ------------------------------------------------------------------ the command line


def test_cli_creates_lists_and_revokes_a_token(app, runner, clock):
    store(app, "North Clinic")
    result = runner.invoke(
        args=["api-token", "create", "--clinic", "North Clinic", "--name", "EHR bridge"]
    )
    assert result.exit_code == 0, result.output
    (secret,) = TOKEN_RE.findall(result.output)
    (token,) = tokens_in_db(app)
    # Stored as its hash only.
    assert token.token_hash == token_hash(secret) and secret not in repr(vars(token))
    assert token.scopes == "read" and [c.name for c in token.clinics] == ["North Clinic"]
    assert token.created_by_id is None
    assert ("api_token.create", "EHR bridge") in actions(app)

    system = RecordSystem(app, secret)
    assert system.get(SEARCH).status_code == 200
    listed = runner.invoke(args=["api-token", "list"]).output
    assert "EHR bridge\tNorth Clinic\tread" in listed and "active" in listed
    assert secret not in listed and token.token_hash not in listed

    result = runner.invoke(args=["api-token", "revoke", "EHR bridge"])
    assert result.exit_code == 0 and "Revoked EHR bridge" in result.output
    assert system.get(SEARCH).status_code == 401
    assert "revoked" in runner.invoke(args=["api-token", "list"]).output
    assert ("api_token.revoke", "EHR bridge") in actions(app)
    # Revoked, the name can be used again.
    again = runner.invoke(
        args=["api-token", "create", "--clinic", "North Clinic", "--name", "EHR bridge", "--write"]
    )
    assert again.exit_code == 0 and "read write" in again.output


def test_cli_refuses_an_unknown_clinic_a_taken_name_and_an_unknown_token(app, runner):
    args = ["api-token", "create", "--name", "EHR bridge", "--clinic"]
    unknown = runner.invoke(args=[*args, "Nowhere Clinic"])
    assert unknown.exit_code != 0 and "No clinic named 'Nowhere Clinic'" in unknown.output
    assert runner.invoke(args=[*args, "North Clinic"]).exit_code == 0
    taken = runner.invoke(args=[*args, "North Clinic"])
    assert taken.exit_code != 0 and "already named" in taken.output
    missing = runner.invoke(args=["api-token", "revoke", "Nobody"])
    assert missing.exit_code != 0 and "No active token" in missing.output
    assert len(tokens_in_db(app)) == 1


# ------------------------------------------------------------------ the admin pages


def test_an_administrator_makes_a_token_sees_it_once_and_revokes_it(app, clock):
    store(app, "North Clinic")
    store(app, "South Clinic", seed=2)
    admin = StaffClient(app.test_client())
    admin.sign_in(make_staff(app, "ada.admin", "admin"))
    page = admin.get("/staff/admin/api-tokens")
    assert page.status_code == 200 and "No tokens yet." in page.get_data(as_text=True)
    assert 'href="/staff/admin/api-tokens"' in admin.get("/staff/").get_data(as_text=True)

    form = admin.get("/staff/admin/api-tokens/new").get_data(as_text=True)
    north = re.search(
        r'value="(\d+)">\s*<label class="checkbox__label" for="clinic-\d+">North', form
    )
    # No clinic chosen: the form comes back with the message, nothing is made.
    response = admin.post("/staff/admin/api-tokens/new", {"name": "EHR bridge"})
    assert response.status_code == 400
    assert "Choose at least one clinic" in response.get_data(as_text=True)
    assert tokens_in_db(app) == []

    response = admin.post(
        "/staff/admin/api-tokens/new",
        {"name": "EHR bridge", "clinics": north.group(1), "write": "y"},
    )
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    (secret,) = TOKEN_RE.findall(response.get_data(as_text=True))
    (token,) = tokens_in_db(app)
    assert token.can_write and [c.name for c in token.clinics] == ["North Clinic"]
    assert token.created_by_id is not None
    # Never shown again.
    listing = admin.get("/staff/admin/api-tokens").get_data(as_text=True)
    assert "EHR bridge" in listing and secret not in listing and "Never" in listing
    system = RecordSystem(app, secret)
    assert len(system.pull(SEARCH)) == 1  # North Clinic's only
    assert "Never" not in admin.get("/staff/admin/api-tokens").get_data(as_text=True)

    response = admin.post(f"/staff/admin/api-tokens/{token.public_id}/revoke", {})
    assert response.status_code == 303
    assert system.get(SEARCH).status_code == 401
    assert "Revoked" in admin.get("/staff/admin/api-tokens").get_data(as_text=True)
    assert admin.post(f"/staff/admin/api-tokens/{'0' * 32}/revoke", {}).status_code == 404
    with app.app_context():
        rows = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action.like("api_token.%"))
        ).all()
        assert [(r.action, r.actor_name) for r in rows] == [
            ("api_token.create", "ada.admin"),
            ("api_token.revoke", "ada.admin"),
        ]


def test_making_a_token_needs_a_fresh_sign_in(app, clock):
    admin = StaffClient(app.test_client())
    admin.sign_in(make_staff(app, "ada.admin", "admin"))
    clock.shift(timedelta(minutes=11))
    response = admin.get("/staff/admin/api-tokens/new")
    assert response.status_code == 302 and response.headers["Location"].startswith("/staff/confirm")


def test_only_administrators_manage_tokens(app, clock):
    for role in ("intake", "clinician"):
        person = StaffClient(app.test_client())
        person.sign_in(make_staff(app, f"{role}.person", role, clinics=["North Clinic"]))
        assert person.get("/staff/admin/api-tokens").status_code == 403
        assert person.get("/staff/admin/api-tokens/new").status_code == 403
        assert "api-tokens" not in person.get("/staff/").get_data(as_text=True)


def test_a_name_too_long_or_taken_is_said_next_to_the_field(app, clock):
    admin = StaffClient(app.test_client())
    admin.sign_in(make_staff(app, "ada.admin", "admin"))
    form = admin.get("/staff/admin/api-tokens/new").get_data(as_text=True)
    clinic = re.search(r'name="clinics" value="(\d+)"', form).group(1)
    response = admin.post("/staff/admin/api-tokens/new", {"name": "x" * 65, "clinics": clinic})
    assert response.status_code == 400 and "Use up to 64 characters." in response.get_data(
        as_text=True
    )
    assert (
        admin.post("/staff/admin/api-tokens/new", {"name": "EHR", "clinics": clinic}).status_code
        == 200
    )
    response = admin.post("/staff/admin/api-tokens/new", {"name": "EHR", "clinics": clinic})
    assert response.status_code == 400
    body = response.get_data(as_text=True)
    assert "already named" in body and 'value="EHR"' in body


# ------------------------------------------------------------------ the migration


def test_migration_0013_upgrades_and_downgrades(app):
    with app.app_context():
        db.drop_all()
        with db.engine.begin() as conn:
            conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
        upgrade(revision="0012")
        store_sql = (
            "INSERT INTO submission (public_id, reference, submit_key, answers, personal, "
            "language, version, urgency, search_name, search_last, search_phone, status, "
            "is_open, questionnaire_version, started_at, submitted_at, outcome, "
            "blocking_contraindication, support_score, peg_score, fired_rules, questions, "
            "ruleset_version, result) VALUES ('" + "a" * 32 + "', 'AAA-AAA-AAA', 'k', '{}', "
            "'{}', 'en', 1, 2, '', '', '', 'new', true, 'v', '2026-01-01 10:00:00', "
            "'2026-01-02 11:00:00.123456', 'DISCUSS', false, 0, 0, '[]', '[]', 'v', '{}')"
        )
        with db.engine.begin() as conn:
            conn.execute(text(store_sql))
        upgrade(revision="0013")  # later revisions may follow

        def tables() -> set[str]:
            return set(inspect(db.engine).get_table_names())

        def revision() -> str:
            with db.engine.connect() as conn:
                return MigrationContext.configure(conn).get_current_revision()

        assert revision() == "0013"
        assert {"api_token", "api_token_clinic", "api_receipt"} <= tables()
        indexes = {i["name"] for i in inspect(db.engine).get_indexes("submission")}
        assert "ix_submission_clinic_feed" in indexes
        with db.engine.connect() as conn:
            stamped = conn.execute(
                text("SELECT submitted_at, feed_updated_at FROM submission")
            ).one()
        assert stamped[0] == stamped[1]  # rows already there are offered as sent
        downgrade(revision="0012")
        assert revision() == "0012"
        assert not {"api_token", "api_token_clinic", "api_receipt"} & tables()
        columns = {c["name"] for c in inspect(db.engine).get_columns("submission")}
        assert "feed_updated_at" not in columns
        upgrade(revision="0013")
        assert revision() == "0013" and "api_token" in tables()
