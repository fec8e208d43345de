"""Spanish: every patient-facing message is translated, with its placeholders, and served.

The message list comes from the sources (tests/catalogue.py), so a new English string
without a Spanish translation fails here, not in front of a patient.
"""

from __future__ import annotations

import re

import pytest

from screening import i18n
from screening.scoring import questionnaire
from tests.catalogue import compiled, english, placeholders, translations

pytestmark = pytest.mark.database_free  # nothing here reads a database

LANGUAGES = [code for code in i18n.LANGUAGES if code != i18n.DEFAULT]


def test_the_sources_give_the_whole_patient_text():
    messages = english()
    # Every question, answer label and rule reason of the clinical data is in the catalogue.
    for question in questionnaire.QUESTIONS.values():
        assert (question.text_template or question.text) in messages
        for option in question.options:
            assert option.label in messages
    assert "Select yes or no." in messages  # Python
    assert "Check your answers before sending" in messages  # templates
    # Clinician notes are for staff and stay English.
    assert not any("cauda equina" in text for text in messages)


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_message_has_a_translation(language):
    done = translations(language)
    missing = [f"{m.places[0]}: {text}" for text, m in english().items() if text not in done]
    assert not missing, f"{len(missing)} messages lack a {language} translation:\n" + "\n".join(
        missing
    )


@pytest.mark.parametrize("language", LANGUAGES)
def test_translations_keep_every_placeholder(language):
    wrong = {
        text: done
        for text, done in translations(language).items()
        if placeholders(text) != placeholders(done)
    }
    assert not wrong


@pytest.mark.parametrize("language", LANGUAGES)
def test_percent_signs_survive_formatting(language):
    # Templates %-format every message (Jinja's newstyle gettext): a lone "%" would break.
    for text, done in translations(language).items():
        if "%(" in text or "%%" in text:
            stripped = re.sub(r"%\(\w+\)[sd]|%%", "", done)
            assert "%" not in stripped, done


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_compiled_catalogue_matches_the_source(language):
    # The app reads the .mo that `make` compiles: a stale one would serve old wording.
    assert compiled(language) == translations(language)


def test_the_peg_items_are_flagged_for_review():
    # Validated items keep their published English wording; their Spanish wording is
    # marked for clinical review in the catalogue (see the README).
    validated = {text for text, m in english().items() if m.validated}
    assert {q.text for q in questionnaire.QUESTIONS.values() if q.validated} <= validated


@pytest.mark.parametrize(
    ("language", "message"), [("en", "Not a valid choice."), ("es", "Opción inválida.")]
)
def test_wtforms_own_messages_follow_the_page_language(app, language, message):
    """WTForms' built-in messages come in the page's language, from a catalogue read once
    per process per language (not once per request, as Flask-WTF does)."""
    from wtforms import SelectChoice, SelectField

    class Choice(i18n.Form):
        class Meta:
            csrf = False

        pick = SelectField(choices=[SelectChoice("a", "A")])

    seen = []
    for _ in range(2):
        with app.test_request_context("/", method="POST", data={"pick": "z"}):
            i18n.choose(language)
            form = Choice()
            assert not form.validate()
            assert form.pick.errors == [message]
            seen.append(form.meta.get_translations(form))
    assert seen[0] is seen[1] is i18n._wtforms_messages(language)  # the catalogue, kept
