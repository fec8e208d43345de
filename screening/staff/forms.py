"""Staff forms. Length limits are generous; no password composition rules (ASVS V6.2)."""

from __future__ import annotations

from wtforms import (
    HiddenField,
    PasswordField,
    RadioField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from screening.bounds import DayField, coerce_id
from screening.clinics import US_ZONES, WEEKDAYS, zone_label
from screening.i18n import Form
from screening.staff.access import ROLES
from screening.staff.credentials import MAX_LENGTH


class LoginForm(Form):
    username = StringField(
        "Username", validators=[DataRequired("Enter your username."), Length(max=64)]
    )
    password = PasswordField(
        "Password", validators=[DataRequired("Enter your password."), Length(max=MAX_LENGTH)]
    )
    #: Asked with the password only while the address must wait (staff/throttle.py).
    code = StringField("6-digit code from your authenticator app", validators=[Length(max=12)])


class CodeForm(Form):
    code = StringField(
        "6-digit code from your authenticator app",
        validators=[DataRequired("Enter the 6-digit code."), Length(max=12)],
    )


class ReauthForm(Form):
    password = PasswordField(
        "Password", validators=[DataRequired("Enter your password."), Length(max=MAX_LENGTH)]
    )
    code = StringField(
        "6-digit code from your authenticator app",
        validators=[DataRequired("Enter the 6-digit code."), Length(max=12)],
    )


class NewUserForm(Form):
    username = StringField(
        "Username", validators=[DataRequired("Enter a username."), Length(max=64)]
    )
    full_name = StringField(
        "Full name", validators=[DataRequired("Enter the person's name."), Length(max=100)]
    )
    role = SelectField("Role", choices=[SelectChoice(r, r.title()) for r in ROLES])
    clinics = SelectMultipleField(
        "Clinics",
        coerce=coerce_id,
        validate_choice=False,
        invalid_value_message="Choose clinics from the list.",
    )
    password = PasswordField("First password", validators=[DataRequired("Enter a first password.")])


class ClinicForm(Form):
    name = StringField("Clinic name", validators=[DataRequired("Enter a name."), Length(max=100)])


class ClinicEditForm(Form):
    name = StringField("Clinic name", validators=[DataRequired("Enter a name."), Length(max=100)])
    phone = StringField(
        "Phone number patients call",
        description="Shown to patients as a number they can tap to call.",
        validators=[Length(max=40)],
    )
    address = TextAreaField("Address", validators=[Length(max=300)])
    open_days = SelectMultipleField(
        "Open on",
        choices=[SelectChoice(str(number), day) for number, day in enumerate(WEEKDAYS)],
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
    )
    opens_at = StringField(
        "Opens at", description="24-hour clock, like 08:00.", validators=[Length(max=5)]
    )
    closes_at = StringField(
        "Closes at", description="24-hour clock, like 17:00.", validators=[Length(max=5)]
    )
    timezone = SelectField(
        "Time zone",
        choices=[SelectChoice(zone, zone_label(zone)) for zone in US_ZONES],
        validate_choice=False,
    )
    patient_note = TextAreaField(
        "A short note for patients",
        description="For example where to park. Up to 500 characters. No medical advice.",
        validators=[Length(max=500)],
    )


class MoveClinicForm(Form):
    clinic = SelectField(
        "Move to clinic",
        coerce=coerce_id,
        validate_choice=False,
        invalid_value_message="Choose a clinic from the list.",
    )
    reason = StringField(
        "Why does it move?",
        description="Kept in its history, for everyone who works on it.",
        validators=[
            DataRequired("Write why it moves to another clinic."),
            Length(max=500, message="Write up to 500 characters."),
        ],
    )
    version = HiddenField()


class PasswordChangeForm(Form):
    current = PasswordField(
        "Current password", validators=[DataRequired("Enter your current password.")]
    )
    new = PasswordField("New password", validators=[DataRequired("Enter a new password.")])


def _someone(value: object) -> int | None:
    """The activity report's person: an id, or None for "no one" (emergency access only)."""
    return None if value in ("", None) else coerce_id(value)


class ActivityForm(Form):
    """Admin report: emergency access in some days, and what one user touched in them."""

    class Meta:
        csrf = False  # a read-only GET report

    user = SelectField(
        "Staff member",
        coerce=_someone,
        validate_choice=False,
        invalid_value_message="Choose a staff member from the list.",
    )
    start = DayField("From (YYYY-MM-DD)", validators=[InputRequired("Enter the first day.")])
    end = DayField("To (YYYY-MM-DD, inclusive)", validators=[InputRequired("Enter the last day.")])

    def validate_end(self, field: DayField) -> None:
        if self.start.data and field.data and field.data < self.start.data:
            raise ValidationError("The last day must be on or after the first day.")


class ExportForm(Form):
    """Days on the clinic's calendar (the view fills in the last 30 days on GET)."""

    start = DayField("From", validators=[InputRequired("Enter the first day, like 2026-11-01.")])
    end = DayField(
        "To (inclusive)", validators=[InputRequired("Enter the last day, like 2026-11-30.")]
    )
    values = RadioField(
        "Values",
        choices=[
            SelectChoice("words", "Words, as staff pages show them (best for reading)"),
            SelectChoice("codes", "Codes, as stored (best for analysis)"),
        ],
        default="words",
    )

    def validate_end(self, field: DayField) -> None:
        if self.start.data and field.data and field.data < self.start.data:
            raise ValidationError("The last day must be on or after the first day.")


class EmergencyAccessForm(Form):
    reason = StringField(
        "Why do you need to see other clinics' submissions?",
        validators=[
            DataRequired("Write the reason. Administrators review every emergency access."),
            Length(min=10, max=500, message="Write 10 to 500 characters."),
        ],
    )
