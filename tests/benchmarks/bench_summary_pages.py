"""How many sheets the clinician's summary takes for the heaviest answer sets the form accepts.

Not a test (pytest does not collect ``bench_*.py``). Run from the repository root::

    .venv/bin/python tests/benchmarks/bench_summary_pages.py [--candidates 200] [--top 20]

Generates candidates with tests/worst_cases.py (nearly every rule firing, every medicine,
allergy and region, every text box full, long names), keeps the ``--top`` heaviest by the
page planner's estimate (screening/summary_layout.py), renders each on US Letter and A4,
and prints the page count, the density step the planner chose, the number of fired rules
and questions to bring, on which page the structured part ends (the rest is the patient's
own words), and the structured part's height: estimated by the planner and laid out by
WeasyPrint, in points (the estimate should not be below the layout; the page holds 734).
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from flask import render_template  # noqa: E402
from weasyprint import CSS, HTML  # noqa: E402

from screening import create_app, summary_layout  # noqa: E402
from screening.summaries import STYLESHEETS, build_summary  # noqa: E402
from tests.worst_cases import candidates  # noqa: E402

#: An anchor put after the structured part (the summary's own footer) to find where it ends.
END = '<p id="structured-end"></p>'
TOP_MARGIN_PT = {"letter": 0.35 * 72, "a4": 10 / 25.4 * 72}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", type=int, default=200)
    parser.add_argument("--top", type=int, default=20)
    args = parser.parse_args()
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "x" * 40,
            "SQLALCHEMY_DATABASE_URI": "sqlite://",
            "SERVER_NAME": "localhost",
        }
    )
    static = Path(app.static_folder or "")
    css = [CSS(string=(static / name).read_text(encoding="utf-8")) for name in STYLESHEETS]
    pages: dict[str, list[int]] = {"letter": [], "a4": []}
    structured_ends: dict[str, list[int | None]] = {"letter": [], "a4": []}
    with app.test_request_context():
        summaries = [build_summary(item) for item in candidates(args.candidates)]
        sized = sorted(
            summaries,
            key=lambda s: -summary_layout._plan_at(s, summary_layout.STEPS[0]).height_pt,
        )
        print(
            f"{'reference':12} {'paper':6} {'pages':>5} {'structured ends':>15} "
            f"{'rules':>5} {'questions':>9} {'step':>4} {'estimate':>8} {'laid out':>8}"
        )
        for summary in sized[: args.top]:
            for paper in pages:
                html = render_template("print/summary.html", summary=summary, paper=paper, pdf=True)
                html = re.sub(r"(</footer>)", r"\1" + END, html, count=1)
                document = HTML(string=html).render(stylesheets=css)
                ends, height = next(
                    (
                        (number, page.anchors["structured-end"][1] * 0.75 - TOP_MARGIN_PT[paper])
                        for number, page in enumerate(document.pages, 1)
                        if "structured-end" in page.anchors
                    ),
                    (None, float("nan")),
                )
                pages[paper].append(len(document.pages))
                structured_ends[paper].append(ends)
                step = summary_layout.STEPS.index(summary.plan.step)
                print(
                    f"{summary.reference:12} {paper:6} {len(document.pages):5} {ends!s:>15} "
                    f"{len(summary.warnings):5} {len(summary.questions):9} {step:4} "
                    f"{summary.plan.height_pt:8.0f} {height:8.0f}"
                )
    for paper, counts in pages.items():
        one = sum(1 for count in counts if count == 1)
        first = sum(1 for page in structured_ends[paper] if page == 1)
        print(f"{paper}: structured part on page 1 for {first} of {len(counts)}")
        print(
            f"{paper}: {one} of {len(counts)} on one page; median {statistics.median(counts)}, "
            f"most {max(counts)}"
        )


if __name__ == "__main__":
    main()
