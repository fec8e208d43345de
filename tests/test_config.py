"""Configuration layers and the refusal to start without a real secret or a proxy count."""

from __future__ import annotations

import logging

import pytest
from flask import request

from screening import create_app, observability
from screening.config import ConfigError
from screening.crypto import new_keyring

#: What production needs besides the secret (tests that start a production app set it).
PROXIES = {"TRUSTED_PROXY_COUNT": 0}


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in ("SECRET_KEY", "SCREENING_ENVIRONMENT", "SCREENING_TRUSTED_PROXY_COUNT"):
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
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db", **PROXIES})
    assert app.config["SECRET_KEY"] == "s" * 48
    assert app.debug is False
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True


def test_two_workers_with_the_same_key_accept_each_others_sessions(monkeypatch, tmp_path):
    monkeypatch.setenv("SECRET_KEY", "k" * 48)
    config = {
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db",
        "SESSION_COOKIE_SECURE": False,
        **PROXIES,
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
    monkeypatch.setenv("SCREENING_TRUSTED_PROXY_COUNT", "0")
    app = create_app()
    assert app.config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u@db.example/screening"


def test_test_mapping_wins_over_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("SECRET_KEY", "s" * 48)
    monkeypatch.setenv("SCREENING_DRAFT_LIFETIME_DAYS", "7")
    monkeypatch.setenv("SCREENING_TRUSTED_PROXY_COUNT", "0")
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
    monkeypatch.setenv("SCREENING_TRUSTED_PROXY_COUNT", "0")
    monkeypatch.setattr(logging.getLogger("screening.database"), "disabled", False)
    if url.startswith("sqlite"):
        url = f"sqlite:///{tmp_path}/x.db"
    with caplog.at_level(logging.WARNING, logger="screening.database"):
        create_app({"SQLALCHEMY_DATABASE_URI": url})
    assert ("without sslmode=verify-full" in caplog.text) is warned


# ------------------------------------------------------------------ the proxy count


def test_production_refuses_to_start_until_the_proxy_count_is_set(monkeypatch, tmp_path):
    monkeypatch.setenv("SECRET_KEY", "s" * 48)
    with pytest.raises(ConfigError) as refused:
        create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db"})
    message = str(refused.value)
    # It says what to set, where, and which value for the usual cases.
    for words in (
        "TRUSTED_PROXY_COUNT is not set",
        "SCREENING_TRUSTED_PROXY_COUNT",
        "instance/config.py",
        "1 behind one nginx",
        "0 when browsers connect to gunicorn directly",
    ):
        assert words in message


@pytest.mark.parametrize(("value", "hops"), [("0", 0), ("1", 1), ("2", 2)])
def test_an_explicit_proxy_count_starts_production_zero_included(
    monkeypatch, tmp_path, value, hops
):
    monkeypatch.setenv("SECRET_KEY", "s" * 48)
    monkeypatch.setenv("SCREENING_TRUSTED_PROXY_COUNT", value)
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db"})
    assert app.config["TRUSTED_PROXY_COUNT"] == hops
    seen = []
    app.before_request(lambda: seen.append(request.remote_addr))
    chain = "192.0.2.1, 192.0.2.2, 192.0.2.3"
    app.test_client().get(
        "/adults-only",
        headers={"X-Forwarded-For": chain},
        environ_base={"REMOTE_ADDR": "127.0.0.1"},
    ).close()
    # The address that many proxies back: the last hop's own peer with 0.
    assert seen == [{0: "127.0.0.1", 1: "192.0.2.3", 2: "192.0.2.2"}[hops]]


@pytest.mark.parametrize("value", [-1, "-1", "two", True, 1.5, None])
def test_a_proxy_count_that_is_not_a_whole_number_is_refused(tmp_path, value):
    config = {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db", "SECRET_KEY": "s" * 48}
    with pytest.raises(ConfigError, match="TRUSTED_PROXY_COUNT must be a whole number"):
        create_app({**config, "TRUSTED_PROXY_COUNT": value})


def test_development_and_tests_need_no_proxy_count(monkeypatch, tmp_path):
    monkeypatch.setenv("SCREENING_ENVIRONMENT", "development")
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db"})
    assert app.config["TRUSTED_PROXY_COUNT"] == 0
    monkeypatch.delenv("SCREENING_ENVIRONMENT")
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db", "TESTING": True})
    assert app.config["TRUSTED_PROXY_COUNT"] == 0


def _forwarded_warnings(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.getMessage() == observability.FORWARDED_IGNORED]


def test_forwarded_for_with_no_trusted_proxy_is_logged_once(monkeypatch, tmp_path, caplog):
    monkeypatch.setenv("SECRET_KEY", "s" * 48)
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db", **PROXIES})
    client = app.test_client()
    client.get("/adults-only").close()
    assert _forwarded_warnings(caplog) == []  # no header, nothing said
    for address in ("203.0.113.77", "203.0.113.78"):
        client.get("/adults-only", headers={"X-Forwarded-For": address}).close()
    [warning] = _forwarded_warnings(caplog)
    assert warning.levelno == logging.WARNING
    assert "TRUSTED_PROXY_COUNT" in warning.getMessage()
    assert "203.0.113" not in caplog.text  # the address sent is not logged


def test_forwarded_for_through_a_trusted_proxy_is_not_warned_about(monkeypatch, tmp_path, caplog):
    monkeypatch.setenv("SECRET_KEY", "s" * 48)
    app = create_app(
        {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db", "TRUSTED_PROXY_COUNT": 1}
    )
    app.test_client().get("/adults-only", headers={"X-Forwarded-For": "203.0.113.77"}).close()
    assert _forwarded_warnings(caplog) == []
