"""Making, checking and revoking record systems' API tokens.

A token is ``scr_`` and 32 random bytes (URL-safe base64). Only its SHA-256 is stored: the
token is random enough that no key or slow hash is needed, and looking it up by its hash
reveals nothing about it. The stored and computed hashes are compared in constant time.

On the server::

    flask --app screening api-token create --clinic "North Clinic" --name "EHR bridge" [--write]
    flask --app screening api-token list
    flask --app screening api-token revoke "EHR bridge"

:func:`create` and :func:`revoke` write the token and its audit row in the caller's
transaction; the page or command commits (README, "Transactions").
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Sequence
from typing import Any

import click
from flask.cli import AppGroup
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from screening import audit
from screening.extensions import db
from screening.fhir.models import READ, WRITE, ApiToken
from screening.models import Clinic, StaffUser, token_hash, utcnow
from screening.staff import accounts

PREFIX = "scr_"
#: Longest name (it is the audit trail's actor name, 64 characters there).
NAME_MAX = 64
#: Longest Authorization value looked at; a real token is 47 characters.
TOKEN_MAX = 100


class TokenError(ValueError):
    """The token cannot be made or revoked as asked (the message says why, for a person)."""


def _clean_name(name: str) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise TokenError("Give the token a name, such as the record system it is for.")
    if len(name) > NAME_MAX:
        raise TokenError(f"The name can be up to {NAME_MAX} characters.")
    if not name.isprintable():
        raise TokenError("The name has characters that cannot be shown.")
    return name


def create(
    name: str, clinics: Sequence[Clinic], write: bool = False, by: StaffUser | None = None
) -> tuple[ApiToken, str]:
    """Make a token for ``clinics``; return it and its secret (shown once, never stored).

    Audited (``api_token.create``) in the same transaction.

    :raise TokenError: no clinic, a bad name, or a name an active token already has.
    """
    name = _clean_name(name)
    if not clinics:
        raise TokenError("Choose at least one clinic: a token reads only its clinics' forms.")
    taken = db.session.scalar(
        select(ApiToken.id).where(ApiToken.name == name, ApiToken.revoked_at.is_(None))
    )
    if taken is not None:
        raise TokenError(f"An active token is already named {name!r}. Choose another name.")
    secret = PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        name=name,
        token_hash=token_hash(secret),
        scopes=f"{READ} {WRITE}" if write else READ,
        created_by_id=by.id if by is not None else None,
        created_at=utcnow(),
        clinics=list(clinics),
    )
    db.session.add(token)
    db.session.flush()
    audit.record(
        "api_token.create",
        actor=by,
        target=name,
        detail={
            "token": token.id,
            "clinics": sorted(c.id for c in clinics),
            "scopes": token.scopes,
            **({} if by is not None else {"via": "cli"}),
        },
    )
    return token, secret


def revoke(token: ApiToken, by: StaffUser | None = None) -> bool:
    """Stop ``token`` working at once; False if it already was revoked. Audited."""
    if token.revoked_at is not None:
        return False
    token.revoked_at = utcnow()
    audit.record(
        "api_token.revoke",
        actor=by,
        target=token.name,
        detail={"token": token.id, **({} if by is not None else {"via": "cli"})},
    )
    return True


def authenticate(header: str | None) -> tuple[ApiToken | None, str]:
    """The active token an ``Authorization`` header carries, or None and why not.

    :return: ``(token, "ok")``; or ``(None, reason)`` with reason ``missing`` (no header),
        ``malformed`` (not ``Bearer <token>``) or ``unknown``; or ``(token, "revoked")``
        for a revoked token (named in the audit trail, never let in).
    """
    if not header:
        return None, "missing"
    scheme, _, value = header.strip().partition(" ")
    value = value.strip()
    if scheme.lower() != "bearer" or not value:
        return None, "malformed"
    if len(value) > TOKEN_MAX or not value.isascii() or not value.isprintable():
        return None, "unknown"
    digest = token_hash(value)
    token = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == digest))
    if token is None or not hmac.compare_digest(token.token_hash, digest):
        return None, "unknown"
    if token.revoked_at is not None:
        return token, "revoked"
    return token, "ok"


def every_token() -> list[ApiToken]:
    """Every token, active ones first, each group by name."""
    return list(
        db.session.scalars(
            select(ApiToken)
            .options(selectinload(ApiToken.clinics), selectinload(ApiToken.created_by))
            .order_by(ApiToken.revoked_at.is_not(None), ApiToken.name, ApiToken.id)
        )
    )


def by_public_id(public_id: str) -> ApiToken | None:
    if not (isinstance(public_id, str) and len(public_id) == 32 and public_id.isascii()):
        return None
    return db.session.scalar(select(ApiToken).where(ApiToken.public_id == public_id))


def describe(token: ApiToken) -> dict[str, Any]:
    """What the list shows of a token (never its secret or hash)."""
    return {
        "name": token.name,
        "clinics": ", ".join(c.name for c in token.clinics),
        "scopes": token.scopes,
        "created": token.created_at,
        "by": token.created_by.username if token.created_by else "command line",
        "last_used": token.last_used_at,
        "revoked": token.revoked_at,
    }


# ------------------------------------------------------------------ the command line

tokens_cli = AppGroup("api-token", help="Record systems' API tokens (the FHIR API at /fhir).")


def _when(moment: Any) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "never"


@tokens_cli.command("create")
@click.option("--name", required=True, help='Who uses it, e.g. "EHR bridge".')
@click.option(
    "--clinic", "clinic_names", multiple=True, required=True, help="Clinic it reads (repeatable)."
)
@click.option("--write", is_flag=True, help="Also allow marking submissions as received.")
def create_command(name: str, clinic_names: tuple[str, ...], write: bool) -> None:
    """Make a token; it is printed once, here, and cannot be shown again."""
    clinics = []
    for clinic_name in clinic_names:
        clinic = accounts.clinic_by_name(clinic_name)
        if clinic is None:
            raise click.ClickException(f"No clinic named {clinic_name!r} (see `clinic list`).")
        clinics.append(clinic)
    try:
        token, secret = create(name, clinics, write=write)
    except TokenError as error:
        raise click.ClickException(str(error)) from error
    db.session.commit()  # stored, with its audit row, before the secret is shown
    click.echo(f"Token for {token.name} ({token.scopes}; {', '.join(c.name for c in clinics)}):")
    click.echo(secret)
    click.echo("Give it to the record system now: it is stored only as a hash.")


@tokens_cli.command("list")
def list_command() -> None:
    """List tokens: name, clinics, scopes, who made it and when, last use, state."""
    tokens = every_token()
    if not tokens:
        click.echo("No API tokens.")
    for token in tokens:
        row = describe(token)
        state = f"revoked {_when(row['revoked'])}" if row["revoked"] else "active"
        click.echo(
            f"{row['name']}\t{row['clinics']}\t{row['scopes']}\tmade {_when(row['created'])} "
            f"by {row['by']}\tlast used {_when(row['last_used'])}\t{state}"
        )


@tokens_cli.command("revoke")
@click.argument("name")
def revoke_command(name: str) -> None:
    """Revoke the active token called NAME: it stops working at once."""
    token = db.session.scalar(
        select(ApiToken).where(
            ApiToken.name == " ".join(name.split()), ApiToken.revoked_at.is_(None)
        )
    )
    if token is None:
        raise click.ClickException(f"No active token is named {name!r} (see `api-token list`).")
    revoke(token)
    db.session.commit()
    click.echo(f"Revoked {token.name}.")
