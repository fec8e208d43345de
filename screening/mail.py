"""Email to patients: "send yourself the link" (a saved form) and the reference code.

Plain SMTP with the standard library (``smtplib`` and ``email.message.EmailMessage``):
every network step has a timeout (``MAIL_TIMEOUT``, 10 s), STARTTLS and implicit TLS
verify the server's certificate, and nothing is sent while the app is under test unless
a test points ``MAIL_SERVER`` at its own server. Settings keep Flask-Mail's names.

What a message may hold (no health information in an email, which passes through servers
and inboxes the clinic does not control): the resume link or the link back to the result
page, the short code, a date, the clinic's name and phone number. Never an answer, the
outcome, result wording, or the name of a condition or a treatment; the subject and body
stay neutral ("Your saved form"), and the service name is left out on purpose because it
names the topic.

The functions here take explicit arguments and never read the request, so they can be
tested alone; the words are translated with the current language (Flask-Babel).
"""

from __future__ import annotations

import logging
import re
import smtplib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

from flask_babel import gettext as _

from screening.config import DefaultConfig

log = logging.getLogger(__name__)

#: Flash category of "we sent it" (its message is the masked address, never the address).
SENT_FLASH = "email-sent"

#: The longest address SMTP carries (RFC 5321 path limit less the brackets).
MAX_ADDRESS_LENGTH = 254

# The HTML form's own rule for type=email (WHATWG), plus a dot in the domain: one
# address, ASCII only, nothing a mail header could read as a second recipient.
_LOCAL = r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
ADDRESS_RE = re.compile(rf"{_LOCAL}@{_LABEL}(?:\.{_LABEL})+")

#: What a failed send can raise: refused or dropped connections, timeouts and TLS
#: errors are OSError; the server's refusals are SMTPException.
SEND_ERRORS = (smtplib.SMTPException, OSError, ValueError)


class SendFailed(RuntimeError):
    """The message could not be handed to the mail server (the reason is logged)."""


@dataclass(frozen=True)
class Settings:
    """How to reach the mail server (``MAIL_*`` settings, as in Flask-Mail)."""

    server: str
    port: int
    sender: str
    use_tls: bool = True
    use_ssl: bool = False
    username: str | None = None
    password: str | None = None
    timeout: float = 10.0

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Settings | None:
        """Return the settings, or None when sending is not set up (no server or sender)."""
        server = config.get("MAIL_SERVER")
        sender = config.get("MAIL_DEFAULT_SENDER")
        if not server or not sender:
            return None
        username = config.get("MAIL_USERNAME")
        password = config.get("MAIL_PASSWORD")
        return cls(
            server=str(server),
            port=int(config.get("MAIL_PORT") or (465 if config.get("MAIL_USE_SSL") else 587)),
            sender=str(sender),
            use_tls=bool(config.get("MAIL_USE_TLS")),
            use_ssl=bool(config.get("MAIL_USE_SSL")),
            username=str(username) if username else None,
            password=None if password is None else str(password),
            timeout=float(config.get("MAIL_TIMEOUT") or DefaultConfig.MAIL_TIMEOUT),
        )


def available(config: Mapping[str, Any]) -> bool:
    """Whether patients are offered email (a server and a sender address are set)."""
    return Settings.from_config(config) is not None


# ------------------------------------------------------------------ addresses


def clean_address(raw: str | None) -> str:
    return (raw or "").strip()


def address_problem(address: str) -> str | None:
    """Return a message a patient can act on, or None when ``address`` can be used."""
    if not address:
        return _("Enter your email address.")
    if len(address) > MAX_ADDRESS_LENGTH or not ADDRESS_RE.fullmatch(address):
        return _("Enter a full email address (like name@example.com).")
    return None


def mask(address: str) -> str:
    """ "nora@example.com" -> "n***@example.com": enough to spot a typo, no more."""
    local, _at, domain = address.rpartition("@")
    return f"{local[:1]}***@{domain}"


# ------------------------------------------------------------------ messages


def _message(to: str, sender: str, subject: str, paragraphs: list[str], language: str):
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = sender
    message["To"] = Address(addr_spec=to)
    message["Date"] = formatdate(localtime=False)
    domain = sender.rpartition("@")[2].strip(" >") or None
    message["Message-ID"] = make_msgid(domain=domain)
    # Sent because the person asked for it, but no one should answer it automatically.
    message["Auto-Submitted"] = "auto-generated"
    message.set_content("\n\n".join(paragraphs) + "\n")
    message["Content-Language"] = language  # after set_content, which clears Content-*
    return message


def _closing() -> list[str]:
    return [
        _(
            "Do not share this email. "
            "Anyone with the link who knows your date of birth can see your answers."
        ),
        _("If you did not ask for this email, you can delete it."),
    ]


def saved_form_message(
    *,
    to: str,
    sender: str,
    link: str,
    code: str,
    expires: str,
    resume_url: str,
    clinic_name: str | None,
    language: str,
) -> EmailMessage:
    """The "send yourself the link" email of a saved, unfinished form.

    :param expires: the last day the form is kept, already in words.
    :param resume_url: the page where the code and date of birth are entered.
    """
    if clinic_name:
        subject = _("Your saved form at %(clinic)s", clinic=clinic_name)
        opening = _("You saved a form at %(clinic)s. Here is how to go on.", clinic=clinic_name)
    else:
        subject = _("Your saved form")
        opening = _("You saved a form. Here is how to go on.")
    paragraphs = [
        opening,
        _("To go on with your form, open this link:") + "\n" + link,
        _("Or go to this page and enter your code and your date of birth:")
        + "\n"
        + resume_url
        + "\n"
        + _("Your code is %(code)s", code=code),
        _("Your answers are kept until %(date)s. After that they are deleted.", date=expires),
        *_closing(),
    ]
    return _message(to, sender, subject, paragraphs, language)


def reference_message(
    *,
    to: str,
    sender: str,
    reference: str,
    link: str,
    expires: str,
    clinic_name: str | None,
    clinic_phone: str | None,
    language: str,
) -> EmailMessage:
    """The reference code of a sent form, the link back to its page and how to call."""
    if clinic_name:
        subject = _("Your reference code from %(clinic)s", clinic=clinic_name)
        opening = _("You sent a form to %(clinic)s.", clinic=clinic_name)
    else:
        subject = _("Your reference code")
        opening = _("You sent a form.")
    paragraphs = [
        opening + " " + _("Your reference code is %(code)s", code=reference),
    ]
    if clinic_phone:
        paragraphs.append(
            _(
                "To talk to the clinic, call %(phone)s. Give them your reference code.",
                phone=clinic_phone,
            )
        )
    else:
        paragraphs.append(_("Give your reference code when you talk to the clinic."))
    paragraphs += [
        _("To see your page again, open this link until %(date)s:", date=expires) + "\n" + link,
        *_closing(),
    ]
    return _message(to, sender, subject, paragraphs, language)


# ------------------------------------------------------------------ sending


def send(message: EmailMessage, settings: Settings) -> None:
    """Hand ``message`` to the mail server, or raise :class:`SendFailed`.

    One connection per message, ``settings.timeout`` seconds for each network step. Only
    the kind of failure is logged: an SMTP error's text can hold the address.
    """
    context = ssl.create_default_context()
    smtp: smtplib.SMTP | None = None
    try:
        if settings.use_ssl:
            smtp = smtplib.SMTP_SSL(
                settings.server, settings.port, timeout=settings.timeout, context=context
            )
        else:
            smtp = smtplib.SMTP(settings.server, settings.port, timeout=settings.timeout)
            if settings.use_tls:
                smtp.starttls(context=context)
        if settings.username:
            smtp.login(settings.username, settings.password or "")
        smtp.send_message(message)
    except SEND_ERRORS as error:
        log.warning("Could not send an email: %s", type(error).__name__)
        raise SendFailed(type(error).__name__) from None
    finally:
        if smtp is not None:
            try:
                smtp.quit()
            except SEND_ERRORS:
                smtp.close()
