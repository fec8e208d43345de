"""The browser and what it talks to: Debian's Chromium, the app served on a free port, the
contexts every scenario opens (each request recorded), the window sizes, and where the
screenshots go.

Debian's Chromium (``apt-get install chromium``, README "Two commands") with Python
Playwright. ``playwright install`` cannot download here, so pytest-playwright's browser
fixtures are pointed at /usr/bin/chromium (see ``conftest.py``). A missing browser FAILS
the run; it never skips.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
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
SCREENSHOTS = ROOT / "test-output" / "screenshots"

# ------------------------------------------------------------------ window sizes

#: The window of a desktop scenario unless it asks for another.
DESKTOP = {"width": 1280, "height": 900}
#: A common phone, for the screenshots.
MOBILE = {"width": 390, "height": 844}
#: A small phone, 320 CSS px wide (the WCAG 1.4.10 reflow width).
PHONE_320 = {"width": 320, "height": 640}
#: 200 % zoom of a 1280 x 900 desktop window. Browser zoom halves the CSS viewport
#: (1280 / 2 = 640 CSS px wide, 900 / 2 = 450 high) and draws each CSS px with 2 device
#: pixels. So a 640 x 450 viewport at device_scale_factor 2 lays the page out exactly as
#: zoom does: same media queries, same line breaks, same scroll width. (CSS `zoom` would
#: need an inline style, which the app's Content-Security-Policy rightly refuses.)
ZOOM_200 = {"width": 640, "height": 450}


def launch_args(defaults: dict) -> dict:
    """pytest-playwright's launch arguments, pointed at Debian's Chromium."""
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        # Fail, never skip: CI must not go green without having run a browser.
        pytest.fail(
            f"Chromium not found at {CHROMIUM}. Install Debian's chromium "
            "(apt-get install chromium) or set CHROMIUM_PATH.",
            pytrace=False,
        )
    return {**defaults, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


# ------------------------------------------------------------------ the app, served


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


@contextmanager
def serve(app) -> Iterator[LiveServer]:
    """Serve ``app`` on 127.0.0.1 on a free port, in a thread, until the block ends."""
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


def recorded_context(browser, server: LiveServer, log: RequestLog, **options):
    """A browser context on ``server`` whose every request goes into ``log``."""
    options.setdefault("viewport", DESKTOP)
    context = browser.new_context(base_url=server.url, **options)
    # A bound for failures, not a pace: a page that is there returns at once, and a
    # busy machine (coverage on, another process beside) must not fail a journey.
    context.set_default_timeout(60_000)
    context.on("request", log.record)
    return context
