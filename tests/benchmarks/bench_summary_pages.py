"""How many sheets the clinician's summary takes for the heaviest answer sets the form accepts.

Not a test (pytest does not collect ``bench_*.py``). Run from the repository root::

    .venv/bin/python tests/benchmarks/bench_summary_pages.py [--candidates 200] [--top 20]

Generates candidates with tests/worst_cases.py (nearly every rule firing, every medicine,
allergy and region, every text box full, long names), keeps the ``--top`` heaviest by the
length of their summary's text, renders each on US Letter and A4, and prints the page
count, the type-size step, the number of fired rules and questions to bring, and on
which page the structured part ends (the rest is the patient's own words). The goal
(issue "The clinician's page") is one sheet for everything but the patient's own words.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
from html import unescape
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from flask import render_template  # noqa: E402
from weasyprint import CSS, HTML  # noqa: E402

from screening import create_app  # noqa: E402
from screening.summaries import STYLESHEETS, build_summary  # noqa: E402
from tests.worst_cases import candidates  # noqa: E402

#: The last line of the structured part (the summary's own footer), then the free text.
STRUCTURED_END = "rule set"


def text_length(html: str) -> int:
    return len(" ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split()))


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
            key=lambda s: -text_length(render_template("print/summary.html", summary=s, pdf=True)),
        )
        print(
            f"{'reference':12} {'paper':6} {'pages':>5} {'structured ends':>15} "
            f"{'rules':>5} {'questions':>9} density"
        )
        for summary in sized[: args.top]:
            for paper in pages:
                html = render_template("print/summary.html", summary=summary, paper=paper, pdf=True)
                document = HTML(string=html).render(stylesheets=css)
                ends = next(
                    (
                        number
                        for number, page in enumerate(document.pages, 1)
                        if STRUCTURED_END in _page_text(page).lower()
                    ),
                    None,
                )
                pages[paper].append(len(document.pages))
                structured_ends[paper].append(ends)
                print(
                    f"{summary.reference:12} {paper:6} {len(document.pages):5} {ends!s:>15} "
                    f"{len(summary.warnings):5} {len(summary.questions):9} "
                    f"{summary.density or 'normal'}"
                )
    for paper, counts in pages.items():
        one = sum(1 for count in counts if count == 1)
        first = sum(1 for page in structured_ends[paper] if page == 1)
        print(f"{paper}: structured part on page 1 for {first} of {len(counts)}")
        print(
            f"{paper}: {one} of {len(counts)} on one page; median {statistics.median(counts)}, "
            f"most {max(counts)}"
        )


def _page_text(page) -> str:
    """The text of one laid-out page (WeasyPrint's box tree)."""
    found: list[str] = []

    def walk(box) -> None:
        text = getattr(box, "text", None)
        if text:
            found.append(text)
        for child in getattr(box, "children", ()):
            walk(child)

    walk(page._page_box)
    return " ".join(found)


if __name__ == "__main__":
    main()
