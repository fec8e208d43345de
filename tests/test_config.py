"""Configuration layers and the refusal to start without a real secret."""

from __future__ import annotations

import pytest

from screening import create_app
from screening.config import ConfigError
from screening.crypto import new_keyring


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in ("SECRET_KEY", "SCREENING_ENVIRONMENT"):
        monkeypatch.delenv(name, raising=False)
    # Production needs data keys too (tests/test_keys.py checks the refusal without).
    monkeypatch.setenv("SCREENING_DATA_KEYS", new_keyring().to_json())


@pytest.mark.parametrize("secret", [None, "", "dev", "changeme", "short-but-not-known"])
def test_production_refuses_to_start_without_a_strong_secret(secret, tmp_path):
    config = {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db"}
    if secret is not None:
        config["SECRET_KEY"] = secret
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        create_app(config)


def test_production_starts_with_a_strong_secret_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("SECRET_KEY", "s" * 48)
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db"})
    assert app.config["SECRET_KEY"] == "s" * 48
    assert app.debug is False
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True


def test_two_workers_with_the_same_key_accept_each_others_sessions(monkeypatch, tmp_path):
    monkeypatch.setenv("SECRET_KEY", "k" * 48)
    config = {
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db",
        "SESSION_COOKIE_SECURE": False,
    }
    one, two = create_app(config), create_app(config)
    with one.test_request_context():
        from flask import session

        session["draft"] = "abc"
        cookie = one.session_interface.get_signing_serializer(one).dumps(dict(session))
    with two.test_request_context():
        assert two.session_interface.get_signing_serializer(two).loads(cookie)["draft"] == "abc"


def test_development_without_a_secret_uses_a_temporary_one(monkeypatch, tmp_path):
    monkeypatch.setenv("SCREENING_ENVIRONMENT", "development")
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db"})
    assert len(app.config["SECRET_KEY"]) >= 32
    assert app.config["SESSION_COOKIE_SECURE"] is False


def test_database_url_from_the_environment_uses_psycopg_3(monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "s" * 48)
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@db.example/screening")
    app = create_app()
    assert app.config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u@db.example/screening"


def test_test_mapping_wins_over_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("SECRET_KEY", "s" * 48)
    monkeypatch.setenv("SCREENING_DRAFT_LIFETIME_DAYS", "7")
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db"})
    assert app.config["DRAFT_LIFETIME_DAYS"] == 7
    app = create_app(
        {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db", "DRAFT_LIFETIME_DAYS": 3}
    )
    assert app.config["DRAFT_LIFETIME_DAYS"] == 3


@pytest.mark.parametrize(
    ("url", "warned"),
    [
        ("postgresql+psycopg://u@db.example/screening", True),
        ("postgresql+psycopg://u@db.example/screening?sslmode=prefer", True),
        ("postgresql+psycopg://u@db.example/screening?sslmode=verify-full", False),
        ("postgresql+psycopg://u@db.example/screening?sslmode=require", False),
        ("postgresql+psycopg://u@localhost/screening", False),
        ("postgresql+psycopg://u@127.0.0.1:5432/screening", False),
        ("sqlite:///x.db", False),
    ],
)
def test_a_remote_postgresql_without_tls_is_warned_about_at_start(
    url, warned, monkeypatch, caplog, tmp_path
):
    import logging

    monkeypatch.setenv("SECRET_KEY", "s" * 48)
    monkeypatch.setattr(logging.getLogger("screening.database"), "disabled", False)
    if url.startswith("sqlite"):
        url = f"sqlite:///{tmp_path}/x.db"
    with caplog.at_level(logging.WARNING, logger="screening.database"):
        create_app({"SQLALCHEMY_DATABASE_URI": url})
    assert ("without sslmode=verify-full" in caplog.text) is warned
