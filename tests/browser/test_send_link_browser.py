"""“Email me the link” in a real browser on a 320 px phone, with a real SMTP server."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from aiosmtpd.controller import Controller
from werkzeug.serving import make_server

from tests.browser.conftest import LiveServer, QuietHandler
from tests.browser.pages import LAYOUT_JS, Checks, Journey, axe_violations, complete_with
from tests.factories import BASELINE, CONTACT
from tests.patient.test_send_link import PATIENCE, SENDER, Inbox, body, free_port
from tests.patient_client import clinic_today

pytestmark = pytest.mark.browser

PHONE_320 = {"width": 320, "height": 640}


@pytest.fixture()
def inbox() -> Iterator[Inbox]:
    handler = Inbox()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port(), ready_timeout=PATIENCE)
    controller.start()
    handler.port = controller.port
    yield handler
    controller.stop()


@pytest.fixture()
def live_server(make_app, inbox) -> Iterator[LiveServer]:
    """The conftest's live server, with email going to the test SMTP server."""
    app = make_app(
        SERVER_NAME=None,
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=inbox.port,
        MAIL_USE_TLS=False,
        MAIL_DEFAULT_SENDER=SENDER,
        MAIL_TIMEOUT=PATIENCE,
    )
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield LiveServer(f"http://127.0.0.1:{server.server_port}", app)
    finally:
        server.shutdown()
        thread.join(5)
        server.server_close()


def checked(page, name: str) -> None:
    assert axe_violations(page) == [], f"axe on {name}"
    assert page.evaluate(LAYOUT_JS) == [], f"layout on {name}"


def send(page, address: str) -> None:
    page.locator("#email").fill(address)
    with page.expect_navigation():
        page.locator('form[action$="/email"] button[type="submit"]').click()


def test_email_the_link_from_the_saved_page_on_a_small_phone(
    open_context, live_server, inbox, requests_log
):
    page = open_context(viewport=PHONE_320).new_page()
    trip = Journey(page, checks=Checks(layout=True), today=clinic_today(live_server.app))
    step = complete_with(trip, BASELINE, CONTACT, stop_at="how-bad")
    step.answer(BASELINE)
    saved = step.save_for_later()
    code = saved.code()
    field = page.locator("#email")
    assert field.get_attribute("type") == "email"
    assert field.get_attribute("autocomplete") == "email"

    send(page, "nora at example")
    assert page.title().startswith("Error:")
    assert page.locator("[data-error-summary] a").inner_text().startswith("Enter a full email")
    assert page.locator("#email").input_value() == "nora at example"
    checked(page, "saved, address error")
    assert inbox.messages == []

    send(page, "nora@example.com")
    assert page.url.endswith("/saved")
    status = page.locator('main [role="status"]').first
    assert "We sent the link to n***@example.com" in status.inner_text()
    checked(page, "saved, link sent")
    ((recipients, message),) = inbox.messages
    assert recipients == ["nora@example.com"] and code in body(message)
    requests_log.assert_same_origin()
