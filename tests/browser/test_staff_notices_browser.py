"""What an administrator sees of emergency access, and of a date out of range.

In Debian's Chromium: someone's emergency access is on the administrator's queue at once,
with who, when and why; its link opens the audit report of those days, which lists it; a
day past the window (9999-12-31) is named next to its field, on the report and the queue.
Every page is scanned with axe-core (WCAG 2.0-2.2 A and AA, no exclusions).
"""

from __future__ import annotations

import pytest

from screening.bounds import DAY_MESSAGE
from screening.extensions import db
from screening.models import StaffUser
from screening.staff.access import grant_emergency_access
from tests.browser.checks import visible_text
from tests.browser.staff_pages import QueuePage, StaffJourney, StaffPage
from tests.staff.helpers import make_staff

pytestmark = pytest.mark.browser

CLINIC = "North Clinic"
REASON = "Covering South Clinic while their nurse is away"


class AuditActivityPage(StaffPage):
    name = "staff-audit-activity"
    path = "/staff/admin/audit/activity"

    def grants(self) -> list[str]:
        table = self.page.locator("h2:text-is('Emergency access on these days') + table")
        return [visible_text(row) for row in table.locator("tbody tr").all_inner_texts()]

    def error_for(self, field: str) -> str:
        return visible_text(self.page.locator(f"#{field}-error").inner_text())


def test_an_administrator_sees_emergency_access_and_dates_out_of_range(
    open_context, live_server, requests_log
):
    app = live_server.app
    nurse = make_staff(app, "nora", "intake", clinics=[CLINIC])
    boss = make_staff(app, "bea", "admin")
    with app.app_context():
        grant_emergency_access(db.session.get(StaffUser, nurse.id), REASON)
        db.session.commit()

    page = open_context().new_page()
    trip = StaffJourney(page)
    queue = trip.open_login().sign_in(boss.username, boss.password).enter(boss.code())
    notice = page.locator(".break-glass-notice")
    assert notice.is_visible()
    text = visible_text(notice.inner_text())
    assert "nora (Nora)" in text and f"Reason: {REASON}" in text and "(still on)" in text

    trip.click(".break-glass-notice a")
    report = AuditActivityPage(trip)
    [line] = report.grants()
    assert line.startswith("nora ") and line.endswith(REASON)

    page.goto("/staff/admin/audit/activity?user=&start=2026-11-01&end=9999-12-31")
    report = AuditActivityPage(trip)
    assert report.error_for("end") == f"Error: {DAY_MESSAGE}"
    assert page.title().startswith("Error: ")

    page.goto("/staff/?from=9999-12-31")
    queue = QueuePage(trip)
    assert visible_text(page.locator("#f-from-error").inner_text()) == f"Error: {DAY_MESSAGE}"
    assert queue.page.locator("#f-from").input_value() == "9999-12-31"
    requests_log.assert_same_origin()
