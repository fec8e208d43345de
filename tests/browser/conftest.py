"""Real-browser fixtures: a live server in a thread, Debian's Chromium, request recording.

What they are made of (the browser's launch arguments, the server, the request log, the
window sizes) is in :mod:`tests.browser.drivers`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.browser.drivers import (
    SCREENSHOTS,
    LiveServer,
    RequestLog,
    launch_args,
    recorded_context,
    serve,
)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return launch_args(browser_type_launch_args)


@pytest.fixture()
def live_server(make_app) -> Iterator[LiveServer]:
    # SERVER_NAME None: the app answers on 127.0.0.1:<port> and builds its external links
    # (the resume link) from the request's own host.
    with serve(make_app(SERVER_NAME=None)) as server:
        yield server


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
        context = recorded_context(browser, live_server, requests_log, **options)
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
