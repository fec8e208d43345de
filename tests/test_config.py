"""Configuration layers and the refusal to start without a real secret or a proxy count."""

from __future__ import annotations

import ast
import logging
import os
import re
from pathlib import Path

import pytest
from flask import request

from screening import config, create_app, observability
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


# ------------------------------------------------------------------ layers over the defaults


def test_settings_from_the_environment_win_over_their_defaults(monkeypatch, tmp_path):
    monkeypatch.setenv("SECRET_KEY", "s" * 48)
    monkeypatch.setenv("SCREENING_TRUSTED_PROXY_COUNT", "1")
    monkeypatch.setenv("SCREENING_STAFF_IDLE_MINUTES", "20")
    monkeypatch.setenv("SCREENING_MAIL_USE_TLS", "false")
    monkeypatch.setenv("SCREENING_RATELIMIT_PAGE", "7 per minute")
    monkeypatch.setenv("SCREENING_FHIR_BASE_URL", "https://forms.clinic.example/fhir")
    monkeypatch.setenv("SCREENING_QUEUE_TARGETS__emergency__hours", "1")
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db"})
    assert app.config["STAFF_IDLE_MINUTES"] == 20
    assert app.config["MAIL_USE_TLS"] is False
    assert app.config["RATELIMIT_PAGE"] == "7 per minute"
    assert app.config["FHIR_BASE_URL"] == "https://forms.clinic.example/fhir"
    assert app.config["QUEUE_TARGETS"]["emergency"] == {"hours": 1}
    assert app.config["QUEUE_TARGETS"]["routine"] == {"business_days": 3}
    # Left alone: the production defaults.
    assert app.config["RATELIMIT_SUBMIT"] == "10 per minute;30 per hour"
    assert app.config["CSRF_AUDIT_PER_HOUR"] == 10
    assert app.config["STAFF_FRESH_MINUTES"] == 10
    # A key changed within a mapping changed this app's copy, not the default.
    assert config.DefaultConfig.QUEUE_TARGETS["emergency"] == {"hours": 2}
    monkeypatch.delenv("SCREENING_QUEUE_TARGETS__emergency__hours")
    again = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db"})
    assert again.config["QUEUE_TARGETS"]["emergency"] == {"hours": 2}


def test_testing_defaults_apply_only_to_settings_no_layer_gave(monkeypatch, tmp_path):
    monkeypatch.setenv("SCREENING_RATELIMIT_LOGIN", "3 per minute")
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db",
            "TESTING": True,
            # Equal to the production default, yet given: it stays.
            "RATELIMIT_PAGE": config.DefaultConfig.RATELIMIT_PAGE,
            "CSRF_AUDIT_PER_HOUR": 3,
        }
    )
    assert app.config["RATELIMIT_LOGIN"] == "3 per minute"
    assert app.config["RATELIMIT_PAGE"] == "30 per minute;300 per hour"
    assert app.config["CSRF_AUDIT_PER_HOUR"] == 3
    assert app.config["RATELIMIT_SUBMIT"] == config.TESTING_LIMIT
    assert app.config["RATELIMIT_API"] == config.TESTING_LIMIT
    for name, value in config.settings_of(config.TestingConfig).items():
        if name not in {"RATELIMIT_LOGIN", "RATELIMIT_PAGE", "CSRF_AUDIT_PER_HOUR"}:
            assert app.config[name] == value, name


def test_the_key_file_defaults_to_the_instance_folder_unless_set(tmp_path):
    database = {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db", "TESTING": True}
    app = create_app(database)
    assert app.config["DATA_KEYS_FILE"] == os.path.join(app.instance_path, "keys.json")
    # Set to nothing on purpose: no key file is read (tests then use their own key set).
    assert create_app({**database, "DATA_KEYS_FILE": None}).config["DATA_KEYS_FILE"] is None


# ------------------------------------------------------------------ every setting in one place

ROOT = Path(__file__).resolve().parents[1]

#: Flask's and its extensions' own settings that the package reads or sets a default for.
#: The README names them under its configuration table instead of in it.
LIBRARY_SETTINGS = frozenset(
    {
        "MAX_CONTENT_LENGTH",
        "MAX_FORM_MEMORY_SIZE",
        "MAX_FORM_PARTS",
        "PERMANENT_SESSION_LIFETIME",
        "SESSION_COOKIE_HTTPONLY",
        "SESSION_COOKIE_NAME",
        "SESSION_COOKIE_SAMESITE",
        "SESSION_COOKIE_SECURE",
        "SQLALCHEMY_ENGINE_OPTIONS",
        "WTF_CSRF_SSL_STRICT",
        "WTF_CSRF_TIME_LIMIT",
    }
)


def _is_config(node: ast.expr) -> bool:
    """``config``, ``app.config``, ``current_app.config``..."""
    return (isinstance(node, ast.Name) and node.id == "config") or (
        isinstance(node, ast.Attribute) and node.attr == "config"
    )


def _config_calls(tree: ast.AST, methods: set[str]):
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in methods
            and _is_config(node.func.value)
        ):
            yield node


def _sources() -> list[Path]:
    return sorted((ROOT / "screening").rglob("*.py"))


def settings_read() -> dict[str, set[str]]:
    """Every setting the package reads, with where: ``config["NAME"]`` and
    ``config.get("NAME")`` in Python, ``config.NAME`` in templates, and the rate limits,
    which views name as strings and read as ``config[setting]``."""
    found: dict[str, set[str]] = {}
    for path in _sources():
        where = str(path.relative_to(ROOT))
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            name = None
            if (
                isinstance(node, ast.Subscript)
                and isinstance(node.ctx, ast.Load)
                and _is_config(node.value)
                and isinstance(node.slice, ast.Constant)
            ):
                name = node.slice.value
            elif isinstance(node, ast.Constant) and re.fullmatch(
                r"RATELIMIT_[A-Z_]+", str(node.value)
            ):
                name = node.value
            if name is not None:
                found.setdefault(name, set()).add(where)
        for call in _config_calls(tree, {"get", "setdefault", "pop"}):
            if call.args and isinstance(call.args[0], ast.Constant):
                found.setdefault(call.args[0].value, set()).add(where)
    for path in sorted((ROOT / "templates").rglob("*.html")):
        for name in re.findall(r"\bconfig\.([A-Z][A-Z0-9_]*)", path.read_text(encoding="utf-8")):
            found.setdefault(name, set()).add(str(path.relative_to(ROOT)))
    return found


def readme_rows() -> list[tuple[list[str], str]]:
    """The README's configuration table: the settings each row names in its first column,
    with its default column."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        if line.startswith("| `"):
            cells = [cell.strip() for cell in line.strip("|").split("|")]
            rows.append((re.findall(r"`([A-Z][A-Z0-9_]+)`", cells[0]), cells[1]))
    return rows


@pytest.mark.database_free
def test_the_scan_finds_settings_read_in_each_way():
    read = settings_read()
    assert "screening/staff/access.py" in read["STAFF_IDLE_MINUTES"]  # config["..."]
    assert "screening/mail.py" in read["MAIL_TIMEOUT"]  # config.get("...")
    assert "templates/staff/base.html" in read["STAFF_IDLE_WARNING_SECONDS"]  # config.NAME
    assert "screening/fhir/views.py" in read["RATELIMIT_API"]  # named, read as config[setting]


@pytest.mark.database_free
def test_every_setting_the_package_reads_has_its_default_in_the_config_module():
    defaults = config.settings_of(config.DefaultConfig)
    missing = {name: where for name, where in settings_read().items() if name not in defaults}
    assert missing == {}


@pytest.mark.database_free
def test_every_setting_is_in_the_readme_configuration_table():
    ours = (set(settings_read()) | set(config.settings_of(config.DefaultConfig))) - (
        LIBRARY_SETTINGS
    )
    table = {name for names, _ in readme_rows() for name in names}
    assert sorted(ours - table) == []
    assert sorted(table - ours) == []  # nothing documented that no longer exists
    section = (ROOT / "README.md").read_text(encoding="utf-8").split("\n## Configuration\n")[1]
    section = section.split("\n## ", 1)[0]
    assert sorted(name for name in LIBRARY_SETTINGS if f"`{name}`" not in section) == []


def _numbers(text: str) -> list[int]:
    return [int(n.replace(",", "")) for n in re.findall(r"\d+(?:,\d{3})*", text)]


#: Defaults the factory works out (from the instance folder) or that the table describes
#: in words.
DESCRIBED_DEFAULTS = frozenset(
    {"SQLALCHEMY_DATABASE_URI", "DATA_KEYS_FILE", "QUEUE_TARGETS", "RATELIMIT_KEY_PREFIX"}
)


@pytest.mark.database_free
def test_the_readme_table_gives_the_defaults_of_the_config_module():
    defaults = config.settings_of(config.DefaultConfig)
    for names, cell in readme_rows():
        values = [defaults[name] for name in names if name not in DESCRIBED_DEFAULTS]
        if not values:
            continue
        if all(value is None for value in values):
            assert cell.startswith("none"), (names, cell)
        elif all(isinstance(value, bool) for value in values):
            assert re.findall(r"`(\w+)`", cell) == [str(v).lower() for v in values], names
        elif all(isinstance(value, int) or " per " in str(value) for value in values):
            expected = [n for value in values for n in _numbers(str(value))]
            assert _numbers(cell)[: len(expected)] == expected, (names, cell)
        else:
            assert re.findall(r"`([^`]+)`", cell) == values, (names, cell)


@pytest.mark.database_free
def test_no_module_but_the_config_module_gives_a_setting_a_default():
    """No ``config.setdefault(...)``, and no ``config.get("NAME", default)``."""
    found = []
    for path in _sources():
        if path == ROOT / "screening" / "config.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for call in _config_calls(tree, {"setdefault", "get"}):
            if call.func.attr == "setdefault" or len(call.args) > 1 or call.keywords:
                found.append(f"{path.relative_to(ROOT)}:{call.lineno}")
    assert found == []
