"""The clinic is reachable: name, phone to tap, hours and address where a patient needs them."""

from __future__ import annotations

from datetime import time

from sqlalchemy import select

from screening import clinics, i18n
from screening.extensions import db
from screening.models import Clinic
from screening.staff import accounts


def _details(app, name: str, phone: str) -> None:
    with app.app_context():
        clinic = db.session.scalar(select(Clinic).where(Clinic.name == name))
        clinic = clinic or accounts.create_clinic(name)
        clinic.phone, clinic.address = phone, f"{name} Building\nSpringfield, IL"
        clinic.open_days, clinic.opens_at, clinic.closes_at = "01234", "08:30", "17:00"
        db.session.commit()


def test_the_clinic_choice_says_how_to_reach_each_clinic(app, patient):
    _details(app, "North Clinic", "(555) 010-4477")
    _details(app, "South Clinic", "555.010.9900")
    html = patient.get("/step/about-you").text
    assert '<a href="tel:+15550104477">(555) 010-4477</a>' in html
    assert '<a href="tel:+15550109900">555.010.9900</a>' in html
    assert html.count("Monday to Friday, 8:30") == 2
    assert "South Clinic Building" in html


def test_with_one_clinic_the_start_and_saved_pages_name_it(app, patient):
    _details(app, "North Clinic", "(555) 010-4477")
    start = patient.get("/").text
    assert "This form goes to: North Clinic" in start
    patient.get("/step/about-you")
    saved = patient.post("/step/about-you", {"action": "save"})
    html = patient.get(saved.headers["Location"]).text
    assert "Questions? Call your clinic: North Clinic" in html
    assert 'href="tel:+15550104477"' in html


def test_hours_and_numbers_in_words():
    assert clinics.tel_uri("(555) 010-4477") == "tel:+15550104477"
    assert clinics.tel_uri("1 555 010 4477") == "tel:+15550104477"
    assert clinics.tel_uri("+44 20 7946 0000") == "tel:+442079460000"
    assert clinics.tel_uri("ext. only") == ""


def test_hours_in_the_patients_language(app):
    hours = clinics.Hours(frozenset({0, 1, 2, 3, 4}), time(8), time(17), "America/Chicago")
    with app.test_request_context("/", headers={"Accept-Language": "en-US"}):
        assert clinics.hours_words(hours, "en") == "Monday to Friday, 8:00\u202fAM to 5:00\u202fPM"
    with app.test_request_context("/", headers={"Accept-Language": "es"}):
        assert clinics.hours_words(hours, "es") == "Lunes a viernes, de 8:00 a 17:00"
        weekend = clinics.Hours(frozenset({5, 6}), time(9), time(12), "America/Chicago")
        assert clinics.hours_words(weekend, "es") == "Sábado y domingo, de 9:00 a 12:00"


def test_911_becomes_a_link_and_the_text_stays_escaped(app):
    with app.test_request_context("/"):
        html = str(i18n.link_911("Call 911 <now> & 9110 or 1-911"))
    assert html == (
        'Call <a class="tel-911" href="tel:911">911</a> &lt;now&gt; &amp; 9110 or 1-911'
    )
