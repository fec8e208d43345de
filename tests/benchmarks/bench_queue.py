"""How the staff queue scales: first page, filters and search at 1,000 and 100,000 rows.

Not a test: it prints figures. Run it on SQLite (a temporary file) or, with DATABASE_URL
set, on PostgreSQL (the database is emptied first)::

    .venv/bin/python tests/benchmarks/bench_queue.py [--sizes 1000 100000] [--repeat 20]

For each size it seeds demo submissions (the real scorer, spread over three clinics and
120 days; names drawn as often as real ones are, see ``demo.FIRST_NAMES``), then times,
as the median of ``--repeat`` runs:

- the queries behind the queue page (first page + count + counts per status), for an
  administrator (all clinics) and for intake staff of one clinic;
- a filter (status and outcome), for both;
- the counts per status alone (administrator): each reads up to ``queue.COUNT_CAP`` + 1
  index entries, so they grow with the table until every status holds more than that,
  and then stop;
- searches, for the administrator: a reference; a typical full name (of the 101 latest
  submissions of the clinic, the one whose name is shared by the median number of
  people); the most common demo name ("alex example", 20 to 30 people at 100,000); a
  whole phone number; the most common first name alone (too broad: more than
  ``queue.SEARCH_CAP`` matches, so the page asks for more). Names and phone numbers are
  encrypted: every search but the reference is a lookup of keyed digests
  (``search_index``);
- the whole page through the Flask test client as a signed-in intake user (queries,
  audit write, rendering), which is what a person waits for: the queue, a search for the
  typical name, and one for the common name.

It then prints how many submissions each search matched, since a search that lists
more rows costs more to show (25 at most: one page).

Target: the 100,000 figure within 1.5x of the 1,000 figure.
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

from sqlalchemy import func, select  # noqa: E402

from screening import create_app, demo, search_index  # noqa: E402
from screening.config import database_url_from_env  # noqa: E402
from screening.extensions import db  # noqa: E402
from screening.models import Clinic, SearchToken, StaffUser, Submission  # noqa: E402
from screening.staff import queue  # noqa: E402
from tests.staff.helpers import StaffClient, make_staff  # noqa: E402

#: The most common full name of the demo data (its first first name and last name).
COMMON_NAME = f"{demo.FIRST_NAMES[0]} {demo.LAST_NAMES[0]}".lower()


def median_ms(action, repeat: int) -> float:
    action()  # warm caches and the query planner
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def run(size: int, repeat: int, url: str) -> tuple[dict[str, float], dict[str, int]]:
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
        # PostgreSQL's autovacuum gathers statistics and marks pages all-visible on its
        # own, soon after a bulk load like this one; VACUUM ANALYZE does now what it would,
        # so the index-only scans behind the counts are measured as a running clinic has
        # them and not in the minute after 100,000 inserts (when each index entry also
        # costs a heap visit). SQLite keeps no statistics unless someone runs ANALYZE, which
        # the application never does: the plans measured are the ones a deployment gets.
        if db.engine.dialect.name == "postgresql":
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("VACUUM ANALYZE")
        clinic = db.session.scalar(select(Clinic).order_by(Clinic.id)).name
    admin_account = make_staff(app, "bench.admin", "admin")
    intake_account = make_staff(app, "bench.intake", "intake", clinics=[clinic])
    figures: dict[str, float] = {"seed_s": seeded}
    with app.app_context():
        admin = db.session.get(StaffUser, admin_account.id)
        intake = db.session.get(StaffUser, intake_account.id)
        assert intake.clinics, "the intake user must belong to a clinic"
        everything = queue.Filters()
        narrow = queue.Filters(status="new", outcome="DISCUSS_WITH_CONCERNS")
        sample = typical_submission(intake.clinics[0].id)
        terms = {
            "reference": sample.reference,
            "full_name": sample.personal["full_name"],
            "common_name": COMMON_NAME,
            "phone": sample.personal["phone"],
            "first_name": demo.FIRST_NAMES[0],
        }

        def first_page(user, filters, search="", everywhere=False):
            return lambda: (
                queue.page_of(user, filters, search, everywhere),
                queue.status_counts(user, filters, everywhere),
            )

        figures["queue_admin_ms"] = median_ms(first_page(admin, everything, "", True), repeat)
        figures["queue_one_clinic_ms"] = median_ms(first_page(intake, everything), repeat)
        figures["filter_admin_ms"] = median_ms(first_page(admin, narrow, "", True), repeat)
        figures["filter_one_clinic_ms"] = median_ms(first_page(intake, narrow), repeat)
        # The front desk's everyday views: their own work, and the finished work.
        mine = queue.Filters(assignee=intake.id)
        figures["assigned_to_me_ms"] = median_ms(first_page(intake, mine), repeat)
        done = queue.Filters(view="done")
        figures["done_one_clinic_ms"] = median_ms(first_page(intake, done), repeat)
        figures["all_one_clinic_ms"] = median_ms(
            first_page(intake, queue.Filters(view="all")), repeat
        )
        # The part of every page above that grows with the table up to the count cap.
        figures["counts_only_admin_ms"] = median_ms(
            lambda: queue.status_counts(admin, everything, True), repeat
        )
        for name, term in terms.items():
            figures[f"search_{name}_ms"] = median_ms(
                first_page(admin, everything, term, True), repeat
            )
        matches = {
            f"admin: {name}": queue.page_of(admin, everything, term, True).total
            for name, term in terms.items()
        }
        for name in ("full_name", "common_name"):
            found = queue.page_of(intake, everything, terms[name])
            matches[f"one clinic: {name}"] = found.total
    client = StaffClient(app.test_client())
    client.sign_in(intake_account)

    def search(term):
        return lambda: client.client.post(
            "/staff/search", data={"q": term, "csrf_token": client.token}
        ).close()

    figures["page_http_ms"] = median_ms(lambda: client.client.get("/staff/").close(), repeat)
    figures["search_http_ms"] = median_ms(search(terms["full_name"]), repeat)
    figures["search_http_common_ms"] = median_ms(search(COMMON_NAME), repeat)
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    return figures, matches


def typical_submission(clinic_id: int) -> Submission:
    """Of the clinic's 101 latest submissions, one whose full name is as common as most.

    The one in the middle when ordered by how many submissions share the name (then id).
    """
    recent = db.session.scalars(
        select(Submission)
        .where(Submission.clinic_id == clinic_id)
        .order_by(Submission.id.desc())
        .limit(101)
    ).all()
    # The name's digest counts the people who share it (the names themselves are encrypted).
    name = {row.id: search_index.term_digests(row.personal["full_name"])[0] for row in recent}
    shared = dict(
        db.session.execute(
            select(SearchToken.digest, func.count())
            .where(SearchToken.digest.in_(set(name.values())))
            .group_by(SearchToken.digest)
        ).all()
    )
    return sorted(recent, key=lambda row: (shared[name[row.id]], row.id))[len(recent) // 2]


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
    header = "".join(f"{size:>14,}" for size in args.sizes)
    print(f"{'measure':<24}{header}    ratio")
    for name in results[args.sizes[0]][0]:
        values = [results[size][0][name] for size in args.sizes]
        ratio = values[-1] / values[0] if values[0] else float("nan")
        print(f"{name:<24}" + "".join(f"{v:>14.1f}" for v in values) + f"    {ratio:5.2f}x")
    print(f"\nsubmissions matched (more than {queue.SEARCH_CAP}: too many to list)")
    print(f"{'search':<24}{header}")
    for name in results[args.sizes[0]][1]:
        counts = [results[size][1][name] for size in args.sizes]
        shown = [f">{queue.SEARCH_CAP}" if c > queue.SEARCH_CAP else str(c) for c in counts]
        print(f"{name:<24}" + "".join(f"{c:>14}" for c in shown))
    if tmp:
        tmp.cleanup()


if __name__ == "__main__":
    main()
