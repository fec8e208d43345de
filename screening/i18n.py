"""Languages: the patient pages in English and Spanish (Flask-Babel catalogues).

The English text is the message id everywhere: in templates (``_()`` and ``{% trans %}``),
in Python (``gettext``/``lazy_gettext``) and in the clinical data files, whose
patient-facing strings :func:`extract_toml` hands to ``pybabel extract``. The scorer stays
pure and English; the web layer translates its words when it shows them (``|t``).

The language is the patient's choice (the switch in the page header, kept in the signed
session cookie: a language is not patient data) or else the browser's Accept-Language.
Staff pages and the clinician summary stay English.
"""

from __future__ import annotations

import functools
import json
import re
import tomllib
from collections.abc import Iterator, Sequence
from datetime import date
from typing import Any

from babel import support
from babel.lists import format_list
from flask import Blueprint, Flask, current_app, request, session
from flask_babel import Babel, format_date, get_locale, gettext, refresh
from flask_wtf import FlaskForm
from markupsafe import Markup, escape
from wtforms.i18n import messages_path

from screening.scoring import questionnaire
from screening.scoring.questionnaire import Question

#: Language code -> its own name, as the switch shows it.
LANGUAGES = {"en": "English", "es": "Español"}
#: Language code -> its name for the clinic's (English) pages.
ENGLISH_NAMES = {"en": "English", "es": "Spanish"}
DEFAULT = "en"
SESSION_KEY = "lang"
#: Attribute of a blueprint whose pages stay English (:func:`english_only`).
ENGLISH_ONLY = "english_only"

babel = Babel()


def english_only(bp: Blueprint) -> Blueprint:
    """Declare that ``bp``'s pages stay English (the clinic's side), whatever the session
    or the browser asks for."""
    setattr(bp, ENGLISH_ONLY, True)
    return bp


def _english_only() -> bool:
    """Whether this request's blueprint (or one it is nested in) declared English only."""
    return any(
        getattr(current_app.blueprints.get(name), ENGLISH_ONLY, False) is True
        for name in request.blueprints
    )


def select_locale() -> str:
    """The language of this request: English where the blueprint declared it
    (:func:`english_only`), else the patient's choice, else the browser's."""
    if _english_only():
        return DEFAULT
    chosen = session.get(SESSION_KEY)
    if chosen in LANGUAGES:
        return chosen
    return request.accept_languages.best_match(LANGUAGES, default=DEFAULT)


def current() -> str:
    """The language code in use (``"en"`` outside a request)."""
    return str(get_locale() or DEFAULT)


def choose(language: str) -> bool:
    """Remember a patient's language choice; False if it is not offered."""
    if language not in LANGUAGES:
        return False
    session[SESSION_KEY] = language
    # Flask-Babel caches the locale per request; drop it so this request follows the choice.
    refresh()
    return True


def join_words(words: Sequence[str]) -> str:
    """ "a, b and c" in the current language ("a, b y c")."""
    return format_list(list(words), locale=current())


def long_date(day: date) -> str:
    """A date in words, US style in English: "June 15, 1980", "15 de junio de 1980".

    Shown as given: a datetime already in the clinic's time zone is not moved to another.
    """
    return format_date(day, "long", rebase=False)


EMERGENCY_NUMBER = re.compile(r"(?<![\d-])911(?![\d-])")


def link_911(text: str) -> Markup:
    """Patient text with every "911" a tap-to-call link (the text is escaped first)."""
    call = Markup('<a class="tel-911" href="tel:911">911</a>')
    return call.join(escape(part) for part in EMERGENCY_NUMBER.split(str(text)))


def N_(text: str) -> str:  # noqa: N802 (the name pybabel extract looks for)
    """Mark an English constant for the catalogue; it is translated where it is shown."""
    return text


def translate(text: str | None) -> str:
    """Translate one message id (data from the clinical files); keeps None as ""."""
    return gettext(text) if text else ""


def question_text(question: Question) -> str:
    """A question's wording in the current language.

    Questions asked once per treatment are translated from their template, so that
    "{treatment}: how did it work for you?" is one message for all of them.
    """
    if question.text_template and question.about and question.shown_when:
        # Expanded questions are shown when their treatment was ticked in the source question.
        source = questionnaire.QUESTIONS[question.shown_when["q"]]
        treatment = translate(source.label_for(question.about))
        return translate(question.text_template).format(treatment=treatment)
    return translate(question.text)


def init_app(app: Flask) -> None:
    babel.init_app(app, locale_selector=select_locale)
    app.add_template_filter(translate, "t")
    app.add_template_filter(question_text, "qtext")
    app.add_template_filter(long_date, "long_date")
    app.add_template_filter(link_911, "link_911")
    app.jinja_env.globals.update(
        languages=LANGUAGES, current_language=current, language_names=ENGLISH_NAMES
    )


# ------------------------------------------------------------------ extraction

#: Keys whose string values are shown to patients, in the clinical data files.
TEXT_KEYS = frozenset({"text", "label", "patient", "fallback", "for_later_heading", "hint"})
#: Tables whose every value is patient-facing text.
TEXT_TABLES = frozenset({"sections", "plain_words"})
#: Keys holding lists of [code, label] pairs, or of plain labels.
PAIR_LISTS = frozenset({"options"})
LABEL_LISTS = frozenset({"anchors"})

PEG_COMMENT = (
    "PEG: a validated instrument item (Krebs 2009). A Spanish version, the PEG-S, has been "
    "validated (PMC11580754); this draft must be replaced by its exact published wording "
    "after review by the clinic."
)


def toml_messages(data: Any, validated: bool = False) -> Iterator[tuple[str, str | None]]:
    """Yield (message, translator comment) for every patient-facing string in TOML data."""
    if isinstance(data, list):
        for item in data:
            yield from toml_messages(item, validated)
        return
    if not isinstance(data, dict):
        return
    validated = validated or bool(data.get("validated"))
    comment = PEG_COMMENT if validated else None
    for key, value in data.items():
        if key in TEXT_KEYS and isinstance(value, str):
            yield value, comment
        elif key in TEXT_TABLES and isinstance(value, dict):
            for text in value.values():
                yield text, None
        elif key in PAIR_LISTS and isinstance(value, list):
            for pair in value:
                yield pair[1], None
        elif key in LABEL_LISTS and isinstance(value, list):
            for label in value:
                yield label, comment
        elif key == "answer_sets":
            for pairs in value.values():
                for pair in pairs:
                    yield pair[1], None
        elif isinstance(value, dict | list):
            yield from toml_messages(value, validated)


def extract_toml(fileobj, keywords, comment_tags, options):  # noqa: ARG001 (Babel's signature)
    """Babel extractor for the clinical data files (``[screening.i18n.extract_toml: ...]``)."""
    raw = fileobj.read().decode("utf-8")
    lines = raw.splitlines()
    for message, comment in toml_messages(tomllib.loads(raw)):
        needle = json.dumps(message, ensure_ascii=False)[1:-1]
        lineno = next((n for n, line in enumerate(lines, 1) if needle in line), 1)
        yield lineno, "gettext", message, [comment] if comment else []


@functools.cache
def _wtforms_messages(language: str) -> support.NullTranslations:
    return support.Translations.load(messages_path(), [language], domain="wtforms")


class Form(FlaskForm):
    """The base of every form: FlaskForm, with WTForms' own messages (for example "Not a
    valid choice") in the page's language, read from their catalogue once per process
    per language. Flask-WTF reads and parses that file again on every request that builds
    a form, about 5% of a question page's CPU."""

    class Meta(FlaskForm.Meta):
        def get_translations(self, form: Any) -> Any:
            return _wtforms_messages(current())
