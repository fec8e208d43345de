"""“Email me the link”: the saved page and the result page send their link by email.

Two POST views on the patient blueprint (Post/Redirect/Get, CSRF as every post):

- ``/saved/email``: the resume link, the resume code and the day the form is deleted;
- ``/done/email``: the reference code, the link back to the result page and the clinic's
  phone number.

Messages carry no health data (see :mod:`screening.mail`). The address is used for this
one message: it is not stored, logged or put in a URL; the page after the redirect shows
it masked (``n***@example.com``, a flash message in the signed session cookie until that
page is shown). Whatever goes wrong (no mail server, a limit, the server refusing or not
answering within ``MAIL_TIMEOUT``), the page says so and shows the code to write down.

Limits (:func:`screening.ratelimit.hit_send_limits`): ``RATELIMIT_SEND`` per client
address and ``RATELIMIT_SEND_DRAFT`` per form; over one, the page (status 429) with the
code.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from email.message import EmailMessage
from typing import Any

from flask import current_app, flash, make_response, request, url_for
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from wtforms import EmailField

from screening import i18n, mail, ratelimit
from screening.extensions import db
from screening.i18n import Form
from screening.models import Draft
from screening.patient.views import (
    _submitted,
    bp,
    clinic_of,
    csrf_expired,
    current_draft,
    kept_until,
    render_done,
    render_saved,
    see_other,
    session_link,
)

log = logging.getLogger(__name__)

#: The endpoints of this module (public, as every patient page: screening/public.py).
ENDPOINTS = frozenset({"patient.email_saved_link", "patient.email_reference"})


class SendForm(Form):
    """The address; checked by :func:`screening.mail.address_problem`."""

    email = EmailField()


def _write_it_down(code: str) -> str:
    return _("Here is your code: %(code)s. Write it down.", code=code)


def _send(
    draft: Draft,
    code: str,
    build: Callable[[str, str], EmailMessage],
    render: Callable[..., str],
    back_to: str,
    what: str,
) -> Any:
    """Check the address, count the email, send it and answer with the page.

    :param build: (address, sender) -> the message, made from the draft's current values.
    :param render: the page, given the email form's state.
    :param back_to: the page's endpoint, after sending (Post/Redirect/Get).
    :param what: what was sent, for the log (never the address, the token or the code).
    """
    settings = mail.Settings.from_config(current_app.config)
    if settings is None:
        problem = _("We cannot send email from this site.") + " " + _write_it_down(code)
        return render(send_problem=problem)
    form = SendForm()
    address = mail.clean_address(form.email.data)
    if problem := mail.address_problem(address):
        return render(email=address[: mail.MAX_ADDRESS_LENGTH], errors={"email": problem})
    message = build(address, settings.sender)
    key = draft.key
    # End the request's read transaction before counting and sending: on SQLite it holds
    # the write lock (BEGIN IMMEDIATE), and no one should wait on a mail server for it.
    db.session.commit()
    if (wait := ratelimit.hit_send_limits(key)) is not None:
        problem = _("You asked for too many emails. Please try again later.")
        response = make_response(
            render(email=address, send_problem=f"{problem} {_write_it_down(code)}"), 429
        )
        response.headers["Retry-After"] = str(wait)
        return response
    try:
        mail.send(message, settings)
    except mail.SendFailed:
        problem = _("We could not send the email.") + " " + _write_it_down(code)
        return render(email=address, send_problem=problem)
    log.info("Emailed %s at the patient's request", what)
    flash(mail.mask(address), mail.SENT_FLASH)
    return see_other(back_to)


@bp.post("/saved/email")
def email_saved_link() -> Any:
    """Email the resume link and code of this browser's saved form."""
    draft = current_draft()
    if draft is None:
        return see_other("patient.start")
    if draft.submission_id is not None:
        return see_other("patient.done")

    def build(address: str, sender: str) -> EmailMessage:
        clinic = clinic_of(draft)
        return mail.saved_form_message(
            to=address,
            sender=sender,
            link=session_link(),
            code=draft.resume_code,
            expires=i18n.long_date(kept_until(draft)),
            resume_url=url_for("patient.resume", _external=True),
            clinic_name=clinic.name if clinic else None,
            language=i18n.current(),
        )

    def render(**extra: Any) -> str:
        return render_saved(draft, **extra)

    return _send(draft, draft.resume_code, build, render, "patient.saved", "a resume link")


@bp.post("/done/email")
def email_reference() -> Any:
    """Email the reference code of this browser's sent form and the link to its page."""
    found = _submitted()
    if found is None:
        return see_other("patient.start")
    draft, submission = found

    def build(address: str, sender: str) -> EmailMessage:
        clinic = submission.clinic
        return mail.reference_message(
            to=address,
            sender=sender,
            reference=submission.reference,
            link=session_link(),
            expires=i18n.long_date(kept_until(draft)),
            clinic_name=clinic.name if clinic else None,
            clinic_phone=(clinic.phone or None) if clinic else None,
            language=i18n.current(),
        )

    def render(**extra: Any) -> str:
        return render_done(draft, submission, **extra)

    return _send(draft, submission.reference, build, render, "patient.done", "a reference code")


def csrf_failed(error: CSRFError) -> Any:
    """An expired or missing token on an email form: the page again, nothing sent.

    The address typed is kept, with a fresh token; other posts go to the usual handler.
    """
    if request.endpoint not in ENDPOINTS:
        return csrf_expired(error)
    address = mail.clean_address(request.form.get("email"))[: mail.MAX_ADDRESS_LENGTH]
    problem = _(
        "This page was open for a long time, so we could not send the email yet. "
        "Check your email address and press the button again."
    )
    if request.endpoint == "patient.email_saved_link":
        draft = current_draft()
        if draft is not None and draft.submission_id is None:
            return render_saved(draft, email=address, send_problem=problem), 400
    else:
        found = _submitted()
        if found is not None:
            return render_done(*found, email=address, send_problem=problem), 400
    return csrf_expired(error)


# Every patient post whose CSRF token failed (also in the app's before_request hooks, once
# the address matched a patient page) is answered here; the app's fallback is
# screening.errors.handle_csrf.
bp.register_error_handler(CSRFError, csrf_failed)
