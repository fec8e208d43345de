"""The clinician's page holds everything but the patient's own words on one sheet, for the
heaviest answer sets the form accepts, on US Letter and on A4.

The candidates come from ``tests/worst_cases.py``: nearly every yes answered yes (every red
flag, contraindication and precaution rule firing together), every medicine, allergy,
treatment and region ticked, every text box full, long names and emails. The
:data:`HEAVIEST` with the most content (by the page planner's estimate of their structured
part at the normal type size, which needs no rendering) are laid out by WeasyPrint on both
papers, through the same template, stylesheets and fonts as the PDF, and each page's text
is read from the layout (``layout_page_texts``): writing 200 PDFs and reading them back
with pdftotext checked the same pages a third slower. Every acceptance vignette goes
through the batch PDF on A4 and is read back with pdftotext (on Letter each vignette is
printed on its own by ``tests/test_summaries.py``, with the same checks).

The planner's estimate does not order these cases by their real height (the tallest laid
out rank anywhere in the hundred), so all of them are laid out, not the first few.

These tests lay out a few hundred pages: they are marked ``no_cover`` (pytest-cov measures
no coverage while they run; the code they run is measured by ``tests/test_summaries.py``),
which makes them about twice as fast under ``make test``.
"""

from __future__ import annotations

import functools

import pytest
from flask import render_template

from screening import summary_layout
from screening.pdf import render_document, render_pdfs_as_one
from screening.scoring import questionnaire
from screening.summaries import STYLESHEETS, ClinicianSummary, build_summary
from tests.test_summaries import (
    VIGNETTES,
    app,  # noqa: F401 (the module's app fixture)
    assert_first_page_holds_all_but_own_words,
    layout_page_texts,
    make_submission,
    page_texts,
)
from tests.worst_cases import candidates

pytestmark = [pytest.mark.database_free, pytest.mark.slow, pytest.mark.no_cover]

#: How many of the heaviest candidates are laid out, out of how many generated.
HEAVIEST = 100
POOL = 400
#: Laid out in this many parts per paper, so the two test workers share them.
PARTS = 4


def structured_weight(summary: ClinicianSummary) -> float:
    return summary_layout._plan_at(summary, summary_layout.STEPS[0]).height_pt


@functools.cache
def heaviest() -> tuple[ClinicianSummary, ...]:
    """Built once per test process (every test here reads them, none changes them)."""
    summaries = [build_summary(item) for item in candidates(POOL)]
    return tuple(sorted(summaries, key=structured_weight, reverse=True)[:HEAVIEST])


@functools.cache
def vignettes() -> tuple[ClinicianSummary, ...]:
    return tuple(build_summary(make_submission(name)) for name in sorted(VIGNETTES))


def assert_fits(summary: ClinicianSummary, pages: list[str]) -> None:
    """``pages``: the texts of a document of one or more summaries."""
    own = [text for text in pages if f"Ref {summary.reference}" in text]
    assert own, summary.reference
    assert_first_page_holds_all_but_own_words(own, summary.reference)
    # Whatever the step, every fired rule is on the first page, by its id at least.
    missing = [rule.id for rule in summary.warnings if rule.id not in own[0]]
    assert not missing, (summary.reference, missing)


@pytest.mark.parametrize("part", range(PARTS))
@pytest.mark.parametrize("paper", ["letter", "a4"])
def test_the_heaviest_answer_sets_fit_one_sheet(app, paper, part):  # noqa: F811
    with app.test_request_context():
        for summary in heaviest()[part::PARTS]:
            html = render_template("print/summary.html", summary=summary, paper=paper, pdf=True)
            assert_fits(summary, layout_page_texts(render_document(html, STYLESHEETS)))


def test_every_vignette_fits_one_a4_sheet_in_the_batch_pdf(app, tmp_path):  # noqa: F811
    with app.test_request_context():
        pages = [
            render_template("print/summary.html", summary=s, paper="a4", pdf=True)
            for s in vignettes()
        ]
        data = render_pdfs_as_one(pages, STYLESHEETS)
    texts = page_texts(data, tmp_path)
    for summary in vignettes():
        assert_fits(summary, texts)


def test_the_pool_reaches_the_worst_case():
    """The heaviest candidates really are the worst: every non-support rule the answers
    can fire together fires, and the densest step is needed."""
    found = heaviest()
    assert max(len(s.warnings) for s in found) >= 38
    assert found[0].plan.step == summary_layout.STEPS[-1]
    assert max(len(set(s.region_codes)) for s in found) == len(questionnaire.REGIONS)


def test_a_tamper_warning_is_planned_for_and_the_worst_case_still_fits(app, tmp_path):  # noqa: F811
    """The integrity warning box sits above everything: the plan counts it, and the
    heaviest form with it keeps its structured part on the first sheet."""
    from dataclasses import replace

    from screening import integrity

    worst = heaviest()[0]
    warned = replace(worst, integrity_warning=integrity.MISMATCH)
    for step in summary_layout.STEPS:
        plain = summary_layout._plan_at(worst, step).height_pt
        assert summary_layout._plan_at(warned, step).height_pt > plain + 20
    with app.test_request_context():
        page = render_template("print/summary.html", summary=warned, paper="letter", pdf=True)
        data = render_pdfs_as_one([page], STYLESHEETS)
    texts = page_texts(data, tmp_path)
    assert integrity.MISMATCH in texts[0]
    assert_first_page_holds_all_but_own_words(texts, worst.reference)
