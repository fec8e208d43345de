"""How long the clinician's summary PDF takes, one and in batches, and where the time goes.

Not a test: it prints figures. Run it from the repository root, on a quiet machine (other
work on the two cores shows up in every figure)::

    .venv/bin/python tests/benchmarks/bench_summary_pdf.py [--repeat 5] [--batches 50 200]
        [--no-profile]

It makes a SQLite database in a temporary folder, with one clinic, a clinician of that
clinic signed in through the real login (password and code), the acceptance vignette V01
(a typical answer set), the heaviest realistic answer set of ``tests/worst_cases.py``, and
``max(--batches)`` demo submissions (``screening.demo.seed``: the real scorer, answers
drawn as often as real ones are). Then, as the median of ``--repeat`` runs:

1. One summary's PDF through the real route (``GET .../summary.pdf`` with the Flask test
   client: the request to its last byte, queries, audit and rendering included), typical
   and heavy. The first request of the process is shown on its own (cold fonts).
2. The floor: WeasyPrint rendering a plain page holding the same text (no CSS but a font
   size, no SVG, one page), and the ratio of the route to it. Target: 3x or less. Shown in
   wall time (median) and in this process's CPU time (least of the runs: the steadier
   figure when other work shares the cores).
3. Where one summary's time goes, with every variant rendered in turn in each repeat so
   that load on the machine falls on all alike: the stylesheets parsed on every call and a
   new font configuration every time (how ``render_pdf`` worked before it kept them), the
   page without its body figure (SVG), without its two-cell splits (sections, rules and
   questions one under another), without the page's margin boxes, with no stylesheet; the
   HTML (summary built and template rendered), the CSS parse, WeasyPrint's layout and its
   PDF writing; the queries the route runs. Then a cProfile of one heavy PDF request,
   sorted by cumulative time (skip with ``--no-profile``).
4. Batches of each size in ``--batches`` through ``POST /staff/summaries.pdf`` as the
   queue's form sends them: from the POST to the last byte of the PDF (a batch prepared in
   the background is followed through its status page until its PDF is ready), once each
   (they are long), with the process's peak resident memory after each
   (``ru_maxrss``; it only grows, so run the sizes in increasing order) and the resident
   memory left once the batch is done (a worker keeps it).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from html import unescape
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # before site-packages, whose textstat ships a "tests" package

from flask import render_template  # noqa: E402
from sqlalchemy import event, select  # noqa: E402
from weasyprint import CSS, HTML  # noqa: E402
from weasyprint.text.fonts import FontConfiguration  # noqa: E402

from screening import create_app, demo  # noqa: E402
from screening.clinics import zone_of  # noqa: E402
from screening.extensions import db  # noqa: E402
from screening.models import Clinic, Submission  # noqa: E402
from screening.pdf import NoFetching, render_pdf  # noqa: E402
from screening.summaries import STYLESHEETS, build_summary  # noqa: E402
from tests.staff.helpers import StaffClient, make_staff  # noqa: E402
from tests.test_summaries import make_submission  # noqa: E402
from tests.worst_cases import candidates  # noqa: E402

CLINIC = "North Clinic"
STATIC = ROOT / "static"
#: Overrides for the variants of section 3 (user stylesheets, after the page's own).
NO_SPLIT = ".split--two, .split__cell { display: block !important }"
NO_MARGIN_BOXES = (
    "@page letter { @bottom-left { content: none } @bottom-right { content: none } }"
    "@page a4 { @bottom-left { content: none } @bottom-right { content: none } }"
)


def median_ms(action: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def interleaved_ms(actions: dict[str, Callable[[], object]], repeat: int) -> dict[str, float]:
    """Median per action, each repeat running every action once in turn."""
    times: dict[str, list[float]] = {name: [] for name in actions}
    for _ in range(repeat):
        for name, action in actions.items():
            start = time.perf_counter()
            action()
            times[name].append((time.perf_counter() - start) * 1000)
    return {name: statistics.median(values) for name, values in times.items()}


def interleaved_cpu_ms(
    actions: dict[str, Callable[[], object]], repeat: int
) -> dict[str, tuple[float, float]]:
    """(median wall time, least CPU time) per action, each repeat running all in turn.

    The process's CPU time is what the work costs; the wall time also holds whatever else
    the machine did meanwhile. The least CPU time of the runs is the steadiest figure on
    a shared machine (caches warm, no other process in the way)."""
    wall: dict[str, list[float]] = {name: [] for name in actions}
    cpu: dict[str, list[float]] = {name: [] for name in actions}
    for _ in range(repeat):
        for name, action in actions.items():
            start, start_cpu = time.perf_counter(), time.process_time()
            action()
            cpu[name].append((time.process_time() - start_cpu) * 1000)
            wall[name].append((time.perf_counter() - start) * 1000)
    return {name: (statistics.median(wall[name]), min(cpu[name])) for name in actions}


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_mib() -> float:
    """The resident memory now (what the worker keeps after a batch)."""
    status = Path("/proc/self/status").read_text()
    return int(re.search(r"^VmRSS:\s+(\d+)", status, re.M).group(1)) / 1024


def pages(data: bytes, folder: str) -> int:
    path = os.path.join(folder, "out.pdf")
    Path(path).write_bytes(data)
    out = subprocess.run(["pdfinfo", path], capture_output=True, text=True, check=True).stdout
    return int(re.search(r"^Pages:\s+(\d+)", out, re.M).group(1))


def text_of(html: str) -> str:
    html = re.sub(r"<svg.*?</svg>|<title>.*?</title>|<head>.*?</head>", " ", html, flags=re.S)
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def plain_page(text: str) -> str:
    """The same words as plain paragraphs of about 60 words."""
    words = text.split()
    paragraphs = (" ".join(words[i : i + 60]) for i in range(0, len(words), 60))
    body = "\n".join(f"<p>{p}</p>" for p in paragraphs)
    return f"<!doctype html><html lang=en><meta charset=utf-8><title>floor</title>{body}</html>"


def floor_render(text: str) -> tuple[Callable[[], bytes], float]:
    """A plain one-page render of ``text``: the largest font size from 9pt that fits."""
    size = 9.0
    while True:
        html = plain_page(text)
        css = CSS(string=f"html {{ font-size: {size}pt }}")
        if len(HTML(string=html).render(stylesheets=[css]).pages) == 1 or size <= 5:
            break
        size -= 0.25

    def render() -> bytes:
        return HTML(string=html, url_fetcher=NoFetching()).write_pdf(stylesheets=[css])

    return render, size


def legacy_render(html: str) -> bytes:
    """``render_pdf`` as it was: stylesheets parsed from strings, new fonts every call."""
    css = [CSS(string=(STATIC / name).read_text(encoding="utf-8")) for name in STYLESHEETS]
    return HTML(string=html, url_fetcher=NoFetching()).write_pdf(stylesheets=css)


def setup(folder: str, largest_batch: int):
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "bench-secret-key-that-is-long-enough-0123456789",
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{os.path.join(folder, 'bench.sqlite3')}",
            "SERVER_NAME": "localhost",
            "SESSION_COOKIE_SECURE": False,
            "RATELIMIT_ENABLED": False,
        }
    )
    with app.app_context():
        db.create_all()
    account = make_staff(app, "bench.clinician", "clinician", clinics=[CLINIC])
    with app.app_context():
        clinic = db.session.scalar(select(Clinic).where(Clinic.name == CLINIC))
        typical = make_submission("V01")
        heavy = next(candidates(4))  # the first has every box ticked and every text full
        for item in (typical, heavy):
            item.clinic_id = clinic.id
            db.session.add(item)
        db.session.commit()
        ids = {"typical": typical.public_id, "heavy": heavy.public_id}
        demo.seed(largest_batch, seed=11, clinics=[CLINIC])
        batch = list(
            db.session.scalars(
                select(Submission.public_id)
                .where(Submission.public_id.not_in(ids.values()))
                .order_by(Submission.id)
            )
        )
    client = StaffClient(app.test_client())
    client.sign_in(account)
    client.get("/staff/")  # a CSRF token for the batch form
    return app, client, ids, batch


def summary_html(app, public_id: str) -> str:
    with app.test_request_context():
        item = db.session.scalar(select(Submission).where(Submission.public_id == public_id))
        summary = build_summary(item, timezone=zone_of(item.clinic))
        paper = app.config.get("SUMMARY_PAPER", "letter")
        return render_template("print/summary.html", summary=summary, paper=paper, pdf=True)


def fetch_batch(client: StaffClient, ids: list[str]) -> tuple[bytes, float]:
    """POST the queue's form; follow a background batch until its PDF is ready.

    Returns the PDF and how long the POST itself took (what the person waits for before
    seeing either the file or the progress page).
    """
    start = time.perf_counter()
    response = client.client.post(
        "/staff/summaries.pdf", data={"ids": ids, "csrf_token": client.token}
    )
    answered = time.perf_counter() - start
    if response.mimetype == "application/pdf":
        return response.get_data(), answered
    assert response.status_code == 303, response.status_code
    status_url = response.headers["Location"] + "/status"
    while True:
        state = client.client.get(status_url).get_json()
        if state["state"] == "done":
            break
        assert state["state"] in ("waiting", "running"), state
        time.sleep(0.1)
    download = client.client.get(state["pdf_url"])
    assert download.mimetype == "application/pdf", download.status_code
    return download.get_data(), answered


def count_queries(app, action: Callable[[], object]) -> tuple[int, float]:
    found: list[float] = []
    started: list[float] = []

    def before(*_args):
        started.append(time.perf_counter())

    def after(*_args):
        found.append((time.perf_counter() - started.pop()) * 1000)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    try:
        action()
    finally:
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "after_cursor_execute", after)
    return len(found), sum(found)


def profile_top(action: Callable[[], object], lines: int = 45) -> str:
    profile = cProfile.Profile()
    profile.enable()
    action()
    profile.disable()
    out = io.StringIO()
    stats = pstats.Stats(profile, stream=out)
    stats.sort_stats("cumulative").print_stats(lines)
    stats.sort_stats("tottime").print_stats(12)
    text = out.getvalue()
    for prefix in {p for p in sys.path if p.endswith("site-packages")} | {str(ROOT) + "/"}:
        text = text.replace(prefix, "")
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs per figure (median)")
    parser.add_argument("--batches", type=int, nargs="*", default=[50, 200])
    parser.add_argument("--no-profile", action="store_true")
    args = parser.parse_args()
    batches = sorted(args.batches)
    folder = tempfile.TemporaryDirectory()
    app, client, ids, batch_ids = setup(folder.name, max(batches, default=1))
    print(f"summary PDF benchmark, SQLite, {os.cpu_count()} cores, median of {args.repeat} (ms)")

    def route(kind: str) -> Callable[[], bytes]:
        url = f"/staff/submissions/{ids[kind]}/summary.pdf"

        def get() -> bytes:
            response = client.client.get(url)
            assert response.mimetype == "application/pdf", response.status_code
            return response.get_data()

        return get

    cold = median_ms(route("typical"), 1)
    print(f"\n1-2. one summary through GET .../summary.pdf (first request: {cold:.0f} ms)")
    html = {kind: summary_html(app, ids[kind]) for kind in ids}
    for kind in ids:
        sheets = pages(route(kind)(), folder.name)  # the summary should be one page
        floor, size = floor_render(text_of(html[kind]))
        floor()
        got = interleaved_cpu_ms({"route": route(kind), "floor": floor}, args.repeat)
        (wall, cpu), (floor_wall, floor_cpu) = got["route"], got["floor"]
        print(
            f"  {kind:<8} route {wall:6.0f} ({sheets} page{'s' * (sheets > 1)})   "
            f"floor {floor_wall:5.0f} ({len(text_of(html[kind])):,} characters at "
            f"{size:g}pt, 1 page)   ratio {wall / floor_wall:4.1f}x"
            f"   CPU {cpu:.0f} / {floor_cpu:.0f} = {cpu / floor_cpu:4.1f}x"
        )

    print("\n3. where one summary's time goes (rendering the same HTML; ms)")
    with app.app_context():
        font_config = FontConfiguration()
        sheets = [CSS(string=(STATIC / n).read_text(encoding="utf-8")) for n in STYLESHEETS]
        extra = {text: CSS(string=text) for text in (NO_SPLIT, NO_MARGIN_BOXES)}

        def render(page: str, styles) -> Callable[[], bytes]:
            return lambda: HTML(string=page, url_fetcher=NoFetching()).write_pdf(
                stylesheets=styles, font_config=font_config
            )

        variants: dict[str, Callable[[str], Callable[[], bytes]]] = {
            "render_pdf (as served)": lambda page: lambda: render_pdf(page, STYLESHEETS),
            "before: CSS parsed per call": lambda page: lambda: legacy_render(page),
            "CSS kept, fonts kept": lambda page: render(page, sheets),
            "without the SVG figure": lambda page: render(
                re.sub(r"<svg.*?</svg>", "", page, flags=re.S), sheets
            ),
            "without the two-cell splits": lambda page: render(page, [*sheets, extra[NO_SPLIT]]),
            "without SVG nor splits": lambda page: render(
                re.sub(r"<svg.*?</svg>", "", page, flags=re.S), [*sheets, extra[NO_SPLIT]]
            ),
            "without margin boxes": lambda page: render(page, [*sheets, extra[NO_MARGIN_BOXES]]),
            "no stylesheet at all": lambda page: render(page, []),
        }
        results = {}
        for kind in ids:
            actions = {name: make(html[kind]) for name, make in variants.items()}
            for action in actions.values():
                action()  # warm
            results[kind] = interleaved_ms(actions, args.repeat)
        print(f"  {'variant':<30}{'typical':>9}{'heavy':>9}")
        for name in variants:
            print(f"  {name:<30}" + "".join(f"{results[k][name]:9.0f}" for k in ids))

        parts: dict[str, dict[str, float]] = {}
        for kind in ids:
            doc_html = html[kind]
            document = HTML(string=doc_html, url_fetcher=NoFetching()).render(
                stylesheets=sheets, font_config=font_config
            )
            parts[kind] = interleaved_ms(
                {
                    "HTML: summary + template": lambda kind=kind: summary_html(app, ids[kind]),
                    "CSS parse (both files)": lambda: [
                        CSS(string=(STATIC / n).read_text(encoding="utf-8")) for n in STYLESHEETS
                    ],
                    "WeasyPrint HTML parse": lambda doc_html=doc_html: HTML(string=doc_html),
                    "style + layout (render)": lambda doc_html=doc_html: HTML(
                        string=doc_html, url_fetcher=NoFetching()
                    ).render(stylesheets=sheets, font_config=font_config),
                    "PDF writing (write_pdf)": lambda document=document: document.write_pdf(),
                },
                args.repeat,
            )
        for name in parts["typical"]:
            print(f"  {name:<30}" + "".join(f"{parts[k][name]:9.1f}" for k in ids))
    queries = {kind: count_queries(app, route(kind)) for kind in ids}
    print(
        f"  {'queries in the request':<30}"
        + "".join(f"{n:>4} {ms:4.1f}" for n, ms in queries.values())
        + "  (count, ms)"
    )

    if not args.no_profile:
        print("\n3b. cProfile of one heavy summary PDF request, by cumulative time")
        print(profile_top(route("heavy")))

    print("4. batches through POST /staff/summaries.pdf (one run each)")
    for size in batches:
        before = peak_mib()
        start = time.perf_counter()
        data, answered = fetch_batch(client, batch_ids[:size])
        seconds = time.perf_counter() - start
        for thread in threading.enumerate():  # a background batch tidies up as it ends
            if thread.name.startswith("summary-batch-"):
                thread.join()
        count = pages(data, folder.name)
        print(
            f"  {size:>4} summaries: {seconds:6.1f} s  {seconds / size * 1000:5.0f} ms each  "
            f"POST answered in {answered:5.2f} s  {count} pages  {len(data) / 1024:,.0f} KiB  "
            f"peak RSS {peak_mib():,.0f} MiB (was {before:,.0f}; {rss_mib():,.0f} after)"
        )
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    folder.cleanup()


if __name__ == "__main__":
    main()
