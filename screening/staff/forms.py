"""Staff forms. Length limits are generous; no password composition rules (ASVS V6.2)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    PasswordField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
)
from wtforms.validators import DataRequired, Length, ValidationError

from screening.staff.access import ROLES
from screening.staff.credentials import MAX_LENGTH


class LoginForm(FlaskForm):
    username = StringField(
        "Username", validators=[DataRequired("Enter your username."), Length(max=64)]
    )
    password = PasswordField(
        "Password", validators=[DataRequired("Enter your password."), Length(max=MAX_LENGTH)]
    )


class CodeForm(FlaskForm):
    code = StringField(
        "6-digit code from your authenticator app",
        validators=[DataRequired("Enter the 6-digit code."), Length(max=12)],
    )


class ReauthForm(FlaskForm):
    password = PasswordField(
        "Password", validators=[DataRequired("Enter your password."), Length(max=MAX_LENGTH)]
    )
    code = StringField(
        "6-digit code from your authenticator app",
        validators=[DataRequired("Enter the 6-digit code."), Length(max=12)],
    )


class NewUserForm(FlaskForm):
    username = StringField(
        "Username", validators=[DataRequired("Enter a username."), Length(max=64)]
    )
    full_name = StringField(
        "Full name", validators=[DataRequired("Enter the person's name."), Length(max=100)]
    )
    role = SelectField("Role", choices=[SelectChoice(r, r.title()) for r in ROLES])
    clinics = SelectMultipleField("Clinics", coerce=int, validate_choice=False)
    password = PasswordField("First password", validators=[DataRequired("Enter a first password.")])


class ClinicForm(FlaskForm):
    name = StringField("Clinic name", validators=[DataRequired("Enter a name."), Length(max=100)])


class PasswordChangeForm(FlaskForm):
    current = PasswordField(
        "Current password", validators=[DataRequired("Enter your current password.")]
    )
    new = PasswordField("New password", validators=[DataRequired("Enter a new password.")])


class ActivityForm(FlaskForm):
    """Admin report: what did a user touch between two dates."""

    class Meta:
        csrf = False  # a read-only GET report

    user = SelectField("Staff member", coerce=int, validate_choice=False)
    start = StringField("From (YYYY-MM-DD)", validators=[Length(max=10)])
    end = StringField("To (YYYY-MM-DD, inclusive)", validators=[Length(max=10)])


class ExportForm(FlaskForm):
    start = DateField("From", validators=[DataRequired("Enter the first day, like 2026-11-01.")])
    end = DateField(
        "To (inclusive)", validators=[DataRequired("Enter the last day, like 2026-11-30.")]
    )

    def validate_end(self, field: DateField) -> None:
        if self.start.data and field.data and field.data < self.start.data:
            raise ValidationError("The last day must be on or after the first day.")


class EmergencyAccessForm(FlaskForm):
    reason = StringField(
        "Why do you need to see other clinics' submissions?",
        validators=[
            DataRequired("Write the reason. Administrators review every emergency access."),
            Length(min=10, max=500, message="Write 10 to 500 characters."),
        ],
    )
