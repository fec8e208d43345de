"""The clinician's one-page summary: built from a submission, printed and as a PDF.

Every acceptance vignette V01-V27 (``tests/scoring/cases/vignettes.toml``) is rendered to
a PDF and must fit on exactly one US Letter page (some on A4 too), with its sections.
"""

from __future__ import annotations

import re
import subprocess
import tomllib
from datetime import UTC, datetime
from html import unescape
from pathlib import Path

import pytest
from flask import render_template

from screening import create_app
from screening.models import Submission
from screening.pdf import render_document, render_pdf
from screening.scoring import load_ruleset, questionnaire, score
from screening.submissions import apply_result
from screening.summaries import NOT_ANSWERED, STYLESHEETS, build_summary
from tests.conftest import TEST_SECRET
from tests.factories import answers
from tests.worst_cases import common_heavy_case, typical

pytestmark = pytest.mark.database_free

CASES = tomllib.loads(
    (Path(__file__).parent / "scoring" / "cases" / "vignettes.toml").read_text(encoding="utf-8")
)
#: V01-V27: the scored vignettes (V28 and V29 are refused by the scorer).
VIGNETTES = {
    case["name"][:3]: case for case in CASES["vignette"] if "expect" in case and "error" not in case
}
assert sorted(VIGNETTES) == [f"V{n:02d}" for n in range(1, 28)]


@pytest.fixture(scope="module")
def app():
    """One app for the module: summaries need templates and static files, not a database."""
    return create_app(
        {
            "TESTING": True,
            "SECRET_KEY": TEST_SECRET,
            "SQLALCHEMY_DATABASE_URI": "sqlite://",
            "SERVER_NAME": "localhost",
        }
    )


def limit(qid: str) -> int:
    return questionnaire.QUESTIONS[qid].max_length


def filled(text: str, qid: str) -> str:
    """Repeat ``text`` up to the field's maximum length (a worst case for the layout)."""
    size = limit(qid)
    return (text * (size // len(text) + 1))[:size].rstrip()


#: Free text at the field limits: every text field the vignette shows, filled.
LONG_TEXT = {
    "other_location": filled(
        "Also the left side of the neck when I look down for long. ", "other_location"
    ),
    "goals": filled(
        "I want to lift my grandson again and sit through a full work day without having to "
        "lie down at lunch. I would like to sleep through the night. ",
        "goals",
    ),
    "questions_free": filled(
        "Is it safe with my heart medicine? How long does it take? Will it hurt more the next "
        "day? Can my daughter drive me? ",
        "questions_free",
    ),
    "med_list": filled(
        "Metoprolol 25 mg twice a day\nAtorvastatin 40 mg at night\nLevothyroxine 75 mcg\n"
        "Vitamin D 2000 units\nOmeprazole 20 mg\nCetirizine 10 mg as needed\n",
        "med_list",
    ),
    "other_conditions": filled(
        "High blood pressure, under control. Thyroid on medicine. Reflux. Knee surgery 2015. ",
        "other_conditions",
    ),
}
LONG_TRIGGERS = {
    "triggers": ["trig_posture", "trig_stress", "trig_other"],
    "triggers_other": filled(
        "Carrying the laundry basket up the stairs every day. ", "triggers_other"
    ),
}
#: Vignettes that get every long free-text field (and some more) to stress the page.
LONG = {"V03", "V06", "V09", "V15", "V20", "V22"}

PEOPLE = [
    ("Maria Elena Gutierrez-Fernandez", "1979-03-14", "(617) 555-0142", "afternoon"),
    ("John Smith", "1960-11-02", "555 123 4567", "morning"),
    ("Aisha Rahman", "1995-07-30", "+1 212 555 0199", "evening"),
    ("Bartholomew Fitzgerald-Worthington", "1952-01-09", "555 987 6543", "any_time"),
]


def vignette_answers(name: str) -> dict:
    case = VIGNETTES[name]
    overrides = dict(case.get("set", {}))
    for qid in case.get("unset", []):
        overrides[qid] = None
    if name in LONG:
        overrides.update(LONG_TEXT)
        if name != "V15":  # V15's only trigger is trig_none, which stands alone.
            overrides.update(LONG_TRIGGERS)
        if name == "V03":
            overrides["allergy"] = ["alg_lidocaine", "alg_latex", "alg_other"]
            overrides["allergy_other"] = filled(
                "Penicillin gives me a rash all over. ", "allergy_other"
            )
            overrides["bt"] = ["bt_apixaban", "bt_other"]
            overrides["bt_other_text"] = filled(
                "Something starting with an X, I forget. ", "bt_other_text"
            )
        if name in ("V06", "V20"):
            overrides["tpi_problems"] = ["bruising", "other"]
            overrides["tpi_problems_other"] = filled(
                "Felt dizzy in the car park. ", "tpi_problems_other"
            )
    return answers(**overrides)


def make_submission(name: str, long: bool | None = None) -> Submission:
    """Build (not save) a scored submission for a vignette, as ``submissions.submit`` does."""
    given = vignette_answers(name)
    number = int(name[1:])
    full_name, dob, phone, best = PEOPLE[number % len(PEOPLE)]
    personal = {"dob": dob, "full_name": full_name, "phone": phone, "best_time": best}
    if number % 3:
        personal["email"] = f"patient{number}@example.com"
    submission = Submission(
        reference=f"K7Q-M4T-{number:03d}",
        submit_key=f"key-{name}",
        answers=given,
        personal=personal,
        language="en",
        questionnaire_version=questionnaire.VERSION,
        started_at=datetime(2025, 3, 1, 14, 0, tzinfo=UTC),
        submitted_at=datetime(2025, 3, 1, 14, 30, tzinfo=UTC),
    )
    apply_result(submission, score(given))
    return submission


def html_for(app, submissions, paper="letter", pdf=True) -> str:
    summaries = [build_summary(s) for s in submissions]
    with app.test_request_context():
        if len(summaries) == 1:
            return render_template("print/summary.html", summary=summaries[0], paper=paper, pdf=pdf)
        return render_template(
            "print/summary_batch.html", summaries=summaries, paper=paper, pdf=pdf
        )


def pdf_for(app, submissions, paper="letter") -> bytes:
    html = html_for(app, submissions, paper)
    with app.app_context():
        return render_pdf(html, stylesheets=STYLESHEETS)


def pdf_info(data: bytes, tmp_path) -> dict[str, str]:
    """Read a PDF's page count and size with poppler's pdfinfo (missing means failure)."""
    path = tmp_path / "summary.pdf"
    path.write_bytes(data)
    out = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True)
    return dict(
        (key.strip(), value.strip())
        for key, _, value in (line.partition(":") for line in out.stdout.splitlines())
    )


def page_texts(data: bytes, tmp_path) -> list[str]:
    """The text of each page of a PDF, with poppler's pdftotext."""
    path = tmp_path / "pages.pdf"
    path.write_bytes(data)
    out = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True)
    return [" ".join(page.split()) for page in out.stdout.split("\f") if page.strip()]


def layout_page_texts(document) -> list[str]:
    """The text of each page of a laid-out document (``screening.pdf.render_document``),
    without writing the PDF: every text box of the page, margin boxes included, in document
    order. The PDF holds exactly these pages; pdftotext (:func:`page_texts`) orders words by
    their place on the page instead, which no check here depends on (each looks for a
    heading, a reference or a rule id on a page)."""
    from weasyprint.formatting_structure.boxes import TextBox

    def texts(box) -> list[str]:
        if isinstance(box, TextBox):
            return [box.text]
        return [text for child in getattr(box, "children", ()) for text in texts(child)]

    pages = [" ".join(" ".join(texts(page._page_box)).split()) for page in document.pages]
    return [page for page in pages if page]


#: Said at the foot of a page where the patient's own words begin but do not end.
CONTINUED = "continued on the next page"


def assert_one_sheet_but_own_words(data: bytes, tmp_path, name: str) -> None:
    """Everything but the patient's own words is on page 1; only they may run on."""
    assert_first_page_holds_all_but_own_words(page_texts(data, tmp_path), name)


def assert_first_page_holds_all_but_own_words(
    pages: list[str], name: str, continued: bool = True
) -> None:
    """``pages``: the pages of one summary. ``continued``: whether the page footer says
    so when the patient's words run on (WeasyPrint's running strings; browsers have none)."""
    assert len(pages) <= 2, f"{name} takes {len(pages)} pages"
    first = pages[0]
    for heading in ("RED FLAGS AND CONTRAINDICATIONS", "QUESTIONS TO BRING", "Rule set"):
        assert heading in first, (name, heading)
    if len(pages) == 2:
        assert CONTINUED in first or not continued, name
        assert "IN THE PATIENT'S OWN WORDS" in first + pages[1][:200], name
        assert CONTINUED not in pages[1]
        for heading in ("RED FLAGS", "QUESTIONS TO BRING", "WHERE IT HURTS", "Rule set"):
            assert heading not in pages[1], (name, heading)
    else:
        assert CONTINUED not in first, name


def text_of(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


@pytest.mark.parametrize("name", sorted(VIGNETTES))
def test_every_vignette_prints_on_one_letter_page_with_its_sections(app, name, tmp_path):
    submission = make_submission(name)
    expect = VIGNETTES[name]["expect"]
    html = html_for(app, [submission])
    text = text_of(html)

    assert submission.reference in text
    assert submission.personal["full_name"] in text
    assert expect["outcome"] in text
    if expect["care_level"]:
        assert expect["care_level"] in text
    assert "Red flags and contraindications" in text
    assert f"PEG score {submission.peg_score:.1f}" in text
    for rule_id in expect["rules"]:
        assert rule_id in text
    assert "Blocking contraindication: YES" in text if expect["blocking"] else "no" in text
    assert f"Rule set {submission.ruleset_version}" in text
    assert "Questions to bring" in text
    # pain_now is optional and never given by the vignettes; the email is left out of some.
    assert re.search(r"Not answered: [^.]*Pain right now pain_now", text)
    if "email" not in submission.personal:
        assert f"Email: {NOT_ANSWERED}" in text
    # The staff printout shows question ids next to answers (screening/scoring/README.md).
    for qid in ("peg_p", "bt", "allergy", "preg", "dur", "regions", "goals"):
        assert re.search(rf"\b{qid}\b", text)
    # No style attributes or scripts (strict CSP), and the PDF path links no stylesheet.
    assert "style=" not in html and "<script" not in html and "<link" not in html

    data = pdf_for(app, [submission])
    info = pdf_info(data, tmp_path)
    pages = page_texts(data, tmp_path)
    assert_first_page_holds_all_but_own_words(pages, name)
    # Whatever the step, every fired rule is on the first page, by its id at least.
    assert [r.id for r in build_summary(submission).warnings if r.id not in pages[0]] == []
    assert info["Page size"].startswith("612 x 792")


@pytest.mark.parametrize("name", ["V01", "V03", "V15", "V20"])
def test_a4_is_one_page_too(app, name, tmp_path):
    data = pdf_for(app, [make_submission(name)], paper="a4")
    assert_one_sheet_but_own_words(data, tmp_path, name)
    assert pdf_info(data, tmp_path)["Page size"].startswith("595.")


def test_blanks_print_not_answered_never_no(app):
    submission = make_submission("V01")
    summary = build_summary(submission)
    rows = {
        row.id: row
        for section in (
            summary.peg_items,
            summary.regions,
            summary.medicines,
            summary.history,
            summary.own_words,
            summary.safety,
        )
        for row in section
    }
    for qid in (
        "pain_now",
        "other_location",
        "supplements",
        "med_list",
        "goals",
        "questions_free",
        "other_conditions",
    ):
        if qid in submission.answers:
            continue
        assert rows[qid].value == NOT_ANSWERED, qid
        assert rows[qid].blank and not rows[qid].flag
    text = text_of(html_for(app, [submission]))
    blanks = text.split(f"{NOT_ANSWERED}:", 1)[1].split(".", 1)[0]
    for label in ("Pain right now pain_now", "Goals goals", "Medicine list (free text) med_list"):
        assert label in blanks
        assert not re.search(rf"{re.escape(label)} No\b", text)
    # Questions that were not asked (no physical-therapy follow-up without tx_pt) are left out.
    v27 = build_summary(make_submission("V27"))
    assert "pt_weeks" not in [r.id for r in v27.treatment_details]
    assert all(t.code != "tx_pt" for t in v27.treatments)


def test_red_flags_come_first_with_notes_and_sources():
    summary = build_summary(make_submission("V09"))
    assert [w.id for w in summary.warnings] == ["R06_NEURO_DEFICIT", "A03_RADICULAR"]
    first = summary.warnings[0]
    assert first.effect == "PROMPT"
    assert first.note == load_ruleset().by_id["R06_NEURO_DEFICIT"].clinician_note
    assert first.sources and "AHCPR1994" in first.sources
    assert summary.red_flag_answers[0].id == "rf_limb_weak"
    assert summary.outcome == "SEEK_CARE" and summary.care_level == "PROMPT"
    # Support rules are never listed as warnings.
    assert summary.support_rules and not set(summary.support_rules) & {
        w.id for w in summary.warnings
    }


def test_anticoagulant_is_highlighted_for_v24():
    summary = build_summary(make_submission("V24"))
    safety = {row.id: row for row in summary.safety}
    assert safety["bt"].flag and "Warfarin" in safety["bt"].value
    assert [w.id for w in summary.warnings] == ["C06_ANTICOAGULANT"]
    assert not safety["allergy"].flag and not safety["preg"].flag
    v01 = {row.id: row for row in build_summary(make_submission("V01")).safety}
    assert not v01["bt"].flag and v01["bt"].value == "None of these"


def test_local_anaesthetic_reaction_is_highlighted_for_v03(app):
    summary = build_summary(make_submission("V03"))
    safety = {row.id: row for row in summary.safety}
    assert safety["allergy"].flag and "Lidocaine" in safety["allergy"].value
    assert safety["la_reaction"].flag
    assert safety["la_reaction"].value.startswith("Swelling of face, lips, tongue or throat")
    assert safety["bt"].flag and "Apixaban" in safety["bt"].value
    assert summary.blocking
    assert [w.id for w in summary.warnings][:2] == ["C03_LA_ALLERGY_SEVERE", "C06_ANTICOAGULANT"]
    # The long free text is printed whole, never cut.
    text = text_of(html_for(app, [make_submission("V03")]))
    assert " ".join(LONG_TEXT["goals"].split()) in text
    assert " | ".join(LONG_TEXT["med_list"].split("\n")).strip(" |") in text


def test_pregnancy_is_highlighted_for_v05():
    safety = {row.id: row for row in build_summary(make_submission("V05")).safety}
    assert safety["preg"].flag and safety["preg"].value == "Yes"


def test_identity_clinic_and_questions():
    submission = make_submission("V12")
    summary = build_summary(submission)
    assert summary.clinic == "Not chosen"
    assert summary.dob == "Mar 14, 1979" and summary.age == "45"
    assert summary.submitted == "Mar 1, 2025, 9:30 AM EST"  # New York time, US style
    assert summary.language == "English"
    assert [q.id for q in summary.questions] == submission.questions
    assert summary.questions[0].id == "Q21" and not summary.questions[0].always


def test_browser_print_view_links_its_stylesheet(app):
    html = html_for(app, [make_submission("V01")], pdf=False)
    assert '<link rel="stylesheet" href="/static/css/summary.css">' in html
    assert 'class="paper-letter"' in html
    assert 'class="paper-a4"' in html_for(app, [make_submission("V01")], paper="a4", pdf=False)


def test_batch_of_three_gives_three_pages(app, tmp_path):
    submissions = [make_submission(name) for name in ("V02", "V07", "V27")]
    html = html_for(app, submissions)
    for submission in submissions:
        assert submission.reference in html
    assert pdf_info(pdf_for(app, submissions), tmp_path)["Pages"] == "3"


def test_in_a_batch_only_own_words_run_on_and_say_so(app, tmp_path):
    """V03 has long free text: its own words take a second page, which its first announces."""
    submissions = [make_submission(name) for name in ("V02", "V03", "V07")]
    pages = page_texts(pdf_for(app, submissions), tmp_path)
    assert len(pages) == 4
    assert [CONTINUED in page for page in pages] == [False, True, False, False]
    assert "RED FLAGS" not in pages[2]  # V03's second page: its own words only
    assert "RED FLAGS" in pages[3]  # V07 starts on a page of its own


# no_cover: this volume of examples runs lines other tests cover too (checked with
# coverage contexts); tracing them doubled the time.
@pytest.mark.no_cover
@pytest.mark.slow
@pytest.mark.parametrize("paper", ["letter", "a4"])
def test_typical_patients_and_a_common_heavy_case_fit_the_first_page(app, paper):
    """A clinic's usual queue (the demo generator, free text included) and the front desk's
    example (apixaban and aspirin, lidocaine anaphylaxis, latex, insulin): everything but the
    patient's own words on the first page, and the common case on one page. Read from the
    batch page's layout (:func:`layout_page_texts`), not a PDF written and read back."""
    submissions = [common_heavy_case(), *typical(30)]
    html = html_for(app, submissions, paper)
    with app.app_context():
        pages = layout_page_texts(render_document(html, STYLESHEETS))
    for submission in submissions:
        own = [page for page in pages if f"Ref {submission.reference}" in page]
        assert_first_page_holds_all_but_own_words(own, submission.reference)
    assert sum(f"Ref {submissions[0].reference}" in page for page in pages) == 1


def _png(path: Path) -> Path:
    """A 1x1 red PNG."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x00\x00")
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )
    return path


def test_a_pdf_fetches_nothing_not_even_a_local_file(app, tmp_path):
    """WeasyPrint is loaded when the first PDF is made; its fetcher still refuses every URL."""
    import io

    from pypdf import PdfReader
    from weasyprint import HTML
    from weasyprint.urls import URLFetcher

    from screening import pdf

    page = f'<p>A picture:</p><img src="{_png(tmp_path / "dot.png").as_uri()}">'
    # WeasyPrint's own fetcher would read the file into the PDF...
    fetched = PdfReader(io.BytesIO(HTML(string=page).write_pdf()))
    assert len(fetched.pages[0].images) == 1
    # ...ours refuses it, and every other URL.
    with app.app_context():
        made = PdfReader(io.BytesIO(render_pdf(page)))
    assert len(made.pages[0].images) == 0
    assert "A picture" in made.pages[0].extract_text()
    assert issubclass(pdf.NoFetching, URLFetcher) and isinstance(pdf.no_fetching(), pdf.NoFetching)
    with pytest.raises(ValueError, match="refusing to fetch"):
        pdf.no_fetching().fetch("https://example.org/x.css")
