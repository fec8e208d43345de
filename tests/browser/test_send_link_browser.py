"""“Email me the link” in a real browser on a 320 px phone, with a real SMTP server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.browser.axe import axe_violations
from tests.browser.checks import LAYOUT_JS, Checks
from tests.browser.drivers import PHONE_320, LiveServer, serve
from tests.browser.patient_pages import Journey, complete_with
from tests.factories import BASELINE, CONTACT
from tests.patient.test_send_link import Inbox, body, mail_settings, smtp_inbox
from tests.patient_client import clinic_today

pytestmark = pytest.mark.browser


@pytest.fixture()
def inbox() -> Iterator[Inbox]:
    with smtp_inbox() as handler:
        yield handler


@pytest.fixture()
def live_server(make_app, inbox) -> Iterator[LiveServer]:
    """The conftest's live server, with email going to the test SMTP server."""
    with serve(make_app(SERVER_NAME=None, **mail_settings(inbox))) as server:
        yield server


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
