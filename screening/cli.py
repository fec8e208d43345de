"""Command-line tasks: ``flask --app screening <group> <command>``."""

from __future__ import annotations

import sys

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from sqlalchemy import select

from screening import audit, backup, demo, integrity, rekey, retention
from screening.clinics import Hours
from screening.extensions import db
from screening.models import Clinic, StaffUser, Submission
from screening.patient import drafts
from screening.scoring import ScoringInputError, check_ruleset, load_ruleset, score
from screening.staff import accounts
from screening.staff.access import ROLES
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


staff_cli = AppGroup("staff", help="Staff accounts (there are no default accounts).")


@staff_cli.command("add")
@click.argument("username")
@click.option("--role", required=True, type=click.Choice(ROLES), help="What the person may do.")
@click.option(
    "--clinic", "clinic_names", multiple=True, help="A clinic they work for (repeat for more)."
)
@click.option("--name", "full_name", default="", help="The person's full name.")
@click.option(
    "--password-stdin", is_flag=True, help="Read the password from one line of standard input."
)
def staff_add(
    username: str, role: str, clinic_names: tuple[str, ...], full_name: str, password_stdin: bool
) -> None:
    """Create a staff account; the person enrols their second factor at first sign-in."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    clinic_ids = []
    for name in clinic_names:
        clinic = accounts.clinic_by_name(name)
        if clinic is None:
            raise click.ClickException(
                f"No clinic called {name!r}. Add it with: flask --app screening clinic add NAME"
            )
        clinic_ids.append(clinic.id)
    try:
        user = accounts.create_user(
            username, role, password, full_name=full_name, clinic_ids=clinic_ids
        )
    except accounts.AccountError as error:
        raise click.ClickException(str(error)) from error
    audit.record("account.create", target=user.username, detail={"role": role, "via": "cli"})
    db.session.commit()
    click.echo(
        f"Created {user.username} ({role}). They set up their authenticator at first sign-in."
    )


@staff_cli.command("disable")
@click.argument("username")
def staff_disable(username: str) -> None:
    """Disable an account and end its sessions."""
    user = db.session.scalar(
        select(StaffUser).where(StaffUser.username == username.strip().lower())
    )
    if user is None:
        raise click.ClickException(f"No account called {username!r}.")
    accounts.disable(user)
    audit.record("account.disable", target=user.username, detail={"via": "cli"})
    db.session.commit()
    click.echo(f"Disabled {user.username}; their sessions have ended.")


@staff_cli.command("list")
def staff_list() -> None:
    """List staff accounts."""
    for user in db.session.scalars(select(StaffUser).order_by(StaffUser.username)):
        clinics = ", ".join(c.name for c in user.clinics) or "-"
        state = "active" if user.active else "disabled"
        factor = "code set up" if user.totp_secret else "code not set up"
        click.echo(f"{user.username}\t{user.role}\t{state}\t{factor}\t{clinics}")


clinic_cli = AppGroup("clinic", help="Clinics that receive submissions.")


@clinic_cli.command("add")
@click.argument("name")
def clinic_add(name: str) -> None:
    """Add a clinic."""
    try:
        clinic = accounts.create_clinic(name)
    except accounts.AccountError as error:
        raise click.ClickException(str(error)) from error
    audit.record("clinic.create", target=clinic.name, detail={"via": "cli"})
    db.session.commit()
    click.echo(f"Added clinic {clinic.name}.")


@clinic_cli.command("list")
def clinic_list() -> None:
    """List clinics: name, state, phone, hours and time zone."""
    for clinic in db.session.scalars(select(Clinic).order_by(Clinic.name)):
        state = "active" if clinic.active else "retired"
        hours = Hours.of(clinic)
        fields = (clinic.name, state, clinic.phone or "-", hours.describe() or "-", hours.zone)
        click.echo("\t".join(fields))


def _clinic(name: str) -> Clinic:
    clinic = accounts.clinic_by_name(name)
    if clinic is None:
        raise click.ClickException(
            f"No clinic called {name!r}. See: flask --app screening clinic list"
        )
    return clinic


@clinic_cli.command("edit")
@click.argument("name")
@click.option("--rename", help="A new name.")
@click.option("--phone", help="The phone number patients call.")
@click.option("--address", help="The address patients come to.")
@click.option("--days", "open_days", help="Open days as digits, Monday 0 to Sunday 6: 01234.")
@click.option("--opens", "opens_at", help="Opening time, 24-hour HH:MM.")
@click.option("--closes", "closes_at", help="Closing time, 24-hour HH:MM.")
@click.option("--timezone", help="IANA time zone, such as America/Chicago.")
@click.option("--note", "patient_note", help="A short note for patients.")
@click.option(
    "--retention-days",
    help="Days its closed or not-proceeding submissions are kept, or 'default'.",
)
def clinic_edit(name: str, rename: str | None, **changes: str | None) -> None:
    """Change a clinic's name, contact details, hours or time zone."""
    clinic = _clinic(name)
    try:
        changed = accounts.update_clinic(clinic, name=rename, **changes)
    except accounts.AccountError as error:
        db.session.rollback()
        raise click.ClickException(f"{error.field}: {error}") from error
    if not changed:
        click.echo("Nothing changed.")
        return
    audit.record(
        "clinic.update", target=clinic.name, detail={"fields": sorted(changed), "via": "cli"}
    )
    db.session.commit()
    click.echo(f"Saved {clinic.name}: {', '.join(sorted(changed))}.")


@clinic_cli.command("retire")
@click.argument("name")
@click.option("--undo", is_flag=True, help="Reactivate a retired clinic.")
def clinic_retire(name: str, undo: bool) -> None:
    """Retire a clinic: it takes no new forms; its submissions stay visible."""
    clinic = _clinic(name)
    if accounts.set_clinic_active(clinic, undo):
        action = "clinic.reactivate" if undo else "clinic.retire"
        audit.record(action, target=clinic.name, detail={"via": "cli"})
        db.session.commit()
    click.echo(f"{clinic.name} {'takes forms' if undo else 'is retired'}.")


#: The clinic `make run` adds on a fresh development database, so the form works at once.
SAMPLE_CLINIC = "Sample Clinic (development only)"


@clinic_cli.command("sample")
def clinic_sample() -> None:
    """Development only: add a clearly named sample clinic when there is none."""
    if current_app.config["ENVIRONMENT"] != "development":
        raise click.ClickException("The sample clinic is for development only.")
    if db.session.scalar(select(Clinic.id).limit(1)) is not None:
        return
    clinic = accounts.create_clinic(SAMPLE_CLINIC)
    accounts.update_clinic(
        clinic, phone="555-0100", patient_note="A sample clinic for trying the form."
    )
    audit.record("clinic.create", target=clinic.name, detail={"via": "make run"})
    db.session.commit()
    click.echo(
        f"Added {clinic.name}: patients can start the form. Add your own clinic before real use."
    )


submissions_cli = AppGroup("submissions", help="Stored submissions.")


@submissions_cli.command("verify")
def submissions_verify() -> None:
    """Check every submission against its digest; exit 1 if any was changed or cannot be read."""
    count, problems = integrity.verify_all()
    for reference, warning in problems:
        click.echo(f"{reference}: {warning}")
    if problems:
        click.echo(f"{len(problems)} of {count} submission(s) failed the check.", err=True)
        raise SystemExit(1)
    click.echo(f"All {count} submission(s) match their digest.")


@submissions_cli.command("purge")
@click.option("--dry-run", is_flag=True, help="Only say how many are due; delete nothing.")
def submissions_purge(dry_run: bool) -> None:
    """Delete submissions closed or not proceeding for longer than their clinic keeps them."""
    if dry_run:
        click.echo(f"{len(retention.due())} submission(s) are past their retention period.")
        return
    done = retention.purge()
    click.echo(
        f"Deleted {len(done.ids)} submission(s) past their retention period "
        f"({done.batches} audit row(s) list their ids)."
    )


def init_app(app: Flask) -> None:
    app.cli.add_command(drafts_cli)
    app.cli.add_command(rules_cli)
    app.cli.add_command(staff_cli)
    app.cli.add_command(clinic_cli)
    app.cli.add_command(audit.audit_cli)
    app.cli.add_command(demo.demo_cli)
    app.cli.add_command(rekey.keys_cli)
    app.cli.add_command(submissions_cli)
    app.cli.add_command(backup.backup_cli)
