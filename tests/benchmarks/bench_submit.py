"""Load benchmark: simulated patients walk every page and submit, against real gunicorn.

Not a test (pytest does not collect ``bench_*.py``). It reports lost and
duplicated submissions (both must be 0), 5xx responses and latency. Run from the repository root::

    .venv/bin/python tests/benchmarks/bench_submit.py [--patients 20] [--concurrency 4]
        [--workers 2] [--database-url URL]

Without a database URL (flag or ``DATABASE_URL``) it uses a fresh SQLite file in a
temporary directory. With one, that database must be empty or migrated: the script runs
``flask db upgrade`` on it first and adds rows. Everything talks to 127.0.0.1 only; the
number of requests is bounded by --patients (about 35 requests per patient) and every
request times out after 30 s. gunicorn is stopped at the end, also on error.

Each patient uses its own cookie store and reads the CSRF token from every page, like a
browser. After the run the rows in the database are reconciled with what the patients
were told: lost = acknowledged - matched by reference code, which must be 0.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from http import client as http_client
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Run as a script: make the checkout importable ahead of site-packages, which holds an
# unrelated top-level ``tests`` package (shipped by textstat 0.7.8).
sys.path.insert(0, str(ROOT))

from screening.patient import steps  # noqa: E402
from tests.benchmarks.served import (  # noqa: E402
    Browser,
    clinic_today,
    flask_command,
    git_commit,
    percentile,
    production_env,
    start_gunicorn,
    stop,
)
from tests.factories import BASELINE, CONTACT  # noqa: E402
from tests.patient_client import page_data  # noqa: E402

REFERENCE_RE = re.compile(r"\b[2-9A-HJ-NP-Z]{3}-[2-9A-HJ-NP-Z]{3}-[2-9A-HJ-NP-Z]{3}\b")
MAX_PATIENTS = 2000
MAX_CONCURRENCY = 64


@dataclass
class Outcome:
    name: str
    acknowledged: bool = False
    reference: str | None = None
    page_posts: int = 0
    post_latencies: list[float] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)
    error: str | None = None
    #: The request failed without a response (reset, timeout): never retried.
    no_response: bool = False


def walk(port: int, name: str, today: date) -> Outcome:
    """One patient: every page that applies, check answers, consent, submit, confirmation."""
    outcome = Outcome(name)
    browser = Browser(port)
    contact = {**CONTACT, "full_name": name}
    try:
        for step in steps.STEPS:
            if not step.applies(BASELINE):
                continue
            status, _, _ = browser.request("GET", f"/step/{step.id}")
            outcome.statuses[status] += 1
            start = time.perf_counter()
            status, _, _ = browser.request(
                "POST", f"/step/{step.id}", page_data(step, BASELINE, today, contact)
            )
            outcome.post_latencies.append(time.perf_counter() - start)
            outcome.statuses[status] += 1
            outcome.page_posts += 1
            if status != 303:
                outcome.error = f"{step.id}: {status}"
                return outcome
        status, _, _ = browser.request("GET", "/review")
        outcome.statuses[status] += 1
        status, location, _ = browser.request("POST", "/submit", {"consent": "y"})
        outcome.statuses[status] += 1
        outcome.acknowledged = status == 303 and location.endswith("/done")
        if not outcome.acknowledged:
            outcome.error = f"submit: {status} {location}"
            return outcome
        status, _, text = browser.request("GET", "/done")
        outcome.statuses[status] += 1
        if match := REFERENCE_RE.search(text):
            outcome.reference = match.group(0)
    except (OSError, http_client.HTTPException) as exc:
        outcome.error = f"{type(exc).__name__}: {exc}"
        outcome.no_response = True
    finally:
        browser.conn.close()
    return outcome


def stored_rows(env: dict[str, str]) -> tuple[list[tuple[str, str, str]], str | None]:
    """Return (reference, submit_key, full_name) of every row, and SQLite's integrity check."""
    os.environ.update(env)
    from sqlalchemy import select, text

    from screening import create_app
    from screening.extensions import db
    from screening.models import Submission

    app = create_app()
    with app.app_context():
        rows = [
            (s.reference, s.submit_key, s.personal.get("full_name"))
            for s in db.session.scalars(select(Submission))
        ]
        integrity = None
        if db.engine.dialect.name == "sqlite":
            integrity = db.session.execute(text("PRAGMA integrity_check")).scalar()
        db.session.remove()
        db.engine.dispose()
    return rows, integrity


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    args = parser.parse_args()
    if not 1 <= args.patients <= MAX_PATIENTS or not 1 <= args.concurrency <= MAX_CONCURRENCY:
        parser.error(f"--patients 1..{MAX_PATIENTS}, --concurrency 1..{MAX_CONCURRENCY}")

    with tempfile.TemporaryDirectory(prefix="bench-submit-") as tmp:
        url = args.database_url or f"sqlite:///{tmp}/bench.sqlite3"
        engine = "PostgreSQL" if url.startswith("postgres") else "SQLite"
        env = production_env(url, tmp)
        # A clinic to send to: with none, the form does not start (nothing would submit).
        flask_command(env, "db", "upgrade")
        flask_command(env, "clinic", "add", "Benchmark Clinic")
        log_path = Path(tmp) / "gunicorn.log"
        process, port = start_gunicorn(
            "screening:create_app()", env, log_path, workers=args.workers
        )
        try:
            today = clinic_today()
            names = [f"Bench patient {i:05d}" for i in range(args.patients)]
            started = time.perf_counter()
            with ThreadPoolExecutor(max_workers=args.concurrency) as pool:
                outcomes = list(pool.map(lambda n: walk(port, n, today), names))
            elapsed = time.perf_counter() - started
        finally:
            stop(process)
        log_text = log_path.read_text(errors="replace")
        rows, integrity = stored_rows(env)

    report(args, engine, outcomes, elapsed, rows, integrity, log_text)
    lost = sum(1 for o in outcomes if o.acknowledged) - matched(outcomes, rows)
    failed = any(o.error for o in outcomes) or lost or duplicates(rows)
    return 1 if failed else 0


def matched(outcomes: list[Outcome], rows: list[tuple[str, str, str]]) -> int:
    by_reference = {reference: name for reference, _, name in rows}
    return sum(
        1 for o in outcomes if o.acknowledged and by_reference.get(o.reference or "") == o.name
    )


def duplicates(rows: list[tuple[str, str, str]]) -> int:
    """Extra rows for one patient, for one draft key or with one reference code."""
    extra = 0
    for column in range(3):
        counts = Counter(row[column] for row in rows)
        extra += sum(n - 1 for n in counts.values() if n > 1)
    return extra


def report(args, engine, outcomes, elapsed, rows, integrity, log_text) -> None:
    statuses: Counter = Counter()
    for o in outcomes:
        statuses.update(o.statuses)
    latencies = [t for o in outcomes for t in o.post_latencies]
    acknowledged = sum(1 for o in outcomes if o.acknowledged)
    page_posts = sum(o.page_posts for o in outcomes)
    commit = git_commit()
    lines = [
        ("engine", engine),
        ("commit", commit),
        ("machine cores", os.cpu_count()),
        ("gunicorn workers", f"{args.workers} (sync)"),
        ("patients", args.patients),
        ("concurrency", args.concurrency),
        ("duration", f"{elapsed:.2f} s"),
        ("requests sent", sum(statuses.values())),
        ("pages posted", page_posts),
        ("submissions acknowledged", acknowledged),
        ("rows found in the database", len(rows)),
        ("lost (acknowledged - matched)", acknowledged - matched(outcomes, rows)),
        ("duplicates", duplicates(rows)),
        ("responses >= 500", sum(n for s, n in statuses.items() if s >= 500)),
        ("requests without a response", sum(1 for o in outcomes if o.no_response)),
        ('"database is locked" in log', log_text.count("database is locked")),
        ("unhandled errors in log", log_text.count("unhandled error")),
        ("status counts", dict(sorted(statuses.items()))),
        ("throughput", f"{acknowledged / elapsed:.2f} submissions/s"),
        ("", f"{page_posts / elapsed:.1f} page posts/s"),
        (
            "page post latency",
            "p50 {:.0f} ms, p95 {:.0f} ms, p99 {:.0f} ms, max {:.0f} ms".format(
                *(percentile(latencies, p) * 1000 for p in (50, 95, 99)),
                (max(latencies) if latencies else float("nan")) * 1000,
            ),
        ),
    ]
    if integrity is not None:
        lines.append(("SQLite integrity_check", integrity))
    for label, value in lines:
        print(f"{label:32} {value}")
    errors = [o for o in outcomes if o.error]
    for o in errors[:10]:
        print(f"  {o.name}: {o.error}")
    if len(errors) > 10:
        print(f"  ... and {len(errors) - 10} more patients with errors")


if __name__ == "__main__":
    sys.exit(main())
