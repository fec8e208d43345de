"""Server CPU per request: our app against a bare Flask app, both under gunicorn.

Not a test (pytest does not collect ``bench_*.py``). Run from the repository root::

    .venv/bin/python tests/benchmarks/bench_server.py [--database-url URL] [--seconds 4]
        [--segments 3] [--warmup 2] [--connections 32] [--rows 1,2,3,4]
        [--page health-history] [--profile N] [--profile-only]

Two servers run side by side on 127.0.0.1, each gunicorn with 2 sync workers:

- **screening**, configured for production as the README deploys it
  (``SCREENING_ENVIRONMENT=production``, a random ``SECRET_KEY`` and audit key, data keys
  in a 0600 key file, ``TRUSTED_PROXY_COUNT=0`` since the clients reach gunicorn
  directly). The rate limits stay on, counted in the database as in production, with two
  windows each as the defaults have; only their numbers are raised so that the load is
  never refused: ``RATELIMIT_PAGE``, ``RATELIMIT_SUBMIT``, ``RATELIMIT_PATIENT_ADDRESS``
  and ``RATELIMIT_LOGIN`` (all clients share 127.0.0.1) are set to :data:`RAISED_LIMIT`.
- **bare**, ``bare_app.py`` beside this file: the same libraries (Flask, Jinja, Flask-WTF
  with its CSRF token, Flask-SQLAlchemy) and the same database engine, and nothing else.

Without a database URL (flag or ``DATABASE_URL``) both use fresh SQLite files in a
temporary directory. With one (PostgreSQL), it must be empty or migrated and hold no
submission: the script runs ``flask db upgrade``, adds a clinic, 1,000 demo submissions,
staff accounts and drafts, and the bare app's table (dropped again at the end).

Four rows, each compared with its bare equivalent:

1. a question page (``--page``) opened with an existing draft; bare: ``GET /``;
2. the same page sent with valid answers (the draft saved, 303 to the next page); bare:
   the CSRF-checked ``POST /`` that inserts one row and answers 303;
3. a complete draft submitted (scored, stored, 303 to ``/done``); bare: the same POST;
4. the staff queue's first page, signed in as intake staff of the clinic that holds the
   1,000 demo submissions; bare: ``GET /``. Rows run in the order 1, 2, 4, 3, so the
   queue sees exactly the 1,000 seeded submissions.

Every client thread holds one connection (``http.client``; gunicorn's sync workers
close it after each response, so each request opens a new one) and its own cookies, and
sends the next request as soon as the last one is answered: ``--connections`` of them at
once. How the clients get their state, outside the measured time: one patient walks
every page over HTTP (``tests.patient_client.page_data``); its draft is then copied in the
database once per connection (rows 1 and 2) and once per submit (row 3), each copy with
its own token in a session cookie signed with the app's key, and the CSRF token of the
walk (it is bound to the session's CSRF secret, which the copies keep). Staff accounts
are made in-process (one per connection: a TOTP code works once per account) and sign in
over HTTP with password and code. The bare app's clients open its page once.

Per row: a warm-up (``--warmup`` seconds per server, not measured), then ``--segments``
measured segments per server, interleaved (screening, bare, screening, bare...), so
noise from the rest of the machine falls on both alike. Each segment lasts ``--seconds``
and sends at most :data:`MAX_REQUESTS_PER_SEGMENT` requests. Server CPU is read from
``/proc/<pid>/stat`` (user + system time, and that of reaped children) of every process
in gunicorn's process group, before and after the segment; CPU ms per request is the
total over the measured segments divided by their requests. Latency is measured by the
client (connection, request, whole response).

Every response is checked (status, and the Location of a redirect); any unexpected one
or a request without a response makes the run INVALID, with counts. Submissions are
reconciled: every submit acknowledged with 303 to ``/done`` must be in the database
(lost = acknowledged - stored, which must be 0); the bare app's rows likewise.

``--profile N`` then sends N requests of each row in-process through the Flask test
client, on the same database with the same settings: it prints the CPU ms per request
without a server, the SQL statements per request by kind and table, and the top 25
entries by cumulative time under cProfile. ``--profile-only`` skips the servers.

gunicorn is stopped at the end, also on error or SIGTERM.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import itertools
import math
import os
import pstats
import queue
import re
import secrets
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http import client as http_client
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[2]
# Run as a script: make the checkout importable ahead of site-packages, which holds an
# unrelated top-level ``tests`` package (shipped by textstat 0.7.8).
sys.path.insert(0, str(ROOT))

from sqlalchemy import event, func, select  # noqa: E402

from screening import create_app, demo  # noqa: E402
from screening.config import database_url_from_env  # noqa: E402
from screening.extensions import db  # noqa: E402
from screening.models import (  # noqa: E402
    Clinic,
    Draft,
    Submission,
    readable_code,
    token_hash,
    utcnow,
)
from screening.patient import drafts as draft_store  # noqa: E402
from screening.patient import steps  # noqa: E402
from tests.benchmarks import bare_app  # noqa: E402
from tests.benchmarks.served import (  # noqa: E402
    Browser,
    clinic_today,
    flask_command,
    git_commit,
    group_cpu_seconds,
    group_processes,
    machine_cpu,
    percentile,
    production_env,
    start_gunicorn,
    stop,
    stop_on_sigterm,
)
from tests.factories import BASELINE, CONTACT  # noqa: E402
from tests.patient_client import Patient, page_data  # noqa: E402
from tests.staff.helpers import Account, StaffClient, make_staff  # noqa: E402

CLINIC = "Benchmark Clinic"
QUEUE_SIZE = 1000
#: High enough that no limit is reached; two windows, as the defaults have.
RAISED_LIMIT = "1000000 per minute;10000000 per hour"
RAISED_SETTINGS = ("PAGE", "SUBMIT", "PATIENT_ADDRESS", "LOGIN")
MAX_REQUESTS_PER_SEGMENT = 20_000
MAX_SUBMITS_PER_SEGMENT = 5_000
#: Submits per second assumed before any was measured (to size the first pool of drafts).
FIRST_SUBMIT_RATE = 150.0
ROW_NAMES = {
    1: ("question page GET, with a draft", "GET the form page"),
    2: ("question page POST, saved, 303", "POST one row, 303"),
    3: ("submit a complete draft, 303", "POST one row, 303"),
    4: ("staff queue, 1,000 submissions", "GET the form page"),
}
#: The queue (4) before the submits (3): it then holds exactly the seeded submissions.
EXECUTION_ORDER = (1, 2, 4, 3)
BARE_FORM = {"name": "Alex Example", "choice": "m", "note": "Left shoulder, mostly at night."}


STARTED = time.monotonic()


def note(message: str) -> None:
    """Progress, on stderr (the figures go to stdout)."""
    print(f"[{time.monotonic() - STARTED:5.0f} s] {message}", file=sys.stderr, flush=True)


class PoolEmpty(Exception):
    """No prepared draft left for this segment."""


# ------------------------------------------------------------------ clients and workloads


@dataclass
class Workload:
    """One kind of request against one server, and the answer it must get."""

    browsers: list[Browser]
    method: str
    path: str
    form: dict | None = None
    status: int = 200
    #: Path the Location must have (redirects only).
    location: str | None = None
    #: Session cookies, one per request (submits): each request takes the next one.
    pool: queue.Queue | None = None
    cookie_name: str = ""
    refill: Callable[[int], list[str]] | None = None
    rate: float = FIRST_SUBMIT_RATE
    acknowledged: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def before(self, seconds: float, connections: int) -> None:
        """Top the pool up for a segment of ``seconds`` (twice the rate seen so far)."""
        if self.refill is None or self.pool is None:
            return
        wanted = min(MAX_SUBMITS_PER_SEGMENT, math.ceil(self.rate * seconds * 2) + 2 * connections)
        missing = wanted - self.pool.qsize()
        if missing > 0:
            for value in self.refill(missing):
                self.pool.put(value)

    def send(self, browser: Browser) -> str | None:
        """Send one request; return None when the answer is the expected one."""
        if self.pool is not None:
            try:
                browser.cookies = {self.cookie_name: self.pool.get_nowait()}
            except queue.Empty:
                raise PoolEmpty from None
        status, location, _ = browser.request(self.method, self.path, self.form)
        where = urlsplit(location).path if location else ""
        if status == self.status and where == (self.location or ""):
            if self.location:
                with self.lock:
                    self.acknowledged += 1
            return None
        return f"{status} {where}".strip()


@dataclass
class Segment:
    requests: int = 0
    cpu: float = 0.0
    elapsed: float = 0.0
    latencies: list[float] = field(default_factory=list)
    unexpected: Counter = field(default_factory=Counter)
    pool_ran_out: bool = False
    #: CPU seconds of this script (the clients) during the segment.
    client_cpu: float = 0.0
    #: Share of all cores busy during the segment, whoever used them.
    machine_busy: float = 0.0


def run_segment(group: int, work: Workload, seconds: float, connections: int) -> Segment:
    """Every browser sends requests until the time is up; the server's CPU around it."""
    work.before(seconds, connections)
    segment = Segment()
    sent = itertools.count()
    barrier = threading.Barrier(len(work.browsers) + 1)
    results: list[Segment] = []
    deadline = [0.0]

    def client(browser: Browser) -> None:
        mine = Segment()
        results.append(mine)
        barrier.wait()
        while time.perf_counter() < deadline[0] and next(sent) < MAX_REQUESTS_PER_SEGMENT:
            start = time.perf_counter()
            try:
                problem = work.send(browser)
            except PoolEmpty:
                mine.pool_ran_out = True
                break
            except (OSError, http_client.HTTPException) as error:
                problem = f"no response ({type(error).__name__})"
                browser.close()
            mine.latencies.append(time.perf_counter() - start)
            mine.requests += 1
            if problem:
                mine.unexpected[problem] += 1

    threads = [threading.Thread(target=client, args=(b,), daemon=True) for b in work.browsers]
    for thread in threads:
        thread.start()
    cpu_before = group_cpu_seconds(group)
    client_before = time.process_time()
    busy_before, total_before = machine_cpu()
    started = time.perf_counter()
    deadline[0] = started + seconds
    barrier.wait()
    for thread in threads:
        thread.join()
    segment.elapsed = time.perf_counter() - started
    segment.cpu = group_cpu_seconds(group) - cpu_before
    segment.client_cpu = time.process_time() - client_before
    busy, total = machine_cpu()
    segment.machine_busy = (busy - busy_before) / max(1, total - total_before)
    for mine in results:
        segment.requests += mine.requests
        segment.latencies.extend(mine.latencies)
        segment.unexpected.update(mine.unexpected)
        segment.pool_ran_out |= mine.pool_ran_out
    if work.pool is not None and segment.elapsed:
        work.rate = max(work.rate, segment.requests / segment.elapsed)
    return segment


# ------------------------------------------------------------------ the app's state


class DraftCopies:
    """Copies of one complete draft, each with its own token in a signed session cookie.

    The session is the walking patient's (its CSRF secret included, so the CSRF token of
    the walk is valid for every copy); only the draft token differs.
    """

    def __init__(self, app, session_cookie: str) -> None:
        self.app = app
        self.serializer = app.session_interface.get_signing_serializer(app)
        self.session = self.serializer.loads(session_cookie)
        self.cookie_name = app.config["SESSION_COOKIE_NAME"]
        with app.app_context():
            template = draft_store.by_token(self.session["draft"])
            self.answers = dict(template.answers)
            self.personal = dict(template.personal)
            self.steps_done = list(template.steps_done)
            db.session.remove()
        #: The draft keys of every copy (their submissions carry them).
        self.keys: list[str] = []

    def make(self, count: int) -> list[str]:
        """Add ``count`` copies to the database; return their session cookies."""
        tokens = [secrets.token_urlsafe(32) for _ in range(count)]
        with self.app.app_context():
            now = utcnow()
            expires = now + draft_store.lifetime()
            rows = [
                Draft(
                    token_hash=token_hash(token),
                    resume_code=readable_code(),
                    key=secrets.token_hex(16),
                    answers=dict(self.answers),
                    personal=dict(self.personal),
                    steps_done=list(self.steps_done),
                    created_at=now,
                    updated_at=now,
                    expires_at=expires,
                )
                for token in tokens
            ]
            db.session.add_all(rows)
            db.session.commit()
            self.keys.extend(row.key for row in rows)
            db.session.remove()
        return [self.serializer.dumps({**self.session, "draft": token}) for token in tokens]


def walk(port: int, cookie_name: str) -> tuple[str, str]:
    """One patient fills every page over HTTP and opens "check your answers".

    :return: its session cookie and its CSRF token.
    """
    browser = Browser(port)
    today = clinic_today()
    try:
        for step in steps.STEPS:
            if not step.applies(BASELINE):
                continue
            status, _, _ = browser.request("GET", f"/step/{step.id}")
            expect(status == 200, f"walk: GET {step.id} answered {status}")
            status, _, _ = browser.request(
                "POST", f"/step/{step.id}", page_data(step, BASELINE, today, CONTACT)
            )
            expect(status == 303, f"walk: POST {step.id} answered {status}")
        status, _, _ = browser.request("GET", "/review")
        expect(status == 200, f"walk: GET /review answered {status}")
    finally:
        browser.close()
    expect(cookie_name in browser.cookies, f"no {cookie_name} cookie after the walk")
    return browser.cookies[cookie_name], browser.token or ""


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise RuntimeError(message)


def sign_in(port: int, account: Account) -> Browser:
    """A staff member's browser, signed in over HTTP with password and code."""
    browser = Browser(port)
    status, _, _ = browser.request("GET", "/staff/login")
    expect(status == 200, f"staff login page answered {status}")
    status, location, _ = browser.request(
        "POST", "/staff/login", {"username": account.username, "password": account.password}
    )
    expect(status == 302 and location.endswith("/staff/code"), f"sign-in answered {status}")
    browser.request("GET", "/staff/code")
    status, location, _ = browser.request("POST", "/staff/code", {"code": account.code()})
    expect(status == 302 and urlsplit(location).path == "/staff/", f"code answered {status}")
    browser.read_token = False
    return browser


def bare_browser(port: int) -> Browser:
    browser = Browser(port)
    status, _, _ = browser.request("GET", "/")
    expect(status == 200 and browser.token is not None, f"bare page answered {status}")
    browser.read_token = False
    return browser


def prepare_database(app, connections: int, need_staff: bool) -> list[Account]:
    """1,000 demo submissions in the clinic and, for the queue, its intake staff."""
    with app.app_context():
        submissions = db.session.scalar(select(func.count()).select_from(Submission))
        clinics = db.session.scalar(select(func.count()).select_from(Clinic))
        if submissions or clinics:
            raise SystemExit(
                f"The database holds {submissions} submissions and {clinics} clinics: give "
                "an empty or freshly migrated one (this benchmark adds demo data, accounts "
                "and the only clinic)."
            )
        # The clinic is created here: the only one, so patients send to it without choosing.
        demo.seed(QUEUE_SIZE, seed=17, clinics=[CLINIC])
        db.session.remove()
    accounts = []
    if need_staff:
        prefix = secrets.token_hex(3)
        accounts = [
            make_staff(app, f"bench-{prefix}-{i:02d}", "intake", clinics=[CLINIC])
            for i in range(connections)
        ]
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            # What autovacuum does soon after a bulk load (see bench_queue.py).
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("VACUUM ANALYZE")
        db.session.remove()
    return accounts


def count_submissions(app, keys: list[str] | None = None) -> int:
    with app.app_context():
        query = select(func.count()).select_from(Submission)
        if keys is None:
            total = db.session.scalar(query)
        else:
            total = sum(
                db.session.scalar(query.where(Submission.submit_key.in_(keys[i : i + 500])))
                for i in range(0, len(keys), 500)
            )
        db.session.remove()
        return total


# ------------------------------------------------------------------ the run


def app_workload(row: int, args, port: int, copies: DraftCopies, token: str, accounts) -> Workload:
    """The clients of one row against our app, ready to send."""
    path = f"/step/{args.page}"
    if row in (1, 2):
        browsers = []
        for value in copies.make(args.connections):  # a draft of its own for each
            browser = Browser(port, read_token=False)
            browser.cookies = {copies.cookie_name: value}
            browser.token = token
            browsers.append(browser)
        if row == 1:
            return Workload(browsers, "GET", path)
        step = steps.BY_ID[args.page]
        following = steps.next_step(step, BASELINE)
        form = page_data(step, BASELINE, clinic_today(), CONTACT)
        return Workload(browsers, "POST", path, form, 303, f"/step/{following.id}")
    if row == 3:
        browsers = []
        for _ in range(args.connections):
            browser = Browser(port, read_token=False)
            browser.token = token
            browsers.append(browser)
        # Each submit takes a fresh copy of the complete draft (its session cookie).
        return Workload(
            browsers,
            "POST",
            "/submit",
            {"consent": "y"},
            303,
            "/done",
            pool=queue.Queue(),
            cookie_name=copies.cookie_name,
            refill=copies.make,
        )
    with ThreadPoolExecutor(max_workers=8) as pool:
        staff = list(pool.map(lambda account: sign_in(port, account), accounts))
    return Workload(staff, "GET", "/staff/")


@dataclass
class RowResult:
    row: int
    segments: dict[str, list[Segment]] = field(default_factory=dict)
    warmups: dict[str, Segment] = field(default_factory=dict)


def server_run(args, app, env, tmp: Path, bare_url: str, accounts) -> dict:
    """Start both servers, measure every row, stop them; return what was measured."""
    logs = {"screening": tmp / "screening.log", "bare": tmp / "bare.log"}
    bare_env = {
        **os.environ,
        "SECRET_KEY": secrets.token_urlsafe(48),
        "BARE_DATABASE_URL": bare_url,
    }
    processes = {}
    results: dict[int, RowResult] = {}
    facts: dict = {"logs": logs}
    with contextlib.ExitStack() as stack:
        process, port = start_gunicorn(
            "screening:create_app()", env, logs["screening"], workers=args.workers
        )
        stack.callback(stop, process)
        processes["screening"] = (process, port)
        process, port = start_gunicorn(
            "bare_app:create_app()",
            bare_env,
            logs["bare"],
            workers=args.workers,
            chdir=ROOT / "tests" / "benchmarks",
        )
        stack.callback(stop, process)
        processes["bare"] = (process, port)
        workers_at_start = {
            name: set(group_processes(p.pid)) - {p.pid} for name, (p, _) in processes.items()
        }

        app_port, bare_port = processes["screening"][1], processes["bare"][1]
        note("servers started; one patient walks every page")
        cookie_name = app.config["SESSION_COOKIE_NAME"]
        cookie, token = walk(app_port, cookie_name)
        copies = DraftCopies(app, cookie)
        with ThreadPoolExecutor(max_workers=8) as pool:
            bare_browsers = list(
                pool.map(lambda _: bare_browser(bare_port), range(args.connections))
            )
        for row in [r for r in EXECUTION_ORDER if r in args.rows]:
            if row == 4:
                facts["queue_submissions"] = count_submissions(app)
                note(f"{len(accounts)} staff sign in")
            app_work = app_workload(row, args, app_port, copies, token, accounts)
            if row in (2, 3):
                bare_work = Workload(bare_browsers, "POST", "/", BARE_FORM, 303, "/")
            else:
                bare_work = Workload(bare_browsers, "GET", "/")
            works = {"screening": app_work, "bare": bare_work}
            result = results[row] = RowResult(row, {name: [] for name in works})
            note(f"row {row}: {ROW_NAMES[row][0]}")
            for name, work in works.items():
                if args.warmup:
                    group = processes[name][0].pid
                    result.warmups[name] = run_segment(group, work, args.warmup, args.connections)
            for _ in range(args.segments):
                for name, work in works.items():
                    group = processes[name][0].pid
                    segment = run_segment(group, work, args.seconds, args.connections)
                    result.segments[name].append(segment)
            if row == 3:
                facts["acknowledged"] = app_work.acknowledged
                facts["submit_keys"] = copies.keys
            for browser in app_work.browsers:
                browser.close()
            facts.setdefault("bare_acknowledged", 0)
            facts["bare_acknowledged"] += bare_work.acknowledged
        facts["restarts"] = {
            name: len(workers_at_start[name] - set(group_processes(p.pid)))
            for name, (p, _) in processes.items()
        }
    facts["results"] = results
    return facts


# ------------------------------------------------------------------ the report


def totals(segments: list[Segment]) -> tuple[int, float, float, list[float]]:
    requests = sum(s.requests for s in segments)
    cpu = sum(s.cpu for s in segments)
    elapsed = sum(s.elapsed for s in segments)
    latencies = [t for s in segments for t in s.latencies]
    return requests, cpu, elapsed, latencies


def report(args, engine: str, facts: dict, app, bare_url: str) -> bool:
    """Print the table and the checks; return whether the run is valid."""
    results: dict[int, RowResult] = facts["results"]
    print()
    print("Server CPU per request: screening against a bare Flask app")
    print(
        f"engine {engine} | commit {git_commit()} | {os.cpu_count()} cores | gunicorn "
        f"{args.workers} sync workers each | {args.connections} connections | "
        f"{args.segments} x {args.seconds:g} s per server and row, interleaved, after "
        f"{args.warmup:g} s warm-up | load average {os.getloadavg()[0]:.1f} at the end"
    )
    print(
        f"question page: {args.page} | raised for the load: "
        + ", ".join(f"RATELIMIT_{name}" for name in RAISED_SETTINGS)
        + f' = "{RAISED_LIMIT}"'
    )
    if "queue_submissions" in facts:
        print(f"submissions in the database when the queue row ran: {facts['queue_submissions']}")
    print()
    top = (
        "CPU ms",
        "CPU ms",
        "CPU",
        "req/s",
        "req/s",
        "p50 ms",
        "p50 ms",
        "p99 ms",
        "p99 ms",
        "p99",
    )
    names = ("screen.", "bare", "bare/scr", "screen.", "bare", "screen.", "bare", "screen.", "bare")
    print(f"{'':34}" + "".join(f"{label:>9}" for label in top))
    print(f"{'row':34}" + "".join(f"{label:>9}" for label in (*names, "scr/bare")))
    details = []
    problems = []
    for row in sorted(results):
        result = results[row]
        figures = {}
        for name, segments in result.segments.items():
            requests, cpu, elapsed, latencies = totals(segments)
            per_segment = [s.cpu * 1000 / s.requests for s in segments if s.requests]
            client = sum(s.client_cpu for s in segments) * 1000 / max(1, requests)
            busy = sum(s.machine_busy * s.elapsed for s in segments) / max(elapsed, 1e-9)
            figures[name] = {
                "cpu": cpu * 1000 / requests if requests else float("nan"),
                "rate": requests / elapsed if elapsed else float("nan"),
                "p50": percentile(latencies, 50) * 1000,
                "p99": percentile(latencies, 99) * 1000,
                "requests": requests,
                "spread": (min(per_segment), max(per_segment)) if per_segment else (0, 0),
                "client": client,
                "busy": busy,
            }
            unexpected = Counter()
            for segment in [*segments, *([result.warmups[name]] if name in result.warmups else [])]:
                unexpected.update(segment.unexpected)
            if unexpected:
                problems.append(
                    f"row {row} {name}: "
                    + ", ".join(f"{count} x {what}" for what, count in unexpected.most_common())
                )
            if any(s.pool_ran_out for s in segments):
                details.append(f"  row {row} {name}: a segment ran out of prepared drafts early")
        scr, bare = figures["screening"], figures["bare"]
        cells = (
            f"{scr['cpu']:.2f}",
            f"{bare['cpu']:.2f}",
            f"{bare['cpu'] / scr['cpu']:.2f}",
            f"{scr['rate']:.0f}",
            f"{bare['rate']:.0f}",
            f"{scr['p50']:.1f}",
            f"{bare['p50']:.1f}",
            f"{scr['p99']:.1f}",
            f"{bare['p99']:.1f}",
            f"{scr['p99'] / bare['p99']:.1f}",
        )
        print(f"{row} {ROW_NAMES[row][0]:32}" + "".join(f"{cell:>9}" for cell in cells))
        for name, figure in figures.items():
            what = ROW_NAMES[row][0] if name == "screening" else ROW_NAMES[row][1]
            details.append(
                f"  row {row} {name:9} {figure['requests']:6} requests; CPU ms/request per "
                f"segment {figure['spread'][0]:.2f}-{figure['spread'][1]:.2f}; clients' CPU "
                f"{figure['client']:.2f} ms/request; machine {figure['busy']:.0%} busy ({what})"
            )
    print()
    for line in details:
        print(line)
    print()
    if 3 in results:
        acknowledged = facts["acknowledged"]
        stored = count_submissions(app, facts["submit_keys"])
        print(
            f"submits acknowledged (303 to /done) {acknowledged}, stored {stored}, "
            f"lost {acknowledged - stored}"
        )
        if acknowledged != stored:
            problems.append(f"submits: {acknowledged} acknowledged, {stored} stored")
    if facts.get("bare_acknowledged"):
        stored = bare_app.count_rows(bare_url)
        print(f"bare posts acknowledged {facts['bare_acknowledged']}, rows stored {stored}")
        if stored != facts["bare_acknowledged"]:
            problems.append(f"bare: {facts['bare_acknowledged']} acknowledged, {stored} stored")
    for name, path in facts["logs"].items():
        log = path.read_text(errors="replace")
        counts = {
            "tracebacks": log.count("Traceback"),
            "worker timeouts": log.count("WORKER TIMEOUT"),
            '"database is locked"': log.count("database is locked"),
        }
        restarts = facts["restarts"][name]
        print(
            f"{name} log: "
            + ", ".join(f"{what} {n}" for what, n in counts.items())
            + f"; workers replaced {restarts}"
        )
        if any(counts.values()) or restarts:
            problems.append(f"{name}: errors in its log or workers replaced (see {path.name})")
    if problems:
        print("INVALID:")
        for problem in problems:
            print(f"  {problem}")
        return False
    print("VALID: every response as expected, nothing lost")
    return True


# ------------------------------------------------------------------ in-process profile


class StatementCounter:
    """SQL statements the app sends, by kind and table."""

    TABLE_RE = re.compile(r'\b(?:FROM|INTO|UPDATE)\s+"?(\w+)', re.IGNORECASE)

    def __init__(self) -> None:
        self.counts: Counter = Counter()
        self.on = False

    def __call__(self, _conn, _cursor, statement, _parameters, _context, _executemany) -> None:
        if not self.on:
            return
        words = statement.split(None, 2)
        kind = " ".join(words[:2] if words[:1] == ["BEGIN"] else words[:1]).upper()
        match = self.TABLE_RE.search(statement)
        self.counts[(kind, match.group(1) if match else "")] += 1

    def commit(self, _conn) -> None:
        if self.on:
            self.counts[("COMMIT", "")] += 1

    def checkout(self, _dbapi_connection, _record, _proxy) -> None:
        if self.on:
            # Each one is tested first where pool_pre_ping is on (PostgreSQL): a round trip.
            self.counts[("(connection taken from the pool)", "")] += 1


def profile_rows(args, app, copies: DraftCopies, token: str) -> None:
    """N requests per row through the test client: CPU, SQL statements, cProfile."""
    counter = StatementCounter()
    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", counter)
        event.listen(db.engine, "commit", counter.commit)
        event.listen(db.engine, "checkout", counter.checkout)
    step = steps.BY_ID[args.page]
    page_form = {**page_data(step, BASELINE, clinic_today(), CONTACT), "csrf_token": token}
    patient = app.test_client()
    patient.set_cookie(copies.cookie_name, copies.make(1)[0])
    submitter = app.test_client()
    staff = StaffClient(app.test_client())
    if 4 in args.rows:
        account = make_staff(app, f"bench-profile-{secrets.token_hex(3)}", "intake", [CLINIC])
        staff.sign_in(account)
    pool: list[str] = []

    def submit():
        submitter.set_cookie(copies.cookie_name, pool.pop())
        return submitter.post("/submit", data={"consent": "y", "csrf_token": token})

    requests = {
        1: (lambda: patient.get(f"/step/{args.page}"), 200),
        2: (lambda: patient.post(f"/step/{args.page}", data=page_form), 303),
        3: (submit, 303),
        4: (lambda: staff.client.get("/staff/"), 200),
    }
    for row in [r for r in EXECUTION_ORDER if r in args.rows]:
        send, status = requests[row]
        if row == 3:
            pool.extend(copies.make(2 * args.profile + 5))
        for _ in range(5):  # warm caches
            send()
        counter.counts.clear()
        counter.on = True
        unexpected = Counter()
        cpu = time.process_time()
        for _ in range(args.profile):
            response = send()
            if response.status_code != status:
                unexpected[response.status_code] += 1
        cpu = (time.process_time() - cpu) * 1000 / args.profile
        counter.on = False
        # CPU time, not wall time: waits for the disk (fsync on commit) are left out.
        profiler = cProfile.Profile(time.process_time)
        profiler.enable()
        for _ in range(args.profile):
            send()
        profiler.disable()
        print()
        print(f"=== profile, row {row}: {ROW_NAMES[row][0]} ({args.profile} requests, in-process)")
        print(f"CPU {cpu:.2f} ms/request without a server or the profiler")
        if unexpected:
            print(f"UNEXPECTED statuses: {dict(unexpected)}")
        total = sum(n for (kind, _), n in counter.counts.items() if kind[0] != "(") / args.profile
        print(f"SQL statements per request: {total:.1f} (COMMIT included)")
        for (kind, table), count in counter.counts.most_common():
            print(f"  {count / args.profile:5.1f}  {kind} {table}".rstrip())
        print(f"top 25 by cumulative CPU time (cProfile, {args.profile} requests):")
        print(profile_listing(profiler, "cumulative", 25))
        print("top 20 of the project's own functions and templates by cumulative CPU time:")
        print(profile_listing(profiler, "cumulative", 20, THE_PROJECT))
        print("top 15 by own CPU time:")
        print(profile_listing(profiler, "tottime", 15))


#: Frames of the test client and of this script, left out of the profile's listing.
NOT_THE_APP = r"^(?!.*(werkzeug/test\.py|flask/testing\.py|bench_server\.py))"


#: The project's own code: its package and its templates.
THE_PROJECT = r"^(screening|templates)/"


def profile_listing(
    profiler: cProfile.Profile, order: str, count: int, only: str = NOT_THE_APP
) -> str:
    """pstats' listing without its preamble, paths relative to the project or site-packages."""
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    for key in list(stats.stats):  # shorter file names, so restrictions can match them
        name = key[0].replace(str(ROOT) + "/", "")
        name = re.sub(r"\S*/(site-packages|python3\.\d+)/", "", name)
        if name != key[0]:
            stats.stats[(name, *key[1:])] = stats.stats.pop(key)
    stats.sort_stats(order).print_stats(only, count)
    lines = out.getvalue().splitlines()
    start = next((i for i, line in enumerate(lines) if "ncalls" in line), 0)
    return "\n".join(line for line in lines[start:] if line.strip())


# ------------------------------------------------------------------ main


def parse_rows(value: str) -> tuple[int, ...]:
    rows = tuple(sorted({int(part) for part in value.split(",") if part.strip()}))
    if not rows or not set(rows) <= set(ROW_NAMES):
        raise argparse.ArgumentTypeError("rows are 1, 2, 3 and 4, e.g. 1,3")
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    parser.add_argument("--seconds", type=float, default=4.0, help="per measured segment")
    parser.add_argument("--segments", type=int, default=3, help="per server and row")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds per server and row")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rows", type=parse_rows, default=(1, 2, 3, 4))
    parser.add_argument("--page", default="health-history", choices=sorted(steps.BY_ID))
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers each")
    parser.add_argument("--profile", type=int, default=0, metavar="N", help="requests per row")
    parser.add_argument("--profile-only", action="store_true", help="no servers: profile only")
    args = parser.parse_args()
    if not (
        0.5 <= args.seconds <= 60
        and 1 <= args.segments <= 20
        and 0 <= args.warmup <= 30
        and 1 <= args.connections <= 64
        and 1 <= args.workers <= 8
        and 0 <= args.profile <= 2000
    ):
        parser.error(
            "--seconds 0.5..60, --segments 1..20, --warmup 0..30, --connections 1..64, "
            "--workers 1..8, --profile 0..2000"
        )
    if args.profile_only and not args.profile:
        parser.error("--profile-only needs --profile N")
    if not steps.BY_ID[args.page].applies(BASELINE) or args.page == steps.STEPS[-1].id:
        parser.error("--page: a question page the benchmark patient answers, not the last")
    stop_on_sigterm()

    with tempfile.TemporaryDirectory(prefix="bench-server-") as folder:
        tmp = Path(folder)
        url = args.database_url or f"sqlite:///{tmp}/screening.sqlite3"
        engine = "PostgreSQL" if url.startswith("postgres") else "SQLite"
        limits = {f"SCREENING_RATELIMIT_{name}": RAISED_LIMIT for name in RAISED_SETTINGS}
        env = production_env(url, tmp, **limits)
        # The in-process app (demo data, draft copies, checks, profile) is the same app.
        os.environ.update(env)
        bare_url = (
            f"sqlite:///{tmp}/bare.sqlite3" if engine == "SQLite" else database_url_from_env()
        )
        note("migrating")
        flask_command(env, "db", "upgrade")
        app = create_app()
        note(f"adding {QUEUE_SIZE} demo submissions and staff accounts")
        need_staff = 4 in args.rows and not args.profile_only
        accounts = prepare_database(app, args.connections, need_staff)
        bare_app.create_table(bare_url)
        valid = True
        try:
            if not args.profile_only:
                facts = server_run(args, app, env, tmp, bare_url, accounts)
                valid = report(args, engine, facts, app, bare_url)
            if args.profile:
                note("profiling in-process")
                profile(args, app)
        finally:
            if engine == "PostgreSQL":
                bare_app.drop_table(bare_url)
            with app.app_context():
                db.session.remove()
                db.engine.dispose()
    return 0 if valid else 1


def profile(args, app) -> None:
    """The in-process profile: a patient walks through the test client first."""
    client = app.test_client()
    patient = Patient(client)
    patient.complete(BASELINE, clinic_today(), CONTACT)
    response = patient.get("/review")
    expect(response.status_code == 200, f"review answered {response.status_code}")
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    expect(cookie is not None, "no session cookie after the walk")
    copies = DraftCopies(app, cookie.value)
    profile_rows(args, app, copies, patient.token or "")


if __name__ == "__main__":
    sys.exit(main())
