"""Spanish through the test client: choosing the language, keeping answers, the result.

The expected Spanish comes from the catalogue (tests/catalogue.py), so these tests check
that the app serves the translation, whatever its wording.
"""

from __future__ import annotations

import re
import subprocess
from zoneinfo import ZoneInfo

from babel.dates import get_month_names
from sqlalchemy import func, select

from screening.extensions import db
from screening.models import Draft, Submission
from screening.summaries import build_summary
from tests.catalogue import translations
from tests.factories import answers
from tests.patient_client import Patient, clinic_today
from tests.staff.helpers import StaffClient, make_staff
from tests.test_results import text_of

SPANISH_BROWSER = {"Accept-Language": "es-MX,es;q=0.9,en;q=0.5"}


def es(text: str) -> str:
    """The Spanish of an English message, as the page shows it (HTML-escaped)."""
    return (
        translations("es")[text]
        .replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&#34;")
        .replace("'", "&#39;")
    )


def html_lang(response) -> str:
    return re.search(r'<html lang="([a-z]+)"', response.get_data(as_text=True)).group(1)


def choose(patient: Patient, language: str, next_url: str = "/") -> None:
    patient.get(next_url)
    response = patient.post("/language", {"lang": language, "next": next_url})
    assert response.status_code == 303
    assert response.headers["Location"].endswith(next_url)


def test_a_spanish_browser_gets_spanish_pages(client):
    page = client.get("/", headers=SPANISH_BROWSER)
    assert html_lang(page) == "es"
    assert es("Muscle pain check") in page.get_data(as_text=True)
    # The switch offers English, marked as English for screen readers.
    assert 'lang="en">English</button>' in page.get_data(as_text=True)


def test_an_english_or_unknown_browser_gets_english(client):
    for header in ({}, {"Accept-Language": "fr-FR,fr;q=0.9"}, {"Accept-Language": "en-US"}):
        page = client.get("/", headers=header)
        assert html_lang(page) == "en"
        assert 'lang="es">Español</button>' in page.get_data(as_text=True)


def test_the_choice_beats_the_browser_and_lasts(patient):
    choose(patient, "en", "/")
    page = patient.get("/step/about-you", headers=SPANISH_BROWSER)
    assert html_lang(page) == "en"
    choose(patient, "es", "/step/about-you")
    page = patient.get("/step/about-you")
    assert html_lang(page) == "es"
    assert es("About you") in page.get_data(as_text=True)


def test_switching_on_a_page_keeps_what_was_typed(app, patient):
    today = clinic_today(app)
    given = answers()
    patient.complete({**given}, today)  # every page saved once, in English
    # On "How long": change one answer, leave another blank, then switch language.
    patient.get("/step/how-long")
    response = patient.post(
        "/step/how-long", {"dur": "gt_1y", "onset": "", "trend": "same", "action": "lang-es"}
    )
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/step/how-long")
    page = patient.get("/step/how-long").get_data(as_text=True)
    assert '<html lang="es"' in page
    assert re.search(r'value="gt_1y"\s+checked', page)
    # The blank was not a reason to lose the answer saved before.
    assert re.search(rf'value="{given["onset"]}"\s+checked', page)
    with app.app_context():
        draft = db.session.scalar(select(Draft))
        assert draft.answers["dur"] == "gt_1y"
        assert draft.answers["onset"] == given["onset"]


def test_switching_with_a_half_typed_date_shows_it_as_typed(app, patient):
    patient.get("/step/about-you")
    typed = {"dob_day": "27", "dob_month": "3", "dob_year": "19", "preg": "no"}
    response = patient.post("/step/about-you", {**typed, "action": "lang-es"})
    # Not a reload that would drop the unfinished year: the page again, in Spanish.
    assert response.status_code == 200
    assert html_lang(response) == "es"
    page = response.get_data(as_text=True)
    for name, value in typed.items():
        pattern = rf'name="{name}"[^>]*value="{value}"' if name.startswith("dob") else None
        assert re.search(pattern or rf'value="{value}"\s+checked', page), name
    assert es("There is a problem") not in page  # a language, not a check, was asked for
    with app.app_context():
        assert db.session.scalar(select(Draft)).answers["preg"] == "no"  # the valid one is saved


def test_switching_on_an_empty_first_page_starts_no_draft(app, patient):
    patient.get("/step/about-you")
    response = patient.post("/step/about-you", {"action": "lang-es"})
    assert response.status_code == 303
    assert html_lang(patient.get("/step/about-you")) == "es"
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Draft)) == 0


def test_an_unknown_language_is_refused(patient):
    patient.get("/")
    assert patient.post("/language", {"lang": "xx", "next": "/"}).status_code == 400
    patient.get("/step/about-you")
    assert patient.post("/step/about-you", {"action": "lang-xx"}).status_code == 400


def test_the_switch_only_returns_to_this_site(patient):
    patient.get("/")
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example", "", "step"):
        response = patient.post("/language", {"lang": "es", "next": target})
        assert response.status_code == 303
        assert response.headers["Location"] in ("/", "http://localhost/"), target


def test_errors_are_in_spanish(patient):
    choose(patient, "es", "/step/about-you")
    page = patient.post("/step/about-you", {"action": "continue"}).get_data(as_text=True)
    assert es("Enter your date of birth.") in page
    assert es("Error:") in page


def test_error_pages_are_in_spanish(client):
    page = client.get("/no-such-page", headers=SPANISH_BROWSER)
    assert page.status_code == 404
    assert html_lang(page) == "es"
    assert es("Page not found") in page.get_data(as_text=True)


def test_staff_pages_stay_english(app):
    page = app.test_client().get("/staff/login", headers=SPANISH_BROWSER)
    assert html_lang(page) == "en"
    assert "Sign in" in page.get_data(as_text=True)


def _submit_in_spanish(app, patient, **overrides):
    choose(patient, "es", "/")
    given = answers(**overrides)
    patient.complete(given, clinic_today(app))
    patient.get("/review")
    assert patient.post("/submit", {"consent": "y"}).status_code == 303
    with app.app_context():
        return db.session.scalar(select(Submission))


def test_a_spanish_result_page_print_and_pdf(app, patient, tmp_path):
    stored = _submit_in_spanish(
        app, patient, bt=["bt_warfarin", "bt_apixaban"], allergy=["alg_latex"]
    )
    assert stored.language == "es"
    page = text_of(patient.get("/done").get_data(as_text=True))
    spanish = translations("es")
    assert spanish[stored.result["patient_reasons"][0]] in page
    # A question with a placeholder is filled with Spanish words, joined the Spanish way.
    warfarin = spanish["Warfarin (Coumadin, Jantoven)"]
    apixaban = spanish["Apixaban (Eliquis)"]
    joined = f"{warfarin[0].lower()}{warfarin[1:]} y {apixaban[0].lower()}{apixaban[1:]}"
    assert joined in page, page
    # The PDF says the same, in Spanish.
    pdf = patient.get("/done/result.pdf")
    assert pdf.mimetype == "application/pdf"
    path = tmp_path / "result.pdf"
    path.write_bytes(pdf.data)
    words = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout
    flat = re.sub(r"\s+", " ", words)
    assert spanish["Questions to bring to your appointment"] in flat
    assert spanish[stored.result["patient_reasons"][0]][:40] in flat


def test_the_clinic_sees_the_patients_language_in_english(app, patient):
    stored = _submit_in_spanish(app, patient)
    with app.app_context():
        summary = build_summary(db.session.get(Submission, stored.id))
    assert summary.language == "Spanish"
    account = make_staff(app, "boss", "admin")
    staff = StaffClient(app.test_client())
    staff.sign_in(account)
    page = staff.get(f"/staff/submissions/{stored.public_id}", headers=SPANISH_BROWSER)
    assert html_lang(page) == "en"
    assert "Spanish" in page.get_data(as_text=True)


def test_dates_are_written_the_spanish_way(app, patient):
    choose(patient, "es", "/")
    patient.complete(answers(), clinic_today(app))
    review = text_of(patient.get("/review").get_data(as_text=True))
    # The date of birth, in words.
    assert re.search(r"\b\d{1,2} de [a-z]+ de \d{4}\b", review), review
    with app.app_context():
        draft = db.session.scalar(select(Draft))
        draft_id = draft.id
    patient.get("/step/contact")
    saved = patient.post("/step/contact", {"action": "save"})
    assert saved.status_code == 303
    page = text_of(patient.get(saved.headers["Location"]).get_data(as_text=True))
    with app.app_context():
        expires = db.session.get(Draft, draft_id).expires_at
    # Shown on the clinic's calendar, as the page does.
    expires = expires.astimezone(ZoneInfo(app.config["CLINIC_TIMEZONE"]))
    month = get_month_names("wide", locale="es")[expires.month]  # "diciembre"
    assert f"{expires.day} de {month} de {expires.year}" in page, page
