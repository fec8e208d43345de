"""The patient's journey in Spanish, in a real browser: keyboard only, JavaScript off,
small screens and 200 % zoom, with axe on every page.

The Spanish expected on screen comes from the catalogue (tests/catalogue.py).
"""

from __future__ import annotations

import pytest

from screening.scoring import headline
from tests.browser.axe import axe_violations
from tests.browser.checks import LAYOUT_JS, PAGE_BUDGET, Checks, PageWeights, visible_text
from tests.browser.drivers import PHONE_320, ZOOM_200
from tests.browser.input_devices import Keyboard, Mouse
from tests.browser.patient_pages import Journey, ResultPage, StepPage, complete_with
from tests.catalogue import translations
from tests.factories import BASELINE, CONTACT
from tests.patient_client import clinic_today

pytestmark = pytest.mark.browser


def spanish(text: str) -> str:
    return translations("es")[text]


def in_spanish(page, name: str) -> None:
    assert page.evaluate("document.documentElement.lang") == "es", name


def test_keyboard_only_in_spanish_reaches_the_discuss_result(page, live_server, requests_log):
    """Switch to Spanish with the keyboard on the start page, then finish with keys only.

    Every page after the switch is in Spanish (html lang), has 0 axe violations and stays
    within the page weight budget (Spanish runs longer than English).
    """
    keys = Keyboard(page)
    weigh = PageWeights(page, live_server.url)
    trip = Journey(
        page, driver=keys, checks=Checks(extra=[weigh]), today=clinic_today(live_server.app)
    )
    start = trip.open("/")
    assert start.language() == "en"
    start = start.switch_language("es")
    trip.checks.extra.append(in_spanish)
    assert start.language() == "es"
    result = complete_with(trip, BASELINE, CONTACT, start=start.start()).submit()
    assert isinstance(result, ResultPage), result
    assert result.heading() == spanish("Your result")
    assert visible_text(result.headline()).startswith(spanish(headline("DISCUSS"))[:60])
    assert keys.keys["Enter"] > 0 and keys.keys["Tab"] > 0
    print(weigh.report("Page weight in Spanish"))
    assert len(weigh.pages) >= 17
    assert weigh.over(PAGE_BUDGET) == {}, f"pages over {PAGE_BUDGET} bytes"
    requests_log.assert_same_origin()


def test_switching_language_mid_page_keeps_what_was_typed(page, live_server, requests_log):
    trip = Journey(page, driver=Mouse(page), checks=Checks(), today=clinic_today(live_server.app))
    how_bad = complete_with(trip, BASELINE, CONTACT, stop_at="how-bad")
    assert isinstance(how_bad, StepPage)
    how_bad.choose("peg_p", 7)
    how_bad.choose("peg_e", 3)
    # Not sent yet: the switch sends the page, so the two answers are kept.
    again = how_bad.switch_language("es")
    assert isinstance(again, StepPage) and again.step_id == "how-bad"
    assert again.language() == "es"
    assert again.checked("peg_p") == ["7"]
    assert again.checked("peg_e") == ["3"]
    assert again.heading() == spanish("How bad the pain is")
    back = again.switch_language("en")
    assert back.language() == "en" and back.checked("peg_e") == ["3"]
    requests_log.assert_same_origin()


def test_a_spanish_browser_without_javascript_on_a_small_screen(
    open_context, live_server, requests_log, screenshots_dir
):
    """A browser that asks for Spanish (Accept-Language, no switch pressed), JavaScript off.

    Spanish runs longer than English, so every page is checked at 320 px and at 200 % zoom
    (nothing cut off or overlapping, axe at both) and saved as a screenshot at 320 px in
    test-output/screenshots/es/.
    """
    shots = screenshots_dir / "es"
    shots.mkdir(exist_ok=True)
    for old in shots.glob("*.png"):
        old.unlink()
    # Layout depends on the CSS viewport only (see ZOOM_200); a pixel ratio of 1 keeps the
    # screenshots small and quick to write.
    context = open_context(java_script_enabled=False, locale="es-US", viewport=ZOOM_200)
    page = context.new_page()
    sizes_checked = []

    def at_both_sizes(page, name: str) -> None:
        in_spanish(page, name)
        for size in (ZOOM_200, PHONE_320):
            page.set_viewport_size(size)
            problems = page.evaluate(LAYOUT_JS)
            assert problems == [], f"layout on {name} at {size}: {problems}"
            violations = axe_violations(page)
            assert violations == [], f"axe on {name} at {size}: {violations}"
            sizes_checked.append((name, size["width"]))
        number = len(sizes_checked) // 2
        page.screenshot(path=shots / f"mobile-{number:02d}-{name}.png", full_page=True)
        page.set_viewport_size(ZOOM_200)

    trip = Journey(
        page,
        driver=Mouse(page),
        checks=Checks(axe=False, extra=[at_both_sizes]),
        today=clinic_today(live_server.app),
    )
    result = complete_with(trip, BASELINE, CONTACT).submit()
    assert isinstance(result, ResultPage), result
    assert page.locator("html.no-js").count() == 1  # app.js really did not run
    assert result.heading() == spanish("Your result")
    assert len(sizes_checked) == 2 * len(trip.checks.visited) >= 36, sizes_checked
    assert len(list(shots.glob("*.png"))) == len(trip.checks.visited)
    requests_log.assert_same_origin()
