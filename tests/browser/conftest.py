"""Real-browser fixtures: a live server in a thread, Debian's Chromium, request recording.

Debian's Chromium (``apt-get install chromium``, README "Two commands") with Python
Playwright. ``playwright install`` cannot download here, so
pytest-playwright's browser fixtures are pointed at /usr/bin/chromium through
``browser_type_launch_args``. A missing browser FAILS the run; it never skips.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from werkzeug.serving import WSGIRequestHandler, make_server

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
# No sandbox (we run as root in CI), and nothing that makes Chromium call Google.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ROOT = Path(__file__).resolve().parents[2]
OUTPUT = ROOT / "test-output"
SCREENSHOTS = OUTPUT / "screenshots"


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        # Fail, never skip: CI must not go green without having run a browser.
        pytest.fail(
            f"Chromium not found at {CHROMIUM}. Install Debian's chromium "
            "(apt-get install chromium) or set CHROMIUM_PATH.",
            pytrace=False,
        )
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


# ------------------------------------------------------------------ live server


@dataclass
class LiveServer:
    url: str
    app: object

    @property
    def origin(self) -> str:
        return self.url


class QuietHandler(WSGIRequestHandler):
    def log_request(self, *args, **kwargs) -> None:  # keep the test output readable
        pass


@pytest.fixture()
def live_server(make_app) -> Iterator[LiveServer]:
    # SERVER_NAME None: the app answers on 127.0.0.1:<port> and builds its external links
    # (the resume link) from the request's own host.
    app = make_app(SERVER_NAME=None)
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield LiveServer(f"http://127.0.0.1:{server.server_port}", app)
    finally:
        server.shutdown()
        thread.join(5)
        server.server_close()


# ------------------------------------------------------------------ contexts and requests


@dataclass
class RequestLog:
    """Every request any browser context of a test made (URL and resource type)."""

    origin: str
    seen: list[tuple[str, str]] = field(default_factory=list)

    def record(self, request) -> None:
        self.seen.append((request.url, request.resource_type))

    def foreign(self) -> list[str]:
        def same(url: str) -> bool:
            # data: and about:blank never leave the browser.
            if url.startswith(("data:", "about:")):
                return True
            parts = urlsplit(url)
            return f"{parts.scheme}://{parts.netloc}" == self.origin

        return [url for url, _ in self.seen if not same(url)]

    def assert_same_origin(self) -> None:
        assert self.seen, "no request was recorded"
        assert self.foreign() == [], f"requests to another origin: {self.foreign()}"


@pytest.fixture()
def requests_log(live_server) -> Iterator[RequestLog]:
    log = RequestLog(live_server.origin)
    yield log
    # Checked again here so a scenario that forgets to assert it still fails.
    assert log.foreign() == [], f"requests to another origin: {log.foreign()}"


@pytest.fixture()
def open_context(browser, live_server, requests_log) -> Iterator[Callable[..., object]]:
    """Open a browser context on the live server whose every request is recorded."""
    opened = []

    def open_(**options):
        options.setdefault("viewport", {"width": 1280, "height": 900})
        context = browser.new_context(base_url=live_server.url, **options)
        # A bound for failures, not a pace: a page that is there returns at once, and a
        # busy machine (coverage on, another process beside) must not fail a journey.
        context.set_default_timeout(60_000)
        context.on("request", requests_log.record)
        opened.append(context)
        return context

    yield open_
    for context in opened:
        with contextlib.suppress(Exception):  # already closed by the test
            context.close()


@pytest.fixture()
def page(open_context):
    """A fresh page per test, in its own recorded context (JavaScript on, 1280 x 900)."""
    return open_context().new_page()


@pytest.fixture(scope="session")
def screenshots_dir() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
