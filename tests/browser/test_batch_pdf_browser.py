"""The queue's "PDF of the selected summaries" with its script, in Chromium.

A small batch comes back as the file itself: the script says it is being prepared, keeps
the button from being pressed twice, hands the PDF to the browser and says it is ready. A
larger one goes to the progress page, whose script follows it and fetches the file when it
is ready. Both pages pass axe (the page objects check them when reached).
"""

from __future__ import annotations

import re
import subprocess

import pytest

from tests.browser.drivers import LiveServer
from tests.browser.staff_pages import StaffJourney, StaffPage
from tests.staff.helpers import make_staff
from tests.staff.test_batch_pdf import CLINIC, add_submissions

pytestmark = pytest.mark.browser


class BatchPage(StaffPage):
    name = "staff-summary-batch"
    path = "/staff/summaries/[0-9a-f]{32}"


def pages_of(download) -> int:
    out = subprocess.run(
        ["pdfinfo", download.path()], capture_output=True, text=True, check=True
    ).stdout
    return int(re.search(r"^Pages:\s+(\d+)", out, re.M).group(1))


def test_a_batch_says_it_is_preparing_then_downloads(open_context, live_server: LiveServer):
    app = live_server.app
    add_submissions(app, 3)
    staff = make_staff(app, "ivy", "intake", clinics=[CLINIC])
    trip = StaffJourney(open_context().new_page())
    queue = trip.open_login().sign_in(staff.username, staff.password).enter(staff.code())
    page = queue.page
    boxes = page.locator('input[name="ids"]')
    boxes.nth(0).check()
    boxes.nth(1).check()
    button = page.locator("[data-batch-button]")
    status = page.locator("[data-batch-status]")
    assert "up to 200 at a time" in page.locator("#batch-limit").inner_text()

    with page.expect_download() as small:
        button.click()
        assert status.inner_text().startswith("Preparing 2 summaries")
    assert pages_of(small.value) == 2
    page.wait_for_function("!document.querySelector('[data-batch-button]').disabled")
    assert "ready" in status.inner_text()
    assert status.get_attribute("role") == "status"

    app.config["SUMMARY_BATCH_INLINE_MAX"] = 1  # so that two go to the background
    with page.expect_download(timeout=60_000) as large:
        trip.click("[data-batch-button]")
        progress = BatchPage(trip)
    assert pages_of(large.value) == 2
    message = progress.page.locator("[data-batch-message]")
    assert message.get_attribute("role") == "status"
    assert "ready" in message.inner_text()
    assert progress.page.locator("[data-batch-link]").is_visible()
    assert trip.checks.visited == ["staff-login", "staff-code", "staff-queue", BatchPage.name]
