"""TPI screening: a patient questionnaire and the clinic's intake tools."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from flask import Flask

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def create_app(test_config: dict | None = None) -> Flask:
    """Build the application.

    :param test_config: settings applied last, for tests.
    :raise screening.config.ConfigError: when the configuration is unsafe.
    """
    # Imported here, not at the top: ``import screening.scoring`` (the scorer, its CLI
    # checks, the benchmarks) then loads no Flask, WeasyPrint or database code.
    from flask import Flask

    from screening import (
        audit,
        bounds,
        cli,
        crypto,
        database,
        errors,
        i18n,
        observability,
        ratelimit,
        security,
    )
    from screening.config import load_config
    from screening.extensions import csrf, db
    from screening.scoring import load_ruleset

    app = Flask(
        __name__,
        instance_path=os.path.join(ROOT, "instance"),
        instance_relative_config=True,
        template_folder=os.path.join(ROOT, "templates"),
        static_folder=os.path.join(ROOT, "static"),
    )
    load_config(app, test_config)
    database.secure_sqlite_file(app.config["SQLALCHEMY_DATABASE_URI"])
    database.warn_unencrypted_postgres(app.config["SQLALCHEMY_DATABASE_URI"])
    # The data keys live outside the database; production does not start without them.
    crypto.init_app(app)
    # A broken rule file stops start-up here, never in the middle of a questionnaire.
    load_ruleset()
    # First: request ids and log redaction apply to everything after, and it hides SQL
    # parameters in the engine options before the engine is made.
    observability.init_app(app)

    db.init_app(app)
    # After db.init_app: its teardown must run first (a lost connection never escapes).
    database.init_app(app)
    # `flask db ...` and flask_migrate's functions; Alembic is imported when they are used.
    database.init_migrations(app)
    csrf.init_app(app)
    i18n.init_app(app)

    audit.init_app(app)

    from screening import fhir, patient, staff

    # Before any route is added: every <int:...> in a URL is an id within the database's range.
    bounds.init_app(app)
    app.register_blueprint(patient.bp)
    staff.init_app(app)
    # The record systems' API at /fhir: bearer tokens, no session (screening/fhir).
    fhir.init_app(app)
    errors.init_app(app)
    security.init_app(app)
    cli.init_app(app)
    # Last: its check must run before every other before_request hook (see the module).
    ratelimit.init_app(app)
    app.add_template_filter(initials)
    app.add_template_filter(count_label)
    return app


def initials(name: str | None) -> str:
    """ "Alex Example" -> "A.E.": lists show the minimum; the audited detail page shows the rest."""
    return "".join(f"{part[0].upper()}." for part in (name or "").split() if part[:1].isalpha())


def count_label(count: int) -> str:
    """1234 -> "1,000+" when a queue count was capped; otherwise the number."""
    from screening.staff.queue import COUNT_CAP

    return f"{COUNT_CAP:,}+" if count > COUNT_CAP else f"{count:,}"
