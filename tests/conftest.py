"""Shared fixtures: a real database (SQLite file, or PostgreSQL when DATABASE_URL is set)."""

from __future__ import annotations

import os

import pytest

from screening import create_app
from screening.config import database_url_from_env
from screening.extensions import db
from tests.patient import Patient

TEST_SECRET = "test-secret-key-that-is-long-enough-0123456789"


def database_url(tmp_path) -> str:
    return database_url_from_env() or f"sqlite:///{tmp_path / 'test.sqlite3'}"


@pytest.fixture()
def make_app(tmp_path):
    """Build apps on the test database; drops its tables afterwards."""
    built = []

    def make(**overrides):
        config = {
            "TESTING": True,
            "SECRET_KEY": TEST_SECRET,
            "SQLALCHEMY_DATABASE_URI": database_url(tmp_path),
            "SERVER_NAME": "localhost",
            "SESSION_COOKIE_SECURE": False,
        }
        config.update(overrides)
        app = create_app(config)
        with app.app_context():
            db.create_all()
        built.append(app)
        return app

    yield make
    for index, app in enumerate(built):
        with app.app_context():
            db.session.remove()
            if index == 0:  # every app here shares one database
                db.drop_all()
            db.engine.dispose()


@pytest.fixture()
def app(make_app):
    return make_app()


@pytest.fixture()
def client(app):
    return app.test_client()


@pytest.fixture()
def patient(app):
    return Patient(app.test_client())


@pytest.fixture()
def runner(app):
    return app.test_cli_runner()


def pytest_report_header(config):
    url = os.environ.get("DATABASE_URL")
    return f"database: {'PostgreSQL ' + url.split('@')[-1] if url else 'SQLite (temporary file)'}"
