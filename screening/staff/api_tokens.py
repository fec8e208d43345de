"""Administrators' pages for record systems' API tokens: list, make (shown once), revoke.

The routes are added to the staff blueprint (``staff.api_tokens`` ...), so they share its
sign-in, error pages and English-only pages; :mod:`screening.fhir.tokens` does the work,
the same as the ``flask --app screening api-token`` commands.
"""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, url_for
from flask_login import current_user
from sqlalchemy import select
from werkzeug.wrappers import Response
from wtforms import BooleanField, SelectChoice, SelectMultipleField, StringField
from wtforms.validators import DataRequired, Length

from screening.bounds import coerce_id
from screening.extensions import db
from screening.fhir import tokens
from screening.i18n import Form
from screening.models import Clinic
from screening.staff.access import fresh_required, permission_required
from screening.staff.views import bp

#: Who may manage tokens: the administrators, who manage accounts.
PERMISSION = "account:manage"


class ApiTokenForm(Form):
    name = StringField(
        "Name",
        description='Who uses it, such as "EHR bridge". It names every read in the audit trail.',
        validators=[
            DataRequired("Give the token a name."),
            Length(max=tokens.NAME_MAX, message=f"Use up to {tokens.NAME_MAX} characters."),
        ],
    )
    clinics = SelectMultipleField(
        "Clinics it reads",
        coerce=coerce_id,
        validate_choice=False,
        invalid_value_message="Choose clinics from the list.",
    )
    write = BooleanField("It may also mark submissions as received (write scope)")


@bp.get("/admin/api-tokens")
@permission_required(PERMISSION)
def api_tokens() -> str:
    return render_template("staff/api_tokens.html", rows=tokens.every_token())


@bp.route("/admin/api-tokens/new", methods=["GET", "POST"])
@permission_required(PERMISSION)
@fresh_required
def api_token_new() -> Any:
    form = ApiTokenForm()
    clinics = db.session.scalars(select(Clinic).order_by(Clinic.name)).all()
    form.clinics.choices = [SelectChoice(c.id, c.name) for c in clinics]
    errors: dict[str, str] = {}
    if form.validate_on_submit():
        chosen = [c for c in clinics if c.id in set(form.clinics.data or [])]
        if not chosen:
            errors["clinics"] = "Choose at least one clinic: a token reads only its clinics' forms."
        else:
            try:
                token, secret = tokens.create(
                    form.name.data, chosen, write=form.write.data, by=current_user
                )
            except tokens.TokenError as error:
                errors["name"] = str(error)
            else:
                db.session.commit()  # stored, with its audit row, before the secret is shown
                # Shown on this response only: not flashed, not kept in the session.
                return render_template("staff/api_tokens_created.html", token=token, secret=secret)
    for name, messages in form.errors.items():
        errors.setdefault(name, messages[0])
    return render_template("staff/api_tokens_new.html", form=form, errors=errors), (
        400 if errors else 200
    )


@bp.post("/admin/api-tokens/<public_id>/revoke")
@permission_required(PERMISSION)
@fresh_required
def api_token_revoke(public_id: str) -> Response:
    token = tokens.by_public_id(public_id)
    if token is None:
        abort(404)
    if tokens.revoke(token, by=current_user):
        db.session.commit()
        flash(f"{token.name} was revoked. It stops working at once.")
    return redirect(url_for("staff.api_tokens"), code=303)
