"""Command-line tasks: ``flask --app screening <group> <command>``."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup
from sqlalchemy import select

from screening.extensions import db
from screening.models import Submission
from screening.questionnaire import drafts
from screening.scoring import ScoringInputError, check_ruleset, load_ruleset, score
from screening.submissions import apply_result

drafts_cli = AppGroup("drafts", help="Unfinished questionnaires.")


@drafts_cli.command("purge")
def purge_drafts() -> None:
    """Delete drafts that have passed their expiry time."""
    count = drafts.purge_expired()
    click.echo(f"Deleted {count} expired draft(s).")


rules_cli = AppGroup("rules", help="The scoring rules.")


@rules_cli.command("check")
def rules_check() -> None:
    """Validate the rule file and the questions-to-bring catalogue."""
    problems = check_ruleset()
    for problem in problems:
        click.echo(problem, err=True)
    if problems:
        raise SystemExit(1)
    click.echo(f"Rule set {load_ruleset().version}: no problems found.")


@rules_cli.command("rescore")
@click.option("--dry-run", is_flag=True, help="Only list what would change; store nothing.")
def rules_rescore(dry_run: bool) -> None:
    """Score every stored submission again with the current rule file.

    Lists each submission whose outcome would change (reference, old -> new). Without
    --dry-run the new results are stored.
    """
    changed = 0
    total = 0
    for submission in db.session.scalars(select(Submission).order_by(Submission.id)):
        total += 1
        try:
            result = score(submission.answers)
        except ScoringInputError as error:
            click.echo(f"{submission.reference}: cannot be scored ({error})", err=True)
            continue
        old = (submission.outcome, submission.care_level)
        new = (result.outcome.value, result.care_level.value if result.care_level else None)
        if old != new:
            changed += 1
            click.echo(f"{submission.reference}: {_label(*old)} -> {_label(*new)}")
        if not dry_run:
            apply_result(submission, result)
    if not dry_run:
        db.session.commit()
    verb = "would change" if dry_run else "changed"
    version = load_ruleset().version
    click.echo(f"{changed} of {total} submission(s) {verb} outcome under rule set {version}.")


def _label(outcome: str, care_level: str | None) -> str:
    return f"{outcome}/{care_level}" if care_level else outcome


def init_app(app: Flask) -> None:
    app.cli.add_command(drafts_cli)
    app.cli.add_command(rules_cli)
