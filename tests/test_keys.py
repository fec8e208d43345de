"""Health data encrypted at rest, the keys outside the database, and key rotation.

README, "Health data at rest", describes the design these tests hold it to.
"""

from __future__ import annotations

import json
import os
import stat
import threading

import pyotp
import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import select, text

from screening import create_app, crypto, rekey, search_index
from screening.config import ConfigError
from screening.extensions import db
from screening.models import Draft, StaffUser, Submission, SubmissionNote
from screening.patient import drafts
from screening.scoring import score
from screening.staff import accounts
from tests.conftest import TEST_SECRET
from tests.factories import BASELINE, CONTACT, answers
from tests.patient_client import Patient, clinic_today
from tests.staff.helpers import make_staff

#: Encrypted JSON columns hold a JSON string: the stored text starts with a quote.
JSON_PREFIX = '"enc1:'


def read(path) -> str:
    with open(path) as handle:
        return handle.read()


def raw(app, sql: str, **params) -> list:
    """Stored values as text, as someone with the database but no keys reads them."""
    with app.app_context(), db.engine.connect() as conn:
        return [row[0] for row in conn.execute(text(sql), params)]


def walk(app, contact: dict | None = None, **overrides) -> Patient:
    """A patient who answered every page (not sent yet)."""
    patient = Patient(app.test_client())
    patient.complete(answers(**overrides), clinic_today(app), {**CONTACT, **(contact or {})})
    return patient


def send(patient: Patient) -> None:
    patient.get("/review")
    assert patient.post("/submit", {"consent": "y"}).status_code == 303


def key_ids(app) -> set[str]:
    with app.app_context():
        return {
            key_id for counts in rekey.usage().values() for key_id, count in counts.items() if count
        }


# ------------------------------------------------------------------ what is stored


def test_health_data_is_stored_encrypted_and_read_back_as_it_was(app):
    send(walk(app, {"full_name": "Zelda Quimby"}, goals="walk my dog again"))
    stored = raw(
        app,
        "SELECT CAST(personal AS TEXT) || CAST(answers AS TEXT) || CAST(result AS TEXT)"
        " || CAST(fired_rules AS TEXT) || CAST(questions AS TEXT) FROM submission",
    )
    assert len(stored) == 1 and stored[0].startswith(JSON_PREFIX)
    assert stored[0].count(JSON_PREFIX) == 5
    for secret in ("Zelda", "zelda", "Quimby", "walk my dog", "4567", "morning"):
        assert secret not in stored[0]
    with app.app_context():
        row = db.session.scalar(select(Submission))
        assert row.personal["full_name"] == "Zelda Quimby"
        assert row.answers["goals"] == "walk my dog again"
        assert row.result["outcome"] == row.outcome
        draft = db.session.scalar(select(Draft))
        assert draft.personal == {} and draft.answers == {}
    assert raw(app, "SELECT CAST(personal AS TEXT) FROM draft")[0].startswith(JSON_PREFIX)


def test_the_same_value_is_stored_differently_each_time(app):
    with app.app_context():
        one = crypto.seal("draft.personal", b'{"full_name":"A"}')
        two = crypto.seal("draft.personal", b'{"full_name":"A"}')
        assert one != two  # a fresh random nonce each time
        assert crypto.unseal("draft.personal", one) == crypto.unseal("draft.personal", two)
        # Padded to 64 bytes: a short and a longer name are stored at the same length.
        assert len(crypto.seal("draft.personal", b"Al")) == len(
            crypto.seal("draft.personal", b"Alexandra Bartholomew")
        )


def test_a_value_moved_to_another_column_or_with_its_key_id_edited_does_not_decrypt(app):
    send(walk(app))
    with app.app_context():
        # Copy the contact details into the answers column, as an attacker might.
        db.session.execute(text("UPDATE submission SET answers = personal"))
        db.session.commit()
        with pytest.raises(crypto.DecryptionError, match="submission.answers"):
            db.session.scalar(select(Submission.answers))
        db.session.rollback()
        sealed = crypto.seal("staff_user.totp_secret", b"JBSWY3DPEHPK3PXP")
        with pytest.raises(crypto.DecryptionError):
            crypto.unseal("staff_user.totp_pending", sealed)
        other = crypto.key_store().ring().with_new_key()
        relabelled = sealed.replace(crypto.key_store().ring().current, other.current, 1)
        with pytest.raises(crypto.DecryptionError):
            crypto.unseal("staff_user.totp_secret", relabelled, other)
        tampered = sealed[:-2] + ("A" if sealed[-2] != "A" else "B") + sealed[-1]
        with pytest.raises(crypto.DecryptionError):
            crypto.unseal("staff_user.totp_secret", tampered)


def test_totp_seeds_notes_and_batch_pdfs_are_encrypted(app):
    account = make_staff(app, "ivy", "intake", clinics=["North Clinic"])
    send(walk(app))
    with app.app_context():
        user = db.session.get(StaffUser, account.id)
        user.totp_pending = pyotp.random_base32()
        pending = user.totp_pending
        item = db.session.scalar(select(Submission))
        db.session.add(SubmissionNote(submission_id=item.id, author_id=user.id, text="Zq note"))
        db.session.commit()
    (secret_stored,) = raw(app, "SELECT totp_secret FROM staff_user")
    (pending_stored,) = raw(app, "SELECT totp_pending FROM staff_user")
    assert secret_stored.startswith("enc1:") and account.secret not in secret_stored
    assert pending_stored.startswith("enc1:") and pending not in pending_stored
    (note,) = raw(app, "SELECT text FROM submission_note")
    assert note.startswith("enc1:") and "Zq note" not in note  # a space never appears in base64
    with app.app_context():
        assert db.session.get(StaffUser, account.id).totp_secret == account.secret
        assert db.session.scalar(select(SubmissionNote.text)) == "Zq note"


# ------------------------------------------------------------------ where the keys live


@pytest.fixture()
def production(monkeypatch, tmp_path):
    """The environment of a production start, without any data keys."""
    monkeypatch.setenv("SECRET_KEY", "s" * 48)
    monkeypatch.setenv("SCREENING_TRUSTED_PROXY_COUNT", "0")  # checked before the keys
    for name in ("SCREENING_ENVIRONMENT", "SCREENING_DATA_KEYS"):
        monkeypatch.delenv(name, raising=False)
    return {
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db",
        "DATA_KEYS_FILE": str(tmp_path / "keys.json"),
    }


def test_production_refuses_to_start_without_data_keys(production):
    with pytest.raises(ConfigError, match="No data keys"):
        create_app(production)


def test_production_takes_the_keys_from_the_environment(production, monkeypatch):
    ring = crypto.new_keyring()
    monkeypatch.setenv("SCREENING_DATA_KEYS", ring.to_json())
    app = create_app(production)
    with app.app_context():
        assert crypto.key_store().ring() == ring
        assert not crypto.key_store().from_file


def test_the_key_file_is_written_0600_once_and_never_replaced(production, capsys):
    path = production["DATA_KEYS_FILE"]
    assert crypto.main([path]) == 0
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    first = read(path)
    assert crypto.main([path]) == 1  # replacing it would make the stored data unreadable
    assert read(path) == first
    assert "not replaced" in capsys.readouterr().err
    app = create_app(production)  # production starts with the file
    with app.app_context():
        assert crypto.key_store().ring() == crypto.Keyring.from_data(first)
    os.chmod(path, 0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        create_app(production)


def test_make_run_writes_the_key_file_before_the_app_starts():
    makefile = read(os.path.join(os.path.dirname(__file__), "..", "Makefile"))
    assert "run: .venv/.synced instance/config.py instance/keys.json" in makefile
    assert "$(PY) -m screening.crypto $@" in makefile


def test_a_malformed_key_set_stops_the_start(production, monkeypatch):
    monkeypatch.setenv("SCREENING_DATA_KEYS", json.dumps({"current": "a", "keys": {}}))
    with pytest.raises(ConfigError, match="Data keys"):
        create_app(production)


# ------------------------------------------------------------------ rotation


@pytest.fixture()
def key_file(tmp_path):
    path = str(tmp_path / "keys.json")
    crypto.write_key_file(path, crypto.new_keyring())
    return path


def test_keys_add_rotate_and_retire(make_app, key_file):
    app = make_app(DATA_KEYS_FILE=key_file)
    account = make_staff(app, "ivy", "intake", clinics=["North Clinic"])
    for name in ("Ana Old", "Bo Old", "Cy Old"):
        send(walk(app, {"full_name": name}))
    walk(app, {"full_name": "Di Draft"})  # a draft, not sent
    runner = app.test_cli_runner()
    with app.app_context():
        old = crypto.key_store().ring().current
    added = runner.invoke(args=["keys", "add"])
    assert added.exit_code == 0, added.output
    with app.app_context():
        new = crypto.key_store().ring().current
    assert new != old and f"Added key {new}" in added.output
    assert json.loads(read(key_file))["current"] == new
    # New values use the new key at once; old ones still read.
    send(walk(app, {"full_name": "Ed New"}))
    assert key_ids(app) == {old, new}
    refused = runner.invoke(args=["keys", "retire", old])
    assert refused.exit_code != 0 and "Run `keys rotate` first" in refused.output
    rotated = runner.invoke(args=["keys", "rotate", "--batch-size", "2"])
    assert rotated.exit_code == 0, rotated.output
    assert "Every value is under the current key" in rotated.output
    assert key_ids(app) == {new}
    status = runner.invoke(args=["keys", "status"]).output
    assert f"submission.personal: {new} 4" in status
    assert f"staff_user.totp_secret: {new} 1" in status
    retired = runner.invoke(args=["keys", "retire", old])
    assert retired.exit_code == 0, retired.output
    assert set(json.loads(read(key_file))["keys"]) == {new}
    # Another worker reading the same key file sees everything.
    worker = make_app(DATA_KEYS_FILE=key_file)
    with worker.app_context():
        names = sorted(row.personal["full_name"] for row in db.session.scalars(select(Submission)))
        assert names == ["Ana Old", "Bo Old", "Cy Old", "Ed New"]
        assert db.session.get(StaffUser, account.id).totp_secret == account.secret
        draft = db.session.scalar(select(Draft).where(Draft.submission_id.is_(None)))
        assert draft.personal["full_name"] == "Di Draft"


def test_a_running_worker_reads_a_key_added_by_another_process(make_app, key_file):
    app = make_app(DATA_KEYS_FILE=key_file)
    worker = make_app(DATA_KEYS_FILE=key_file)
    with worker.app_context():
        crypto.key_store().ring()  # loaded before the key is added
    assert app.test_cli_runner().invoke(args=["keys", "add"]).exit_code == 0
    send(walk(app, {"full_name": "Fay Fresh"}))
    with worker.app_context():
        assert db.session.scalar(select(Submission)).personal["full_name"] == "Fay Fresh"


def test_rotation_keeps_a_change_saved_between_its_read_and_its_write(app):
    walk(app, {"full_name": "Gil Before"})
    with app.app_context():
        store = crypto.key_store()
        store.replace(store.ring().with_new_key())
        changed = []

        def meanwhile(label):
            # A patient saves a page just after rotate read the draft's old value.
            if label == "draft.personal" and not changed:
                draft = db.session.scalar(select(Draft))
                drafts.save(
                    draft, draft.answers, {**draft.personal, "full_name": "Gil After"}, None
                )
                db.session.remove()
                changed.append(True)

        progress = rekey.rotate(batch_size=1, between=meanwhile)
        assert changed and progress.skipped["draft.personal"] == 1
        db.session.remove()
        assert db.session.scalar(select(Draft)).personal["full_name"] == "Gil After"
    assert key_ids(app) == {crypto_current(app)}


def crypto_current(app) -> str:
    with app.app_context():
        return crypto.key_store().ring().current


def test_key_rotation_under_concurrent_submits_loses_nothing(app):
    people = [f"Hal Number{n}" for n in range(6)]
    waiting = [walk(app, {"full_name": name}, goals=f"goal of {name}") for name in people]
    send(walk(app, {"full_name": "Ida Earlier"}))
    with app.app_context():
        store = crypto.key_store()
        store.replace(store.ring().with_new_key())
    failures: list[BaseException] = []

    def submit_all():
        try:
            for patient in waiting:
                send(patient)
        except BaseException as error:  # reported by the main thread
            failures.append(error)

    submitter = threading.Thread(target=submit_all)
    submitter.start()
    with app.app_context():
        first = rekey.rotate(batch_size=1)
    submitter.join()
    assert not failures, failures
    with app.app_context():
        rekey.rotate(batch_size=1)  # whatever the submits wrote meanwhile
        rows = db.session.scalars(select(Submission)).all()
        assert sorted(row.personal["full_name"] for row in rows) == sorted([*people, "Ida Earlier"])
        for row in rows:
            name = row.personal["full_name"]
            assert row.answers.get("goals") == (
                None if name == "Ida Earlier" else f"goal of {name}"
            )
            assert {t.digest for t in row.search_tokens} == search_index.tokens(row.personal)
    assert sum(first.rewritten.values()) > 0
    assert key_ids(app) == {crypto_current(app)}


# ------------------------------------------------------------------ the migration


def test_the_migration_encrypts_existing_rows_and_its_downgrade_decrypts_them(app):
    personal = {
        "dob": "1970-01-02",
        "full_name": "José Hernández",
        "phone": "(555) 010-7788",
        "email": "jose@example.com",
        "best_time": "morning",
    }
    result = score(BASELINE).to_dict()
    secret = pyotp.random_base32()
    with app.app_context():
        db.drop_all()
        with db.engine.begin() as conn:
            conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
        upgrade(revision="0012")
        with db.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO clinic (id, name, active, phone, address, open_days,"
                    " opens_at, closes_at, patient_note) VALUES (1, 'North', true,"
                    " '', '', '01234', '08:00', '17:00', '')"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO staff_user (id, username, full_name, role, password_hash,"
                    " totp_secret, totp_last_step, active, created_at) VALUES (1, 'ivy', 'Ivy',"
                    " 'intake', 'x', :secret, 0, true, '2026-12-01 10:00:00')"
                ),
                {"secret": secret},
            )
            conn.execute(
                text(
                    "INSERT INTO submission (id, public_id, reference, submit_key, answers,"
                    " personal, language, clinic_id, version, urgency, search_name, search_last,"
                    " search_phone, status, is_open, questionnaire_version, started_at,"
                    " submitted_at, outcome, care_level, blocking_contraindication,"
                    " support_score, peg_score, fired_rules, questions, ruleset_version, result)"
                    " VALUES (1, 'p1', 'AAA-BBB-CCC', 'k1', :answers, :personal, 'en', 1, 1, 2,"
                    " 'josé hernández', 'hernández', '8877010555', 'new', true, '1',"
                    " '2026-12-01 10:00:00', '2026-12-01 10:05:00', :outcome, NULL, false,"
                    " 0, 5.0, :fired, :questions, '1', :result)"
                ),
                {
                    "answers": json.dumps(BASELINE),
                    "personal": json.dumps(personal),
                    "outcome": result["outcome"],
                    "fired": json.dumps(result["fired_rules"]),
                    "questions": json.dumps(result["questions"]),
                    "result": json.dumps(result),
                },
            )
            conn.execute(
                text(
                    "INSERT INTO submission_note (id, submission_id, author_id, text,"
                    " created_at) VALUES (1, 1, 1, 'called José', '2026-12-01 11:00:00')"
                )
            )
        upgrade()
        stored = raw(app, "SELECT CAST(personal AS TEXT) FROM submission")[0]
        assert stored.startswith(JSON_PREFIX) and "Hern" not in stored
        assert raw(app, "SELECT totp_secret FROM staff_user")[0].startswith("enc1:")
        assert raw(app, "SELECT text FROM submission_note")[0].startswith("enc1:")
        db.session.remove()
        row = db.session.get(Submission, 1)
        assert row.personal == personal and row.answers == BASELINE and row.result == result
        assert {t.digest for t in row.search_tokens} == search_index.tokens(personal)
        assert db.session.get(StaffUser, 1).totp_secret == secret
        db.session.remove()
        downgrade(revision="0012")
        assert json.loads(raw(app, "SELECT CAST(personal AS TEXT) FROM submission")[0]) == personal
        assert raw(app, "SELECT search_last FROM submission") == ["hernández"]
        assert raw(app, "SELECT search_phone FROM submission") == ["8877010555"]
        assert raw(app, "SELECT totp_secret FROM staff_user") == [secret]
        assert raw(app, "SELECT text FROM submission_note") == ["called José"]
        upgrade()  # back to the schema the fixture drops


def test_every_encrypted_column_is_labelled_with_its_own_table_and_column(app):
    with app.app_context():
        columns = rekey.encrypted_columns()
    labels = {f"{table.name}.{column.name}": column.type.label for table, column in columns}
    assert labels and all(label == name for name, label in labels.items())
    assert set(labels) >= {
        "draft.answers",
        "draft.personal",
        "submission.answers",
        "submission.personal",
        "submission.result",
        "staff_user.totp_secret",
        "staff_user.totp_pending",
        "submission_note.text",
    }


def test_a_fresh_sqlite_database_file_is_created_0600(tmp_path):
    """On both test passes: the PostgreSQL pass checks a SQLite file of its own."""
    path = tmp_path / "own.sqlite3"
    app = create_app(
        {"TESTING": True, "SECRET_KEY": TEST_SECRET, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}"}
    )
    with app.app_context():
        db.create_all()
        accounts.create_clinic("North Clinic")
        db.session.commit()
        for name in (path, f"{path}-wal", f"{path}-shm"):
            assert stat.S_IMODE(os.stat(name).st_mode) == 0o600, name
        db.engine.dispose()
