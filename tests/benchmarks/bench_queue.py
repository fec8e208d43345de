"""How the staff queue scales: first page, filters and search at 1,000 and 100,000 rows.

Not a test: it prints figures. Run it on SQLite (a temporary file) or, with DATABASE_URL
set, on PostgreSQL (the database is emptied first)::

    .venv/bin/python tests/benchmarks/bench_queue.py [--sizes 1000 100000] [--repeat 20]

For each size it seeds demo submissions (the real scorer, spread over three clinics and
120 days), then times, as the median of ``--repeat`` runs:

- the queries behind the queue page (first page + count + counts per status), for an
  administrator (all clinics) and for intake staff of one clinic;
- a filter (status and outcome) and a search by name and by phone;
- the whole page through the Flask test client as a signed-in user (queries, audit write,
  rendering), which is what a person waits for.

Target (issue 5): the 100,000 figure within 1.5x of the 1,000 figure.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # before site-packages, whose textstat ships a "tests" package

from sqlalchemy import select  # noqa: E402

from screening import create_app, demo  # noqa: E402
from screening.config import database_url_from_env  # noqa: E402
from screening.extensions import db  # noqa: E402
from screening.models import Clinic, StaffUser, Submission  # noqa: E402
from screening.staff import queue  # noqa: E402
from tests.staff.helpers import StaffClient, make_staff  # noqa: E402


def median_ms(action, repeat: int) -> float:
    action()  # warm caches and the query planner
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def run(size: int, repeat: int, url: str) -> dict[str, float]:
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "bench-secret-key-that-is-long-enough-0123456789",
            "SQLALCHEMY_DATABASE_URI": url,
            "SERVER_NAME": "localhost",
            "SESSION_COOKIE_SECURE": False,
            "RATELIMIT_ENABLED": False,
        }
    )
    with app.app_context():
        db.drop_all()
        db.create_all()
        started = time.perf_counter()
        demo.seed(size, seed=7)
        seeded = time.perf_counter() - started
        if db.engine.dialect.name == "postgresql":
            with db.engine.connect() as conn:
                conn.exec_driver_sql("ANALYZE")
                conn.commit()
        else:
            with db.engine.connect() as conn:
                conn.exec_driver_sql("ANALYZE")
        clinic = db.session.scalar(select(Clinic).order_by(Clinic.id)).name
    admin_account = make_staff(app, "bench.admin", "admin")
    intake_account = make_staff(app, "bench.intake", "intake", clinics=[clinic])
    figures: dict[str, float] = {"seed_s": seeded}
    with app.app_context():
        admin = db.session.get(StaffUser, admin_account.id)
        intake = db.session.get(StaffUser, intake_account.id)
        everything = queue.Filters()
        narrow = queue.Filters(status="new", outcome="DISCUSS_WITH_CONCERNS")
        # Demo data reuses a small set of names and phone numbers, so a short prefix
        # matches ~1% of rows: its cost grows with the data by nature. A reference and a
        # full name match a near-constant number of rows, as real searches do.
        sample = db.session.scalar(select(Submission).order_by(Submission.id.desc()).limit(1))
        some_name = sample.search_last

        def first_page(user, filters, search=""):
            return lambda: (
                queue.page_of(user, filters, search),
                queue.status_counts(user, filters),
            )

        figures["queue_admin_ms"] = median_ms(first_page(admin, everything), repeat)
        assert intake.clinics, "the intake user must belong to a clinic"
        figures["queue_one_clinic_ms"] = median_ms(first_page(intake, everything), repeat)
        figures["filter_ms"] = median_ms(first_page(admin, narrow), repeat)
        figures["search_reference_ms"] = median_ms(
            first_page(admin, everything, sample.reference), repeat
        )
        figures["search_full_name_ms"] = median_ms(
            first_page(admin, everything, sample.search_name), repeat
        )
        figures["search_broad_prefix_ms"] = median_ms(
            first_page(admin, everything, some_name[:4]), repeat
        )
    client = StaffClient(app.test_client())
    client.sign_in(intake_account)
    full_name = sample.search_name
    figures["page_http_ms"] = median_ms(lambda: client.client.get("/staff/").close(), repeat)
    figures["search_http_ms"] = median_ms(
        lambda: client.client.post(
            "/staff/search", data={"q": full_name, "csrf_token": client.token}
        ).close(),
        repeat,
    )
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 100_000])
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    url = database_url_from_env()
    tmp = None
    if not url:
        tmp = tempfile.TemporaryDirectory()
        url = f"sqlite:///{os.path.join(tmp.name, 'bench.sqlite3')}"
    engine = "PostgreSQL" if url.startswith("postgres") else "SQLite"
    print(f"queue benchmark on {engine}, median of {args.repeat} runs (ms), 2 cores, one process")
    results = {size: run(size, args.repeat, url) for size in args.sizes}
    names = list(next(iter(results.values())))
    print(f"{'measure':<22}" + "".join(f"{size:>14,}" for size in args.sizes) + "    ratio")
    for name in names:
        values = [results[size][name] for size in args.sizes]
        ratio = values[-1] / values[0] if values[0] else float("nan")
        print(f"{name:<22}" + "".join(f"{v:>14.1f}" for v in values) + f"    {ratio:5.2f}x")
    if tmp:
        tmp.cleanup()


if __name__ == "__main__":
    main()
