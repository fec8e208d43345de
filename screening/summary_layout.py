"""How the clinician's summary fills its one page: columns split here, type stepped down.

The page (``templates/print/summary.html``) must hold everything but the patient's own
words on one US Letter or A4 sheet, for every answer set the form accepts. This module
plans that before anything is rendered, so the browser's print view and the PDF get the
same plan from the same data, and the PDF is laid out once:

- **Columns are split here, not by CSS.** The answer sections, the fired rules and the
  questions to bring go into two cells each, split where the estimated heights are most
  even, sections kept in order (the left column first). CSS column balancing did the same
  by laying the content out again and again: it was half of the PDF's time.
- **Steps of density**, the first that fits (:data:`STEPS`): smaller type (never below
  :data:`TYPE_FLOOR_PT`), then each rule's clinician note cut to its first sentence, then
  to its first clause, with the questions to bring run on as one paragraph; then the
  lower-priority rules (relative contraindications, concerns, precautions) by id only,
  then every rule by id only, grouped by effect. The order of importance never changes,
  and the page says when notes were cut or left out: the submission's page has them all.

Heights are estimated in points from the text's length, the type size and the column
widths of the narrower paper (A4) on the shorter page (Letter). The estimate is meant to
be a little high: ``tests/test_summaries.py`` renders the heaviest realistic answer sets
and checks both that they fit and that the estimate is not below what WeasyPrint lays out.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from screening.presentation import FiredRule, Row
    from screening.summaries import ClinicianSummary

#: The smallest type the page uses for words (reference codes are 0.82 of it, about 6 pt).
TYPE_FLOOR_PT = 7.5
#: Width and height the structured part may fill, in points: A4's width (210 mm less
#: 22 mm of margins) and Letter's height (11 in less 0.8 in), the smaller of each.
PAGE_WIDTH_PT = 533.0
PAGE_HEIGHT_PT = 734.0
#: Room kept free at the foot of the page for the estimate's errors.
SLACK_PT = 24.0
#: Average advance of a character, in ems of the type size (Arial/Liberation Sans, mixed
#: text with some bold). Measured on the worst cases; a little wide on purpose.
CHAR_EM = 0.53
#: The gap between two columns (0.22 in).
GAP_PT = 16.0
#: Rules in one column up to this many; more go in two.
RULES_IN_ONE_COLUMN = 6


#: Rule effects (``screening.scoring.Effect`` values) listed by id only before the others.
LOWER_PRIORITY = ("RELATIVE", "CONCERN", "PRECAUTION")
ALL_EFFECTS = ("EMERGENCY", "PROMPT", "AGAINST", "ABSOLUTE", *LOWER_PRIORITY)


@dataclass(frozen=True)
class Step:
    """One step of density: the CSS class on the page and how the long parts are cut."""

    css: str
    size_pt: float
    line: float
    #: "full", "sentence" (each clinician note's first sentence) or "clause".
    notes: str = "full"
    #: The questions to bring: "list" (two columns), "run_on" (one paragraph) or "ids"
    #: (their ids only; the submission's page has their words).
    questions: str = "list"
    #: Effects whose rules are listed by id only, one line per effect.
    bare: frozenset[str] = frozenset()


STEPS = (
    Step("", 8.6, 1.22),
    Step("dense", 8.0, 1.16),
    Step("dense", 8.0, 1.16, notes="sentence"),
    Step("denser", TYPE_FLOOR_PT, 1.12, notes="sentence"),
    Step("denser", TYPE_FLOOR_PT, 1.12, notes="clause", questions="run_on"),
    Step("denser", TYPE_FLOOR_PT, 1.12, "clause", "run_on", frozenset(LOWER_PRIORITY)),
    Step("densest", TYPE_FLOOR_PT, 1.08, "clause", "run_on", frozenset(ALL_EFFECTS)),
    Step("densest", TYPE_FLOOR_PT, 1.08, "clause", "ids", frozenset(ALL_EFFECTS)),
)

#: The answer sections of the two-column part, in reading order (template macro names).
SECTIONS = ("peg", "where", "course", "pattern", "treatments", "medicines", "history")


@dataclass(frozen=True)
class Plan:
    """What the template needs to lay out one summary."""

    step: Step
    #: Section names per column (one or two columns).
    sections: tuple[tuple[str, ...], ...]
    #: Fired non-support rules shown with their notes, per column, in the scorer's order.
    rules: tuple[tuple[FiredRule, ...], ...]
    #: The others, by id only: one group per effect, in the scorer's order.
    bare: tuple[tuple[FiredRule, ...], ...]
    #: Questions to bring per column (those printed in full), in the patient's order.
    questions: tuple[tuple, ...]
    #: The structured part's estimated height, points.
    height_pt: float

    @property
    def density(self) -> str:
        return self.step.css

    @property
    def noted(self) -> bool:
        """Whether any rule is shown with its note."""
        return any(self.rules)

    @property
    def shortened(self) -> bool:
        """Whether clinician notes were cut to fit (the page says so)."""
        return self.step.notes != "full" or bool(self.bare)

    @property
    def questions_words(self) -> str:
        """How the questions to bring are printed: "list", "run_on" or "ids"."""
        return self.step.questions

    def note(self, rule: FiredRule) -> str:
        return short_note(rule.note, self.step.notes)


def short_note(note: str, form: str) -> str:
    """A clinician note whole, to its first sentence, or to its first clause."""
    if form == "full":
        return note
    found = re.match(r".+?\.(?=\s|$)", note)
    sentence = found.group(0) if found else note
    if form == "sentence":
        return sentence
    clause = re.split(r"[;:](?=\s)", sentence, maxsplit=1)[0].rstrip(".")
    return clause + ("…" if clause != note.rstrip(".") else ".")


# ------------------------------------------------------------------ estimates


class _Measure:
    """Heights in points of text at one step's type size."""

    def __init__(self, step: Step) -> None:
        self.size = step.size_pt
        self.line_pt = step.size_pt * step.line
        self.column = (PAGE_WIDTH_PT - GAP_PT) / 2

    def lines(self, chars: int, width: float, scale: float = 1.0) -> int:
        per_line = max(1.0, width / (self.size * scale * CHAR_EM))
        return max(1, math.ceil(chars / per_line))

    def text(self, chars: int, width: float, scale: float = 1.0) -> float:
        if chars <= 0:
            return 0.0
        return self.lines(chars, width, scale) * self.line_pt * scale

    def heading(self) -> float:
        """An h2: its margins and rule."""
        return self.line_pt + self.size * 0.75

    # Parts of the page ----------------------------------------------------------

    def flow(self, summary: ClinicianSummary, rows: Sequence[Row], width: float) -> float:
        shown = summary.answered(tuple(rows))
        yeses = summary.said_yes(tuple(rows))
        nos = summary.said_no(tuple(rows))
        height = self.text(sum(len(r.label) + len(r.id) + len(r.value) + 5 for r in shown), width)
        for listed in (yeses, nos):
            if listed:
                height += self.text(8 + sum(len(r.label) + len(r.id) + 3 for r in listed), width)
        return height

    def section(self, summary: ClinicianSummary, name: str) -> float:
        width = self.column
        height = self.heading()
        if name == "peg":
            return height + self.flow(summary, summary.peg_items, width)
        if name == "where":
            figure = 1.2 * 72 + 3 * self.line_pt  # the figure, its titles and key
            beside = width - 0.95 * 72
            places = self.text(len(" · ".join(summary.region_words)) + 8, beside)
            rows = [row for row in summary.regions if row.id != "regions"]
            return height + max(figure, places + self.flow(summary, rows, beside))
        if name == "course":
            return height + self.flow(summary, summary.course, width)
        if name == "pattern":
            return height + self.flow(summary, summary.pattern, width)
        if name == "treatments":
            chars = sum(
                len(t.label) + len(t.effect) + len(t.detail) + 6 for t in summary.treatments
            )
            return (
                height
                + self.text(chars, width)
                + self.flow(summary, summary.treatment_details, width)
            )
        if name == "medicines":
            return height + self.flow(summary, summary.medicines, width)
        return height + self.flow(summary, summary.history, width)

    def rule(self, rule: FiredRule, form: str, width: float, tagged: bool) -> float:
        chars = len(rule.id) + len(short_note(rule.note, form)) + (16 if tagged else 0) + 2
        return self.text(chars, width) + 0.3 * self.size

    def rules(self, columns: Sequence[Sequence[FiredRule]], form: str, width: float) -> float:
        heights = []
        for column in columns:
            height, effect = 0.0, None
            for rule in column:
                height += self.rule(rule, form, width, rule.effect != effect)
                effect = rule.effect
            heights.append(height)
        return max(heights, default=0.0)

    def safety(self, rows: Sequence[Row], width: float) -> float:
        label, value = 0.22 * width, 0.78 * width
        return sum(
            max(self.lines(len(r.label) + len(r.id) + 2, label), self.lines(len(r.value), value))
            * self.line_pt
            + 1.5
            for r in rows
            if not r.free
        )


def _split(weights: Sequence[float]) -> int:
    """Where to cut ``weights`` (in order) into two runs of most even sum."""
    total = sum(weights)
    best, best_at, running = total, len(weights), 0.0
    for at in range(len(weights) + 1):
        taller = max(running, total - running)
        if taller < best:
            best, best_at = taller, at
        if at < len(weights):
            running += weights[at]
    return best_at


def _groups(rules: Iterable[FiredRule]) -> tuple[tuple[FiredRule, ...], ...]:
    """Consecutive rules of one effect together."""
    groups: list[list[FiredRule]] = []
    for rule in rules:
        if groups and groups[-1][0].effect == rule.effect:
            groups[-1].append(rule)
        else:
            groups.append([rule])
    return tuple(tuple(group) for group in groups)


def _two(items: Sequence, weights: Sequence[float]) -> tuple[tuple, ...]:
    at = _split(weights)
    return (tuple(items[:at]), tuple(items[at:]))


def _plan_at(summary: ClinicianSummary, step: Step) -> Plan:
    m = _Measure(step)
    full = PAGE_WIDTH_PT
    # The header (kicker, name, contact line(s), reference table) and the outcome line.
    contact = 60 + len(summary.phone) + len(summary.email) + len(summary.best_time)
    height = (
        m.line_pt * 0.85
        + m.size * 1.7 * 1.15 * math.ceil(len(summary.full_name) * 1.7 * CHAR_EM * m.size / 360)
        + max(m.text(contact, full - 170), 3 * m.line_pt)
        + 0.35 * m.size
    )
    height += m.text(90 + len(summary.outcome_label), full - 12) + 1.0 * m.size
    if summary.integrity_warning:  # the tamper box above everything: border, padding, margin
        height += m.text(len(summary.integrity_warning), full - 14) + 1.4 * m.size + 6
    # The red box: heading, rules (one or two columns), sources, warning signs, safety.
    inner = full - 4 - 1.1 * m.size
    warnings = tuple(r for r in summary.warnings if r.effect not in step.bare)
    bare = _groups(r for r in summary.warnings if r.effect in step.bare)
    for group in bare:
        height += m.text(18 + sum(len(r.id) + 3 for r in group), inner) + 0.3 * m.size
    if len(warnings) > RULES_IN_ONE_COLUMN:
        rule_width = (inner - 14.4) / 2
        weights = [m.rule(r, step.notes, rule_width, True) for r in warnings]
        rules = _two(warnings, weights)
    else:
        rule_width, rules = inner, (tuple(warnings),)
    height += 1.2 * m.size + m.heading()
    if warnings or not bare:
        height += m.rules(rules, step.notes, rule_width) if warnings else m.line_pt
    height += m.text(len(", ".join(summary.sources)) + 9, inner, 0.88)
    if step.notes != "full":
        height += m.line_pt  # "Notes shortened to fit the page ..."
    if summary.red_flag_answers:
        chars = 28 + sum(len(r.label) + len(r.id) + 3 for r in summary.red_flag_answers)
        height += m.text(chars, inner) + 0.4 * m.size
    height += 1.25 * m.line_pt + m.safety(summary.safety, inner)
    # The answer sections, in two columns.
    weights = [m.section(summary, name) for name in SECTIONS]
    at = _split(weights)
    sections = (SECTIONS[:at], SECTIONS[at:])
    height += max(sum(weights[:at]), sum(weights[at:]))
    if summary.not_answered:
        chars = 15 + sum(len(r.label) + len(r.id) + 3 for r in summary.not_answered)
        height += m.text(chars, full) + 0.35 * m.size
    # Questions to bring: a list in two columns, or one running paragraph.
    height += m.heading()
    triggered = summary.triggered_questions
    if step.questions == "ids":
        chars = 60 + sum(len(q.id) + 2 for q in triggered)
        height += m.text(chars, full, 0.9)
        questions: tuple[tuple, ...] = (tuple(triggered),)
    elif step.questions == "run_on":
        chars = sum(len(q.id) + len(q.first_sentence) + 2 for q in triggered)
        height += m.text(chars, full, 0.9)
        questions = (tuple(triggered),)
    else:
        width = (full - GAP_PT) / 2
        weights = [m.text(len(q.id) + len(q.first_sentence) + 1, width, 0.9) for q in triggered]
        questions = _two(triggered, weights)
        height += max(sum(weights[: len(questions[0])]), sum(weights[len(questions[0]) :]))
    if summary.standard_questions:
        chars = 30 + sum(len(q.id) + len(q.topic) + 3 for q in summary.standard_questions)
        height += m.text(chars, full, 0.9) + 0.15 * m.size
    # The footer line.
    height += 2 * m.line_pt
    return Plan(step, sections, rules, bare, questions, height)


def plan(summary: ClinicianSummary) -> Plan:
    """The least dense step whose structured part fits one page (the densest otherwise)."""
    for step in STEPS:
        found = _plan_at(summary, step)
        if found.height_pt <= PAGE_HEIGHT_PT - SLACK_PT:
            return found
    return found
