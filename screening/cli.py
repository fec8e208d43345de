"""Command-line tasks: ``flask --app screening <group> <command>``."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup

from screening.questionnaire import drafts

drafts_cli = AppGroup("drafts", help="Unfinished questionnaires.")


@drafts_cli.command("purge")
def purge_drafts() -> None:
    """Delete drafts that have passed their expiry time."""
    count = drafts.purge_expired()
    click.echo(f"Deleted {count} expired draft(s).")


def init_app(app: Flask) -> None:
    app.cli.add_command(drafts_cli)
