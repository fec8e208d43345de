"""The patient's result after submitting: stored, shown, printed and as a PDF."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
from sqlalchemy import select

from screening import create_app
from screening.extensions import db
from screening.models import Clinic, Submission
from screening.scoring import RulesetError, load_ruleset, loader, score
from tests.conftest import TEST_SECRET
from tests.factories import answers
from tests.patient_client import Patient, clinic_today

MUST_INCLUDE = [
    "This is a screening tool. It does not diagnose you or any condition.",
    "Only a clinician can decide if a trigger point injection is right for you, after talking "
    "with you and examining you. You make the choice together.",
    "If you think you have an emergency, call 911 (or your local emergency number) now. "
    "Do not use this form.",
    "Staff read forms during business hours. They may not see your answers right away. "
    "If you are worried, call your doctor or 911 — do not wait for us.",
    "Trigger point injections do not help everyone, and relief may not last.",
]
AFTER_SIGNS = "If you do get a shot: warning signs"
BLOOD_THINNER = "Do not stop your blood thinner or aspirin on your own."

VIGNETTES = {
    "V01": {},
    "V02": {"rf_saddle": "yes", "rf_bladder": "yes"},
    "V03": {
        "bt": ["bt_apixaban"],
        "allergy": ["alg_lidocaine"],
        "la_reaction": "breathing_swelling",
    },
    "V06": {
        "tx": ["tx_pt", "tx_otc", "tx_tpi"],
        "tpi_last": "m3_12",
        "tpi_sessions_12m": "s2",
        "tpi_relief": "lt_half",
        "tpi_problems": ["none"],
    },
}


def submit(app, patient, overrides):
    given = answers(**overrides)
    patient.complete(given, clinic_today(app))
    patient.get("/review")
    assert patient.post("/submit", {"consent": "y"}).status_code == 303
    with app.app_context():
        return db.session.scalar(select(Submission)), given


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace(" .", ".")


def _shows(outcome: str, rule_id: str) -> bool:
    """Which reasons each outcome lists (see templates/patient/_result.html)."""
    effect = load_ruleset().by_id[rule_id].effect.value
    if outcome == "SEEK_CARE":
        return effect in ("EMERGENCY", "PROMPT")
    if outcome == "NOT_A_FIT":
        return effect != "SUPPORT"
    return True


def pdf_pages(data: bytes, tmp_path) -> int:
    """Count pages with poppler's pdfinfo (installed by .ci/run; missing means failure)."""
    path = tmp_path / "result.pdf"
    path.write_bytes(data)
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True)
    return int(re.search(r"^Pages:\s+(\d+)", info.stdout, re.M).group(1))


@pytest.mark.parametrize("name", sorted(VIGNETTES))
def test_result_page_print_and_pdf_say_what_the_scorer_decided(app, patient, name, tmp_path):
    stored, given = submit(app, patient, VIGNETTES[name])
    expected = score(given)
    # Stored with the submission: the whole result and the rule set version.
    assert stored.result == expected.to_dict()
    assert stored.outcome == expected.outcome.value
    assert stored.ruleset_version == expected.ruleset_version == load_ruleset().version
    assert stored.questions == expected.to_dict()["questions"]

    for url in ("/done", "/done/print"):
        response = patient.get(url)
        page = text_of(response.get_data(as_text=True))
        assert response.status_code == 200
        assert expected.headline in page, url
        reasons = expected.to_dict()["patient_reasons"]
        for rule_id, reason in zip(expected.fired_rules, reasons, strict=True):
            shown = _shows(expected.outcome.value, rule_id)
            assert (text_of(reason) in page) == shown, (url, rule_id, shown)
        for question in expected.asked:
            assert text_of(question.text) in page, (url, question.id)
        for statement in MUST_INCLUDE:
            assert statement in page, (url, statement)
        assert stored.reference in page
        assert (AFTER_SIGNS in page) == (expected.outcome.value.startswith("DISCUSS")), url
        assert (BLOOD_THINNER in page) == (name == "V03"), url
        assert ("For later — after you have been checked" in page) == (name == "V02"), url

    pdf = patient.client.get("/done/result.pdf")
    assert pdf.status_code == 200
    assert pdf.mimetype == "application/pdf"
    assert pdf.headers["Content-Disposition"].startswith("attachment;")
    assert 1 <= pdf_pages(pdf.data, tmp_path) <= 2


def test_emergency_result_starts_with_call_911(app, patient):
    submit(app, patient, VIGNETTES["V02"])
    html = patient.get("/done").get_data(as_text=True)
    card = html.index('class="urgent-card"')
    assert card < html.index("<h1>")
    assert "Call 911 now" in text_of(html[card : card + 600])
    assert '<a class="button button--urgent" href="tel:911">Call 911</a>' in html
    # What to do now comes first; the clinic only after it, and never "what fits".
    assert html.index('href="tel:911"') < html.index('class="clinic-card"')
    assert "Why it may fit you" not in html
    assert "Clinic staff will read your answers and call you" not in html


def test_prompt_result_says_within_24_hours(app, patient):
    submit(app, patient, {"rf_weight": "yes"})
    html = patient.get("/done").get_data(as_text=True)
    assert "Get checked within 24 hours" in html
    assert "Please call your doctor or go to urgent care within 24 hours." in html


def test_result_reopens_from_the_patients_own_link(app, patient):
    """In the same browser at once; in another one after the date of birth (see
    tests/patient/test_resume_link.py for the attack this prevents)."""
    stored, _ = submit(app, patient, {})
    link = re.search(
        r'class="resume-link noprint"><a href="([^"]+)"',
        patient.get("/done").get_data(as_text=True),
    ).group(1)
    link = link.replace("http://localhost", "")
    assert patient.get(link).headers["Location"].endswith("/done")
    other = Patient(app.test_client())
    assert "Your result" not in other.get(link).get_data(as_text=True)
    year, month, day = stored.personal["dob"].split("-")
    opened = other.post(link, {"dob_month": month, "dob_day": day, "dob_year": year})
    assert opened.headers["Location"].endswith("/done")
    assert "Your result" in other.get("/done").get_data(as_text=True)


def test_result_pages_need_a_submission(client):
    for url in ("/done", "/done/print", "/done/result.pdf"):
        assert client.get(url).status_code == 303


def test_rescore_dry_run_lists_changed_outcomes_and_stores_nothing(app, patient, runner):
    stored, _ = submit(app, patient, {})
    with app.app_context():
        row = db.session.get(Submission, stored.id)
        row.outcome = "NOT_A_FIT"  # as if an older rule file had decided otherwise
        db.session.commit()
    result = runner.invoke(args=["rules", "rescore", "--dry-run"])
    assert f"{stored.reference}: NOT_A_FIT -> DISCUSS" in result.output
    assert "1 of 1 submission(s) would change" in result.output
    with app.app_context():
        assert db.session.get(Submission, stored.id).outcome == "NOT_A_FIT"
    result = runner.invoke(args=["rules", "rescore"])
    with app.app_context():
        assert db.session.get(Submission, stored.id).outcome == "DISCUSS"
    assert "0 of 1" in runner.invoke(args=["rules", "rescore", "--dry-run"]).output


def test_rules_check_passes_on_the_packaged_rules(runner):
    result = runner.invoke(args=["rules", "check"])
    assert result.exit_code == 0
    assert "no problems found" in result.output


@pytest.fixture()
def broken_rules(tmp_path, monkeypatch):
    broken = tmp_path / "rules.toml"
    shutil.copy(loader.RULES_FILE, broken)
    broken.write_text(
        broken.read_text().replace('id = "C06_ANTICOAGULANT"', 'id = "C05_STEROID_ALLERGY"')
    )
    monkeypatch.setattr(loader, "RULES_FILE", broken)
    loader._load_default.cache_clear()
    yield
    loader._load_default.cache_clear()


def test_a_broken_rule_file_stops_start_up(broken_rules, tmp_path):
    with pytest.raises(RulesetError, match="C05_STEROID_ALLERGY"):
        create_app(
            {
                "TESTING": True,
                "SECRET_KEY": TEST_SECRET,
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db",
            }
        )


def test_rules_check_reports_a_broken_rule_file(app, broken_rules):
    result = app.test_cli_runner().invoke(args=["rules", "check"])
    assert result.exit_code == 1
    assert "C05_STEROID_ALLERGY" in result.output


def _headings(html: str) -> list[str]:
    return [text_of(h).strip() for h in re.findall(r"<h[12][^>]*>(.*?)</h[12]>", html, re.S)]


def test_discuss_explains_with_what_fits_and_puts_the_lung_note_after_it(app, patient):
    submit(app, patient, {"regions": ["chest_l"], "primary_region": "chest_l"})
    html = patient.get("/done").get_data(as_text=True)
    headings = _headings(html)
    assert "Why we say this" not in headings  # a precaution is not the reason
    assert headings.index("Why it may fit you") < headings.index("Safety notes for your visit")
    fits, notes = html.index('class="list fits"'), html.index('class="list precautions"')
    lung = load_ruleset().by_id["P09_LUNG_REGION"].patient_reason
    assert notes < html.index(lung) and fits < notes


def test_concerns_come_first_when_the_headline_points_to_them(app, patient):
    submit(app, patient, VIGNETTES["V03"])
    headings = _headings(patient.get("/done").get_data(as_text=True))
    assert headings.index("Concerns to bring up first") < headings.index("Why it may fit you")


@pytest.mark.parametrize("name", ["V02", "V06"])
def test_seek_care_and_not_a_fit_do_not_list_what_fits(app, patient, name):
    submit(app, patient, VIGNETTES[name])
    html = patient.get("/done").get_data(as_text=True)
    assert "Why it may fit you" not in _headings(html)
    assert 'class="list fits"' not in html


def test_the_result_names_the_clinic_with_a_phone_to_tap(app, patient):
    with app.app_context():
        clinic = db.session.scalar(select(Clinic))
        clinic.phone, clinic.address = "(555) 010-4477", "200 Main Street"
        db.session.commit()
    submit(app, patient, {})
    for url in ("/done", "/done/print"):
        html = patient.get(url).get_data(as_text=True)
        card = html[html.index('class="clinic-card"') :]
        assert "North Clinic" in card[:400]
        assert '<a href="tel:+15550104477">(555) 010-4477</a>' in card
        assert "Monday to Friday, 8:00" in text_of(card)
        assert "200 Main Street" in card
