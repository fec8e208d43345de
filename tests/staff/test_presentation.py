"""One staff presentation: detail page, print view, PDF and CSV show words, not codes.

Every acceptance vignette is stored, then its staff detail page, print view and CSV row
are read as a person would: tags and the small reference text (``ref``, ``hint``,
``qid``) stripped. No answer code, rule effect code or outcome code may show where words
belong, and only alerts are highlighted. The staff words themselves are data
(``[staff]`` and ``staff_*`` keys of questionnaire.toml), checked here too.
"""

from __future__ import annotations

import csv
import io
import re
import tomllib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest

from screening import i18n, presentation
from screening.extensions import db
from screening.models import Submission
from screening.scoring import CareLevel, Effect, Outcome, questionnaire, score
from screening.staff import accounts
from screening.submissions import apply_result
from tests.factories import answers
from tests.staff.helpers import StaffClient, make_staff
from tests.test_summaries import VIGNETTES, make_submission

QUESTIONS = questionnaire.QUESTIONS
#: Result codes: never shown as words.
RESULT_CODES = {e.value for e in Effect} | {o.value for o in Outcome} | {c.value for c in CareLevel}
#: Option codes no one would mistake for words: with "_" or a digit ("bt_none", "s4_plus").
MACHINE_CODES = {
    option.code
    for question in QUESTIONS.values()
    for option in question.options
    if "_" in option.code or any(ch.isdigit() for ch in option.code)
}
#: Answers meaning none / no / does not apply / prefer not to say: never highlighted.
#: Written out here, not read from the data file, so dropping one from the file fails.
NEVER_HIGHLIGHTED = {"no", "none", "not_applicable", "prefer_not", "bt_none", "alg_none"}
NEVER_HIGHLIGHTED |= {"tx_none", "trig_none"}
TOKEN = re.compile(r"[A-Za-z0-9_]+")
CLINIC = "North Clinic"
SENT = "Mar 1, 2025, 9:30 AM"  # make_submission's 14:30 UTC on the clinic's (Eastern) clock


# ------------------------------------------------------------------ reading pages


@dataclass
class Cell:
    """An element carrying ``data-qid``: one answer's value (and, on paper, its label)."""

    qid: str
    classes: set[str]
    parts: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return " ".join("".join(self.parts).split())


class Reader(HTMLParser):
    """Visible text without reference spans, and the text of every ``data-qid`` element."""

    VOID = frozenset({"area", "br", "col", "embed", "hr", "img", "input", "link", "meta", "wbr"})
    HIDDEN_TAGS = frozenset({"script", "style", "head"})
    REFERENCE = frozenset({"ref", "hint", "qid"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, bool, Cell | None]] = []
        self.parts: list[str] = []
        self.cells: list[Cell] = []

    def handle_starttag(self, tag, attrs):
        if tag in self.VOID:
            return
        values = dict(attrs)
        classes = set((values.get("class") or "").split())
        skip = tag in self.HIDDEN_TAGS or bool(classes & self.REFERENCE)
        cell = None
        if "data-qid" in values:
            cell = Cell(values["data-qid"], classes)
            # A line such as "Yes to: A; B" names its answer once, for every item in it.
            if "data-answer" in values:
                cell.parts.append(values["data-answer"] + " ")
            self.cells.append(cell)
        self.stack.append((tag, skip, cell))

    def handle_endtag(self, tag):
        for index in range(len(self.stack) - 1, -1, -1):
            if self.stack[index][0] == tag:
                del self.stack[index:]
                return

    def handle_data(self, data):
        if any(skip for _, skip, _ in self.stack):
            return
        self.parts.append(data)
        for _, _, cell in self.stack:
            if cell is not None:
                cell.parts.append(data)

    @property
    def text(self) -> str:
        return " ".join(" ".join(self.parts).split())


def read(html: str) -> Reader:
    reader = Reader()
    reader.feed(html)
    reader.close()
    return reader


def is_code(question, code: str) -> bool:
    """A "code": machine-looking, or not the same as its words (case aside)."""
    return code in MACHINE_CODES or code.lower() != question.label_for(code).lower()


def stray_codes(text: str) -> list[str]:
    """Machine-looking option codes and result codes anywhere in ``text``."""
    return sorted({t for t in TOKEN.findall(text) if t in MACHINE_CODES or t in RESULT_CODES})


def coded(value) -> list[str]:
    if isinstance(value, list | tuple):
        return [str(v) for v in value]
    return [] if value is None else [str(value)]


def value_problems(qid: str, text: str, value) -> list[str]:
    """What is wrong with one answer's words: a code where its words belong, or no words."""
    question = QUESTIONS.get(qid)
    if question is None or question.type not in ("yes_no", "ynu", "single", "multi"):
        return []
    problems = []
    rest = text.replace(question.staff_label, " ")
    for code in coded(value):
        words = question.label_for(code)
        if words not in text:
            problems.append(f"{qid}: {words!r} missing from {text!r}")
        rest = rest.replace(words, " ")
    for code in coded(value):
        if is_code(question, code) and re.search(rf"(?<![\w]){re.escape(code)}(?![\w])", rest):
            problems.append(f"{qid}: code {code!r} shown in {text!r}")
    return problems


def page_problems(reader: Reader, given: dict, highlight: str) -> list[str]:
    """Codes in the visible text, codes or missing words in answers, wrong highlights."""
    problems = [f"code in text: {code}" for code in stray_codes(reader.text)]
    visible = questionnaire.visible_answers(given)
    for cell in reader.cells:
        value = visible.get(cell.qid)
        problems += value_problems(cell.qid, cell.text, value)
        highlighted = highlight in cell.classes
        if highlighted and coded(value) and set(coded(value)) <= NEVER_HIGHLIGHTED:
            problems.append(f"{cell.qid}: {value!r} is highlighted")
        if highlighted != presentation.is_alert(cell.qid, value):
            problems.append(f"{cell.qid}: {value!r} highlighted={highlighted}")
    return problems


# ------------------------------------------------------------------ storing and signing in


def store(app, submission: Submission, clinic: str = CLINIC) -> str:
    """Save a built submission in the clinic; return its public id."""
    with app.app_context():
        submission.clinic = accounts.clinic_by_name(clinic)
        db.session.add(submission)
        db.session.commit()
        return submission.public_id


@pytest.fixture()
def desk(app, clock):
    """An intake worker of the clinic, signed in."""
    account = make_staff(app, "ivy.intake", "intake", clinics=[CLINIC])
    client = StaffClient(app.test_client())
    client.sign_in(account)
    return client


def csv_rows(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))


# ------------------------------------------------------------------ every vignette


def test_every_vignette_reads_in_words_on_the_detail_page_print_view_and_csv(app, desk):
    stored = {}
    for name in sorted(VIGNETTES):
        submission = make_submission(name)
        reference, given = submission.reference, submission.answers
        stored[name] = (store(app, submission), reference, given)
    problems: list[str] = []
    for name, (public_id, reference, given) in stored.items():
        url = f"/staff/submissions/{public_id}"
        page = desk.get(url)
        assert page.status_code == 200, name
        html = page.get_data(as_text=True)
        detail = read(html)
        problems += [f"{name} detail: {p}" for p in page_problems(detail, given, "highlight")]
        assert {cell.qid for cell in detail.cells} >= {"bt", "allergy", "preg", "peg_p"}, name
        expect = VIGNETTES[name]["expect"]
        words = presentation.outcome_words(expect["outcome"], expect["care_level"] or None)
        assert words in detail.text, name
        summary = html.split('id="summary-title"', 1)[1].split("</section>", 1)[0]
        assert SENT in summary and "UTC" not in summary, name

        printed = read(desk.get(f"{url}/print").get_data(as_text=True))
        problems += [f"{name} print: {p}" for p in page_problems(printed, given, "is-flag")]
        assert reference in printed.text and words in printed.text, name

    desk.get("/staff/export")
    response = desk.post("/staff/export", {"start": "2025-03-01", "end": "2025-03-01"})
    assert response.status_code == 200
    labels, fields, *rows = csv_rows(response)
    assert len(rows) == len(VIGNETTES)
    by_reference = {ref: (name, given) for name, (_, ref, given) in stored.items()}
    for row in rows:
        cells = dict(zip(fields, row, strict=True))
        name, given = by_reference[cells["reference"]]
        visible = questionnaire.visible_answers(given)
        for key, text in cells.items():
            problems += [f"{name} csv {key}: code {c}" for c in stray_codes(text)]
            if key in QUESTIONS:
                found = value_problems(key, text, visible.get(key))
                problems += [f"{name} csv: {p}" for p in found]
    assert not problems, "\n".join(problems)


# ------------------------------------------------------------------ highlights and words


def test_none_and_no_answers_are_never_highlighted(app, desk):
    # V01 is baseline B: no blood thinners, no allergies, "no" to every history question.
    url = f"/staff/submissions/{store(app, make_submission('V01'))}"
    for page, mark in ((url, "highlight"), (f"{url}/print", "is-flag")):
        cells = read(desk.get(page).get_data(as_text=True)).cells
        by_qid: dict[str, list[Cell]] = {}
        for cell in cells:
            by_qid.setdefault(cell.qid, []).append(cell)
        for qid in ("bt", "allergy", "preg", "breastfeed", "bleed_dx", "ivdu", "injury_6w"):
            assert by_qid[qid], qid
            assert all(mark not in cell.classes for cell in by_qid[qid]), qid
        assert any("None of these" in cell.text for cell in by_qid["bt"])
        assert any("None that I know of" in cell.text for cell in by_qid["allergy"])
        assert not [c.qid for c in cells if mark in c.classes and c.qid.startswith("rf_")]


def test_blood_thinners_and_a_severe_anaesthetic_reaction_read_in_words_and_stand_out(app, desk):
    given = answers(
        bt=["bt_apixaban", "bt_aspirin"],
        allergy=["alg_lidocaine", "alg_latex"],
        la_reaction="breathing_swelling",
    )
    submission = make_submission("V01")
    submission.answers = given
    apply_result(submission, score(given))
    public_id = store(app, submission)
    bt = "Apixaban (Eliquis); Aspirin every day (any dose)"
    allergy = "Lidocaine (Xylocaine); Latex"
    reaction = QUESTIONS["la_reaction"].label_for("breathing_swelling")

    html = desk.get(f"/staff/submissions/{public_id}").get_data(as_text=True)
    detail = read(html)
    cells = {cell.qid: cell for cell in detail.cells}  # the answers section's, last
    for qid, words in (("bt", bt), ("allergy", allergy), ("la_reaction", reaction)):
        assert cells[qid].text.endswith(words), cells[qid].text
        assert "highlight" in cells[qid].classes
        assert words in html.split('id="summary-title"', 1)[1].split("</section>", 1)[0]
    assert not stray_codes(detail.text)
    # The rules that fired read as clinician words, with their ids as reference text.
    assert "Contraindication (absolute):" in detail.text
    assert "Contraindication (relative):" in detail.text
    assert '<span class="ref">C03_LA_ALLERGY_SEVERE' in html
    # An absolute contraindication blocks the injection; the outcome says discuss.
    assert 'badge badge--discuss_with_concerns">Discuss, with concerns</span>' in html

    printed = read(desk.get(f"/staff/submissions/{public_id}/print").get_data(as_text=True))
    flagged = {cell.qid: cell for cell in printed.cells if "is-flag" in cell.classes}
    assert bt in flagged["bt"].text and allergy in flagged["allergy"].text
    assert reaction in flagged["la_reaction"].text

    desk.get("/staff/export")
    response = desk.post("/staff/export", {"start": "2025-03-01", "end": "2025-03-01"})
    _, fields, row = csv_rows(response)
    cells = dict(zip(fields, row, strict=True))
    assert (cells["bt"], cells["allergy"], cells["la_reaction"]) == (bt, allergy, reaction)
    assert cells["outcome"] == "Discuss, with concerns"
    assert cells["blocking_contraindication"] == "Yes"


# ------------------------------------------------------------------ the builder


def test_outcome_care_level_and_effect_words():
    assert presentation.outcome_words("SEEK_CARE", "EMERGENCY") == "Seek care: emergency now"
    assert presentation.outcome_words("SEEK_CARE", "PROMPT") == "Seek care: within 24 hours"
    assert presentation.outcome_words("DISCUSS_WITH_CONCERNS") == "Discuss, with concerns"
    assert presentation.outcome_words(None) == presentation.NOT_ANSWERED
    assert presentation.effect_words("RELATIVE") == "Contraindication (relative)"
    assert presentation.effect_words("SUPPORT") == "Supports TPI"
    assert presentation.effect_words("GONE") == presentation.UNKNOWN_EFFECT_WORDS
    for effect in Effect:
        words = presentation.effect_words(effect)
        assert words and effect.value not in words


def test_fired_rules_keep_the_stored_note_and_survive_a_retired_rule():
    submission = make_submission("V09")
    submission.result = {
        **submission.result,
        "fired_rules": ["Z99_RETIRED", *submission.result["fired_rules"]],
        "clinician_notes": ["An old note.", *submission.result["clinician_notes"]],
    }
    rules = presentation.fired_rules(submission)
    assert (rules[0].id, rules[0].effect, rules[0].note) == ("Z99_RETIRED", "RULE", "An old note.")
    assert rules[0].effect_label == presentation.UNKNOWN_EFFECT_WORDS and not rules[0].sources
    assert rules[1].effect_label == "See a doctor within 24 hours"
    view = presentation.staff_view(submission)
    assert view.badge == "seek_care_prompt" and view.seek_care
    assert [r.id for r in view.warnings][:2] == ["Z99_RETIRED", "R06_NEURO_DEFICIT"]
    assert all(rule.effect == "SUPPORT" for rule in view.supports)


def test_blank_answers_read_not_answered_and_groups_follow_the_data_file():
    submission = make_submission("V01")
    view = presentation.staff_view(submission)
    assert [g.id for g in view.groups] == [
        gid
        for gid in questionnaire.STAFF.groups
        if presentation.group_rows(submission.answers, gid)
    ]
    rows = {row.id: row for group in view.groups for row in group.rows}
    assert rows["pain_now"].blank and not rows["pain_now"].alert
    assert rows["consent"].value == "Yes" and rows["age"].value == "45"
    assert rows["tx_pt_effect"].label == "Physical therapy or a guided exercise program: effect"
    assert "pt_weeks" in rows and "tpi_last" not in rows  # asked / not asked
    assert dict(view.contact)["Date of birth"].endswith("(age 45)")


@pytest.mark.parametrize(
    ("qid", "value", "alert"),
    [
        ("bt", ["bt_none"], False),
        ("bt", ["bt_apixaban"], True),
        ("bt", ["bt_not_sure"], True),
        ("preg", "not_applicable", False),
        ("preg", "not_sure", True),
        ("ivdu", "prefer_not", False),
        ("needle_feeling", "nervous", False),
        ("needle_feeling", "very_afraid", True),
        ("allergy_other", "  ", False),
        ("allergy_other", "Penicillin", True),
        ("rf_chest", "no", False),
        ("rf_chest", "yes", True),
        ("rf_chest", None, False),
        ("tp_knot", "yes", False),  # not an alert question
    ],
)
def test_what_is_an_alert(qid, value, alert):
    assert presentation.is_alert(qid, value) is alert


# ------------------------------------------------------------------ the data file

DATA = questionnaire.DATA_FILE.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('staff_label = "Blood thinners"\n', "", "bt: no staff_label"),
        ('staff_label = "Age"', 'staff_label = " "', "age: no staff_label"),
        ('staff_group = "about"', 'staff_group = "nowhere"', "age: staff_group 'nowhere'"),
        ("alert = true\n", 'alert = "yes"\n', "preg: alert must be true or false"),
        ('alert_codes = ["very_afraid"]', 'alert_codes = ["terrified"]', "needle_feeling: alert_"),
        ('"trig_none"]', '"trig_none", "nope"]', "none_codes ['nope']"),
        ('PRECAUTION = "Precaution"\n', "", "[staff.effects] missing ['PRECAUTION']"),
        ('DISCUSS = "Discuss"\n', 'DISCUSS = "Discuss"\nLATER = "Later"\n', "unknown ['LATER']"),
    ],
)
def test_the_staff_words_are_checked_when_loading(tmp_path: Path, old, new, message):
    assert old in DATA
    path = tmp_path / "questionnaire.toml"
    path.write_text(DATA.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(questionnaire.QuestionnaireError) as caught:
        questionnaire.load(path)
    assert any(message in problem for problem in caught.value.problems), caught.value.problems


def test_the_packaged_data_file_has_every_staff_word():
    questions, _, _, staff = questionnaire.load()
    assert all(q.staff_label and q.staff_group in staff.groups for q in questions.values())
    assert set(staff.outcomes) == set(Outcome) and set(staff.effects) == set(Effect)
    assert set(staff.care_levels) == set(CareLevel)


def test_staff_words_are_never_extracted_for_translation():
    data = tomllib.loads(DATA)
    patient_only = {key: value for key, value in data.items() if key != "staff"}
    patient_only["question"] = [
        {k: v for k, v in q.items() if not k.startswith(("staff_", "alert"))}
        for q in data["question"]
    ]
    assert list(i18n.toml_messages(data)) == list(i18n.toml_messages(patient_only))
    extracted = {text for text, _ in i18n.toml_messages(data)}
    assert "Knot or taut band" not in extracted and "Supports TPI" not in extracted


def test_sent_time_is_on_the_clinics_clock(app, desk):
    with app.app_context():
        accounts.clinic_by_name(CLINIC).timezone = "America/Los_Angeles"
        db.session.commit()
    submission = make_submission("V02")
    submission.submitted_at = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)
    public_id = store(app, submission)
    html = desk.get(f"/staff/submissions/{public_id}").get_data(as_text=True)
    summary = html.split('id="summary-title"', 1)[1].split("</section>", 1)[0]
    assert "Nov 23, 2026, 6:00 AM" in summary and "UTC" not in summary
