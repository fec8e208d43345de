"""The floor for ``bench_server.py``: a bare Flask app built from the libraries we use.

One Jinja page with a Flask-WTF form and its CSRF token (``GET /``), and a CSRF-checked
``POST /`` that inserts one row with Flask-SQLAlchemy and answers 303 back to the page.
Nothing else: no security headers, rate limits, audit trail, server-side sessions,
encryption or translations. gunicorn serves it as ``bare_app:create_app()`` from this
folder; the settings come from the environment:

- ``SECRET_KEY``: signs the session cookie and the CSRF tokens;
- ``BARE_DATABASE_URL``: a SQLAlchemy URL (``sqlite:///…`` or
  ``postgresql+psycopg://…``). On SQLite the connection gets what the app sets for
  several workers (WAL, ``synchronous=FULL``, a busy timeout), so both write to disk alike.

The table (:data:`TABLE`) is made by :func:`create_table` before gunicorn starts, and
dropped by :func:`drop_table` afterwards.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime

from flask import Flask, redirect, render_template, url_for
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import FlaskForm
from jinja2 import DictLoader
from sqlalchemy import DateTime, Integer, String, Text, create_engine, event, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from wtforms import RadioField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

#: A name no table of the app has: on PostgreSQL it sits in the app's database.
TABLE = "bench_bare_row"

TEMPLATES = {
    "layout.html": """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>{% block title %}{% endblock %}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><main>{% block main %}{% endblock %}</main></body>
</html>
""",
    "page.html": """{% extends "layout.html" %}
{% block title %}A form{% endblock %}
{% block main %}
<h1>A form</h1>
<form method="post" action="{{ url_for('page') }}" novalidate>
  {{ form.csrf_token }}
  <p>{{ form.name.label }} {{ form.name(autocomplete="name") }}
  {% for error in form.name.errors %}<strong>{{ error }}</strong>{% endfor %}</p>
  <fieldset><legend>{{ form.choice.label.text }}</legend>
  {% for option in form.choice %}<p>{{ option }} {{ option.label }}</p>{% endfor %}
  </fieldset>
  <p>{{ form.note.label }} {{ form.note(rows=3) }}</p>
  <button type="submit">Continue</button>
</form>
{% endblock %}
""",
}


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)


class Row(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = TABLE

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    choice: Mapped[str] = mapped_column(String(20))
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class RowForm(FlaskForm):
    name = StringField("Your name", validators=[DataRequired(), Length(max=100)])
    choice = RadioField(
        "How long",
        choices=[("w", "Weeks"), ("m", "Months"), ("y", "Years"), ("n", "Not sure")],
        validators=[DataRequired()],
    )
    note = TextAreaField("Anything else", validators=[Optional(), Length(max=500)])


def _sqlite_settings(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA busy_timeout=15000")
    cursor.close()


def _configure(engine: Engine) -> Engine:
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_settings)
    return engine


def create_app() -> Flask:
    app = Flask(__name__)
    app.jinja_loader = DictLoader(TEMPLATES)  # type: ignore[assignment]
    app.config["SECRET_KEY"] = os.environ["SECRET_KEY"]
    app.config["SQLALCHEMY_DATABASE_URI"] = os.environ["BARE_DATABASE_URL"]
    db.init_app(app)
    with app.app_context():
        _configure(db.engine)

    @app.route("/", methods=["GET", "POST"])
    def page():
        form = RowForm()
        if form.validate_on_submit():
            db.session.add(
                Row(
                    name=form.name.data,
                    choice=form.choice.data,
                    note=form.note.data or "",
                    created_at=datetime.now(UTC),
                )
            )
            db.session.commit()
            return redirect(url_for("page"), code=303)
        return render_template("page.html", form=form), 400 if form.errors else 200

    return app


def create_table(url: str) -> None:
    engine = _configure(create_engine(url))
    try:
        Base.metadata.create_all(engine)
    finally:
        engine.dispose()


def count_rows(url: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(Row.__table__)).scalar_one()
    finally:
        engine.dispose()


def drop_table(url: str) -> None:
    engine = create_engine(url)
    try:
        Base.metadata.drop_all(engine)
    finally:
        engine.dispose()
