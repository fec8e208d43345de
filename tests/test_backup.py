"""Backups that restore, made while patients keep sending forms (README, "Backups").

On SQLite (a new file) and, with DATABASE_URL set, on PostgreSQL (a new database beside
the test one; pg_dump and pg_restore must be installed, as .ci/run does).
"""

from __future__ import annotations

import os
import stat
import threading

import psycopg
import pytest
from psycopg import sql
from sqlalchemy import inspect, text
from sqlalchemy.engine import make_url

from screening import backup, create_app
from screening.extensions import db
from tests.conftest import TEST_SECRET
from tests.factories import CONTACT, answers
from tests.patient_client import Patient, clinic_today


@pytest.fixture()
def new_database(app, tmp_path):
    """Make an app on a new, empty database of the test's engine; drop them afterwards."""
    made: list[tuple[str, str | None]] = []
    apps = []
    source = make_url(app.config["SQLALCHEMY_DATABASE_URI"])

    def make(name: str):
        if source.get_backend_name() == "sqlite":
            url = f"sqlite:///{tmp_path / (name + '.sqlite3')}"
            made.append((url, None))
        else:
            database = f"{source.database}_{name}"
            server = source.set(drivername="postgresql").render_as_string(hide_password=False)
            with psycopg.connect(server, autocommit=True) as conn:
                drop = sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(database))
                conn.execute(drop)
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
            made.append((server, database))
            url = source.set(database=database).render_as_string(hide_password=False)
        apps.append(app_on(url))
        return apps[-1]

    yield make
    for built in apps:
        with built.app_context():
            db.session.remove()
            db.engine.dispose()
    for server, database in made:
        if database:
            with psycopg.connect(server, autocommit=True) as conn:
                conn.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                        sql.Identifier(database)
                    )
                )


def app_on(url: str):
    return create_app(
        {
            "TESTING": True,
            "SECRET_KEY": TEST_SECRET,
            "SQLALCHEMY_DATABASE_URI": url,
            "SERVER_NAME": "localhost",
        }
    )


def walk(app, name: str) -> Patient:
    patient = Patient(app.test_client())
    patient.complete(
        answers(goals=f"goals of {name}"), clinic_today(app), {**CONTACT, "full_name": name}
    )
    return patient


def send(patient: Patient) -> None:
    patient.get("/review")
    assert patient.post("/submit", {"consent": "y"}).status_code == 303


def everything(app) -> dict[str, list[tuple]]:
    """Every row of every table, as stored (ciphertext and all), in primary key order."""
    with app.app_context(), db.engine.connect() as conn:
        inspector = inspect(conn)
        found = {}
        for table in sorted(inspector.get_table_names()):
            keys = inspector.get_pk_constraint(table)["constrained_columns"] or ["1"]
            order = ", ".join(f'"{key}"' for key in keys)
            rows = conn.execute(text(f'SELECT * FROM "{table}" ORDER BY {order}'))  # noqa: S608
            found[table] = [tuple(row) for row in rows]
        return found


def restore_into(target, path: str):
    result = target.test_cli_runner().invoke(args=["backup", "restore", path])
    assert result.exit_code == 0, result.output
    for check in (["audit", "verify"], ["submissions", "verify"]):
        verified = target.test_cli_runner().invoke(args=check)
        assert verified.exit_code == 0, verified.output
    return target


def test_a_backup_made_under_load_restores_elsewhere_row_for_row(app, new_database, tmp_path):
    for number in range(3):
        send(walk(app, f"Ada Before{number}"))
    waiting = [walk(app, f"Bo During{number}") for number in range(5)]
    failures: list[BaseException] = []

    def submit_all():
        try:
            for patient in waiting:
                send(patient)
        except BaseException as error:  # reported below
            failures.append(error)

    under_load = str(tmp_path / "under-load.backup")
    load = threading.Thread(target=submit_all)
    load.start()
    result = app.test_cli_runner().invoke(args=["backup", "create", under_load])
    load.join()
    assert result.exit_code == 0, result.output
    assert not failures, failures
    assert stat.S_IMODE(os.stat(under_load).st_mode) == 0o600
    with open(under_load, "rb") as handle:
        stored = handle.read()
    assert stored.startswith(backup.MAGIC) and b"Ada Before" not in stored
    # A consistent snapshot: what it holds is what the source held at one moment.
    snapshot = everything(restore_into(new_database("under_load"), under_load))
    now = everything(app)
    assert len(snapshot["submission"]) >= 3
    assert set(snapshot["submission"]) <= set(now["submission"])
    assert snapshot["audit_event"] == now["audit_event"][: len(snapshot["audit_event"])]
    # Once the load has stopped, a backup restores every row of every table exactly.
    quiet = str(tmp_path / "quiet.backup")
    assert app.test_cli_runner().invoke(args=["backup", "create", quiet]).exit_code == 0
    restored = everything(restore_into(new_database("quiet"), quiet))
    source = everything(app)
    assert restored == source
    assert len(source["submission"]) == 8


def test_a_restore_refuses_a_damaged_file_another_key_or_a_database_in_use(
    app, new_database, tmp_path
):
    send(walk(app, "Cy Damaged"))
    path = str(tmp_path / "one.backup")
    assert app.test_cli_runner().invoke(args=["backup", "create", path]).exit_code == 0
    again = app.test_cli_runner().invoke(args=["backup", "create", path])
    assert again.exit_code != 0 and "exists" in again.output
    # The database in use is not empty: nothing is loaded over it.
    refused = app.test_cli_runner().invoke(args=["backup", "restore", path])
    assert refused.exit_code != 0 and "not empty" in refused.output
    with open(path, "rb") as handle:
        data = bytearray(handle.read())
    data[-40] ^= 1
    damaged = tmp_path / "damaged.backup"
    damaged.write_bytes(bytes(data))
    target = new_database("damaged")
    result = target.test_cli_runner().invoke(args=["backup", "restore", str(damaged)])
    assert result.exit_code != 0 and "damaged, or was made with another backup key" in result.output
    with target.app_context(), db.engine.connect() as conn:
        assert inspect(conn).get_table_names() == []
