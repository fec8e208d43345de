"""A US patient on a phone, in a real browser at 320 px: progress that never goes back,
Month/Day/Year, the clinic one tap away, 911 a tap-to-call link, and pages without
JavaScript that ask only what can apply. In English with JavaScript and in Spanish
without it, with axe on every page.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from screening.extensions import db
from screening.models import Clinic
from tests.browser.checks import Checks, visible_text
from tests.browser.drivers import PHONE_320
from tests.browser.input_devices import Mouse
from tests.browser.patient_pages import Journey, ResultPage, ReviewPage, StepPage, complete_with
from tests.catalogue import translations
from tests.factories import BASELINE, CONTACT, answers
from tests.patient_client import clinic_today

pytestmark = pytest.mark.browser

#: Journeys whose pages differ: the baseline, a second "where" page (two places), the
#: injection follow-ups (a prior injection), and an emergency answer (the page comes back).
JOURNEYS = {
    "baseline": BASELINE,
    "two places": answers(regions=["neck_l", "lower_back_r"], primary_region="lower_back_r"),
    "prior injections": answers(
        tx=["tx_pt", "tx_otc", "tx_tpi"],
        tpi_last="m3_12",
        tpi_sessions_12m="s2",
        tpi_relief="ge_half",
        tpi_duration="w1_6",
        tpi_problems=["none"],
    ),
    "emergency": answers(rf_chest="yes"),
}


class Progress:
    """A page check that reads the progress line of every question page."""

    def __init__(self, pattern: str) -> None:
        self.pattern = re.compile(pattern)
        self.seen: list[tuple[str, int, int]] = []

    def __call__(self, page, name: str) -> None:
        line = page.locator("#progress")
        if line.count():
            found = self.pattern.search(visible_text(line.inner_text()))
            assert found, (name, line.inner_text())
            self.seen.append((name, int(found.group(1)), int(found.group(2))))


def _give_the_clinic_details(app) -> None:
    with app.app_context():
        clinic = db.session.scalar(select(Clinic))
        clinic.phone, clinic.address = "(555) 010-4477", "200 Main Street, Springfield"
        db.session.commit()


def _assert_the_clinic_and_911_can_be_tapped(page) -> None:
    card = page.locator(".clinic-card")
    assert card.count() == 1 and card.is_visible()
    call = card.locator('a[href="tel:+15550104477"]')
    assert call.inner_text() == "(555) 010-4477"
    box = call.bounding_box()
    assert box["height"] >= 24, box
    nines = page.locator("main").get_by_text("911", exact=False)
    assert nines.count() > 0
    assert page.locator('main a[href="tel:911"]').count() >= 1
    # Every visible "911" in the page's text is inside a tel:911 link.
    bare = page.evaluate(
        """() => [...document.querySelectorAll('main *')].filter(el =>
              [...el.childNodes].some(n => n.nodeType === 3 && /\\b911\\b/.test(n.textContent))
              && !el.closest('a[href="tel:911"]') && !el.closest('label')
              && el.offsetParent !== null).map(el => el.outerHTML.slice(0, 120))"""
    )
    assert bare == [], bare


@pytest.mark.parametrize("name", JOURNEYS)
def test_progress_never_goes_back_at_320_px(open_context, live_server, requests_log, name):
    _give_the_clinic_details(live_server.app)
    page = open_context(viewport=PHONE_320).new_page()
    progress = Progress(r"Part (\d+) of (\d+)")
    trip = Journey(page, Mouse(page), Checks(extra=[progress]), today=clinic_today(live_server.app))
    review = complete_with(trip, JOURNEYS[name], CONTACT)
    assert isinstance(review, ReviewPage), review
    totals = {total for _name, _number, total in progress.seen}
    numbers = [number for _name, number, _total in progress.seen]
    assert totals == {6}, progress.seen
    assert numbers == sorted(numbers) and numbers[0] == 1 and numbers[-1] == 6, progress.seen
    result = review.submit()
    assert isinstance(result, ResultPage), result
    _assert_the_clinic_and_911_can_be_tapped(page)
    if name == "emergency":
        # What to do now comes first: the tap-to-call button before the clinic's phone.
        call = page.locator('#urgent a.button[href="tel:911"]').bounding_box()
        assert call["y"] < page.locator(".clinic-card").bounding_box()["y"]
        assert call["y"] < 640, "the 911 button is not on the first screen"
    requests_log.assert_same_origin()


def test_spanish_without_javascript_at_320_px(open_context, live_server, requests_log):
    _give_the_clinic_details(live_server.app)
    es = translations("es")
    page = open_context(java_script_enabled=False, viewport=PHONE_320).new_page()
    progress = Progress(
        es["Part %(number)s of %(total)s: %(part)s"].split("%")[0] + r"(\d+) de (\d+)"
    )
    trip = Journey(page, Mouse(page), Checks(extra=[progress]), today=clinic_today(live_server.app))
    start = trip.open("/").switch_language("es")
    first = start.start()
    assert isinstance(first, StepPage)
    # Month, Day, Year, in that order on screen, with the US example.
    boxes = [page.locator(f"#{name}").bounding_box()["x"] for name in ("dob_month", "dob_day")]
    assert boxes[0] < boxes[1]
    assert "6 15 1980" in page.locator("#dob-hint").inner_text()
    review = complete_with(trip, JOURNEYS["prior injections"], CONTACT, start=first)
    assert isinstance(review, ReviewPage), review
    assert page.locator("html.no-js").count() == 1
    assert re.fullmatch(r"\d{1,2} de [a-z]+ de \d{4}", review.rows()["dob"]), review.rows()["dob"]
    assert [total for _n, _num, total in progress.seen] == [6] * len(progress.seen)
    result = review.submit()
    assert isinstance(result, ResultPage), result
    assert page.evaluate("document.documentElement.lang") == "es"
    _assert_the_clinic_and_911_can_be_tapped(page)
    requests_log.assert_same_origin()
