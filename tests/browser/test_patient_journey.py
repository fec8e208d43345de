"""The patient's journey in a real browser (Debian's Chromium through Playwright).

Every page any scenario reaches is scanned with axe-core for the WCAG 2.0, 2.1 and 2.2 A and
AA rules and must have 0 violations (see ``checks.Checks``; there are no exclusions). Every
request any scenario makes is recorded and must go to the app's own origin.
"""

from __future__ import annotations

from typing import Any

import pytest

from screening.patient.readback import plain_answer
from screening.scoring import questionnaire
from tests.browser.axe import axe_violations, axe_violations_live
from tests.browser.checks import LAYOUT_JS, PAGE_BUDGET, Checks, PageWeights
from tests.browser.drivers import DESKTOP, MOBILE, PHONE_320, ZOOM_200
from tests.browser.input_devices import Keyboard, Mouse
from tests.browser.patient_pages import (
    Journey,
    ResultPage,
    ResumeLinkPage,
    ReviewPage,
    SavedPage,
    StepPage,
    complete_with,
    date_of_birth,
)
from tests.factories import BASELINE, CONTACT
from tests.patient_client import clinic_today

pytestmark = pytest.mark.browser

#: Vignette V01 of the clinical spec (section 4) is the baseline answer set B unchanged.
V01 = BASELINE
DISCUSS_HEADLINE = (
    "Your answers fit the kind of muscle pain that trigger point shots are sometimes used for."
)


def journey(page, live_server, **kwargs) -> Journey:
    return Journey(page, today=clinic_today(live_server.app), **kwargs)


def expected_rows(answers: dict[str, Any]) -> dict[str, str]:
    """What the check-answers page should say for each question of ``answers``."""
    rows = {}
    for qid, value in answers.items():
        question = questionnaire.QUESTIONS.get(qid)
        if (
            question is None
            or qid in ("consent", "age")
            or not questionnaire.is_shown(qid, answers)
        ):
            continue
        shown = plain_answer(question, value)
        rows[qid] = "\n".join(shown) if isinstance(shown, list) else shown
    return rows


def assert_review_lists(review: ReviewPage, answers: dict[str, Any], today) -> None:
    rows = review.rows()
    for qid, text in expected_rows(answers).items():
        assert rows.get(qid) == text, (qid, rows.get(qid), text)
    born = date_of_birth(answers["age"], today)
    assert rows["dob"] == f"{born.strftime('%B')} {born.day}, {born.year}"
    assert rows["full_name"] == CONTACT["full_name"]
    assert rows["phone"] == CONTACT["phone"]


def assert_discuss(result) -> None:
    assert isinstance(result, ResultPage), result
    assert result.heading() == "Your result"
    assert result.headline().startswith(DISCUSS_HEADLINE)
    assert result.page.locator("#urgent").count() == 0


def focused(page) -> dict[str, Any]:
    return page.evaluate(
        """() => { const a = document.activeElement;
                   return {id: a.id, summary: a.hasAttribute('data-error-summary'),
                           tag: a.tagName.toLowerCase()}; }"""
    )


# ------------------------------------------------------------------ keyboard and no-JS


def test_keyboard_only_reaches_the_discuss_result(page, live_server, requests_log):
    """Tab, Shift+Tab, arrows, Space and Enter only: no click, no .check()."""
    keys = Keyboard(page)
    trip = journey(page, live_server, driver=keys)
    about = trip.open("/").start()
    # Type the year first, then go back for the day and month (Shift+Tab).
    about.fill("dob_year", "1900")
    review = complete_with(trip, V01, CONTACT, start=about)
    assert isinstance(review, ReviewPage), review
    assert_review_lists(review, V01, trip.today)
    assert_discuss(review.submit())
    for key in ("Tab", "Shift+Tab", "ArrowDown", "Space", "Enter"):
        assert keys.keys[key] > 0, (key, keys.keys)
    assert page.evaluate("document.documentElement.classList.contains('js')")
    requests_log.assert_same_origin()


def test_without_javascript_reaches_the_discuss_result(open_context, live_server, requests_log):
    page = open_context(java_script_enabled=False).new_page()
    trip = journey(page, live_server, driver=Mouse(page))
    review = complete_with(trip, V01, CONTACT)
    assert page.locator("html.no-js").count() == 1  # app.js really did not run
    assert_review_lists(review, V01, trip.today)
    assert_discuss(review.submit())
    requests_log.assert_same_origin()


# ------------------------------------------------------------------ small screens


def test_small_screen_and_zoom_nothing_cut_off_or_overlapping(
    open_context, live_server, requests_log
):
    """Every page at 320 px and at 200 % zoom: no sideways scrolling, no control cut off at
    a side, no two visible controls or labels on top of each other, and axe at both sizes.

    One walk checks both sizes on each page (the viewport is resized in place; layout
    depends only on the CSS viewport, and the pixel ratio is 2 for both, as on most phones).
    """
    page = open_context(viewport=ZOOM_200, device_scale_factor=2).new_page()
    sizes_checked = []

    def at_both_sizes(page, name: str) -> None:
        for size in (PHONE_320, ZOOM_200):
            page.set_viewport_size(size)
            assert page.evaluate("window.innerWidth") == size["width"]
            problems = page.evaluate(LAYOUT_JS)
            assert problems == [], f"layout on {name} at {size}: {problems}"
            violations = axe_violations(page)
            assert violations == [], f"axe on {name} at {size}: {violations}"
            sizes_checked.append((name, size["width"]))

    trip = journey(page, live_server, checks=Checks(axe=False, extra=[at_both_sizes]))
    review = complete_with(trip, V01, CONTACT)
    assert_discuss(review.submit())
    assert len(sizes_checked) == 2 * len(trip.checks.visited) >= 38, sizes_checked
    requests_log.assert_same_origin()


# ------------------------------------------------------------------ emergency


def test_emergency_answer_shows_the_urgent_card_at_once_with_javascript(
    page, live_server, requests_log
):
    trip = journey(page, live_server)
    signs = complete_with(trip, V01, CONTACT, stop_at="warning-signs")
    card = signs.urgent_card()
    assert card.is_hidden()
    sent = len(requests_log.seen)
    signs.choose("rf_chest", "yes")
    # Shown and focused at once, before the page is sent: nothing went to the server.
    card.wait_for(state="visible")
    assert "Call 911 now" in card.inner_text()
    assert focused(page)["id"] == "urgent"
    assert len(requests_log.seen) == sent
    trip.checks(page, "warning-signs-urgent")
    # axe injected into the live page agrees with the scan of its copy (axe.Scanner).
    assert axe_violations_live(page) == []
    # Changing the answer back hides it again.
    signs.choose("rf_chest", "no")
    card.wait_for(state="hidden")
    requests_log.assert_same_origin()


def test_emergency_answer_shows_the_urgent_card_after_sending_without_javascript(
    open_context, live_server, requests_log
):
    page = open_context(java_script_enabled=False).new_page()
    trip = journey(page, live_server, driver=Mouse(page))
    answers = {**V01, "rf_chest": "yes"}
    signs = complete_with(trip, answers, CONTACT, stop_at="warning-signs")
    signs.answer(answers)
    assert signs.urgent_card().is_hidden()  # no script: nothing happens before sending
    again = signs.continue_()
    # The same page comes back with the card, and the answers are kept.
    assert isinstance(again, StepPage) and again.step_id == "warning-signs"
    assert page.url.endswith("/step/warning-signs#urgent")
    assert again.urgent_card().is_visible()
    assert "Call 911 now" in again.urgent_card().inner_text()
    assert again.checked("rf_chest") == ["yes"]
    assert again.checked("rf_bladder") == ["no"]
    # It can still be sent, and the card stays on the pages after it.
    later = again.continue_()
    assert isinstance(later, StepPage) and later.step_id == "feels-like"
    assert later.urgent_card().is_visible()
    requests_log.assert_same_origin()


# ------------------------------------------------------------------ nothing lost


def test_close_the_browser_and_resume_in_a_new_one(open_context, live_server, requests_log):
    first = open_context()
    trip = journey(first.new_page(), live_server)
    signs = complete_with(trip, V01, CONTACT, stop_at="warning-signs")
    signs.answer(V01)
    saved = signs.save_for_later()
    assert isinstance(saved, SavedPage)
    link = saved.link()
    assert link.startswith(live_server.url + "/r/"), link
    code = saved.code()
    first.close()  # the browser is gone, and its cookies with it

    later = journey(open_context().new_page(), live_server)
    gate = later.open(link)
    # Another browser: the date of birth first, then the first page not yet answered.
    assert isinstance(gate, ResumeLinkPage), gate
    page = gate.open_with(date_of_birth(V01["age"], later.today))
    assert isinstance(page, StepPage) and page.step_id == "feels-like", page
    # The earlier pages still hold their answers.
    earlier = page.previous()
    assert isinstance(earlier, StepPage) and earlier.step_id == "warning-signs"
    assert earlier.checked("rf_chest") == ["no"]
    review = complete_with(later, V01, CONTACT, start=earlier.continue_())
    assert isinstance(review, ReviewPage), review
    assert_review_lists(review, V01, later.today)
    assert_discuss(review.submit())
    assert code  # shown to write down
    requests_log.assert_same_origin()


def test_back_button_and_change_links_keep_answers(page, live_server, requests_log):
    trip = journey(page, live_server)
    how_bad = complete_with(trip, V01, CONTACT, stop_at="how-bad")
    # The browser's own Back button: the page before shows what was picked.
    page.go_back()
    how_long = trip.landed()
    assert how_long.step_id == "how-long"
    assert how_long.checked("dur") == ["m3_12"]
    assert how_long.checked("onset") == ["gradual"]
    # The form's "Previous page" button too.
    about = how_long.previous()
    assert about.step_id == "about-you"
    born = date_of_birth(V01["age"], trip.today)
    assert about.value("dob_year") == str(born.year)
    assert about.checked("preg") == ["no"]
    assert about.continue_().continue_().step_id == how_bad.step_id

    review = complete_with(trip, V01, CONTACT, start=trip.landed())
    assert isinstance(review, ReviewPage), review
    before = review.rows()
    # Each Change link is named after its question, for a screen reader's list of links.
    question = questionnaire.QUESTIONS["dur"].text
    assert page.get_by_role("link", name=f"Change {question}", exact=True).count() == 1

    # A Change link opens the page at that question and comes back to the review.
    step = review.change("dur")
    assert step.step_id == "how-long" and page.url.endswith("return_to=review#group-dur")
    assert step.checked("dur") == ["m3_12"]
    step.choose("dur", "gt_1y")
    review = step.continue_()
    assert isinstance(review, ReviewPage), review
    after = review.rows()
    assert after["dur"] == questionnaire.QUESTIONS["dur"].label_for("gt_1y")
    assert {k: v for k, v in after.items() if k != "dur"} == {
        k: v for k, v in before.items() if k != "dur"
    }

    # Back from the review to the page just changed: it shows the new answer.
    page.go_back()
    step = trip.landed()
    assert step.step_id == "how-long" and step.checked("dur") == ["gt_1y"]
    page.go_forward()
    review = trip.landed()

    # Change a multi-answer question through its page and back again.
    step = review.change("regions")
    assert sorted(step.checked("regions")) == sorted(V01["regions"])
    review = step.continue_()
    assert isinstance(review, ReviewPage) and review.rows() == after

    # Change it back, then send: the result is still V01's.
    step = review.change("dur")
    step.choose("dur", "m3_12")
    review = step.continue_()
    assert review.rows() == before
    assert_discuss(review.submit())
    requests_log.assert_same_origin()


# ------------------------------------------------------------------ errors


def test_errors_focus_the_summary_and_its_links_reach_the_fields(page, live_server, requests_log):
    trip = journey(page, live_server)
    about = trip.open("/").start()
    # Nothing filled in: the page comes back with errors.
    again = about.continue_()
    assert again.step_id == "about-you"
    assert page.title().startswith("Error: About you")
    assert focused(page)["summary"], focused(page)
    links = again.error_summary_links()
    assert links and links[0][0] == "dob_month", links
    for target, text in links:
        page.locator(f'[data-error-summary] a[href="#{target}"]').click()
        assert focused(page)["id"] == target, (text, focused(page))
        # The field's own error message is next to it.
        assert page.locator(f"#{target}").is_visible()

    # A page of radio questions, and following the links by keyboard this time.
    how_long = complete_with(trip, V01, CONTACT, start=again, stop_at="how-long")
    again = how_long.continue_()
    assert again.step_id == "how-long" and focused(page)["summary"]
    links = again.error_summary_links()
    assert [t for t, _ in links] == ["dur-lt_2w", "onset-gradual", "trend-worse_fast"], links
    keys = Keyboard(page)
    for target, text in links:
        keys.activate(f'[data-error-summary] a[href="#{target}"]')
        assert focused(page)["id"] == target, (text, focused(page))
    # Fixing the answers moves on.
    again.answer(V01)
    assert again.continue_().step_id == "how-bad"
    requests_log.assert_same_origin()


# ------------------------------------------------------------------ screenshots and weight


def test_every_patient_page_screenshots_and_page_weight(
    open_context, live_server, requests_log, screenshots_dir
):
    """One walk through every page (V01, plus "save and come back later"), which

    - saves a full-page screenshot of each page at desktop (1280 x 900) and mobile
      (390 x 844) sizes in test-output/screenshots/, and
    - weighs each page's first load: the bytes of the HTML and of every stylesheet, script
      and image it loads (uncompressed, as if nothing were cached), within the budget.
    """
    for old in screenshots_dir.glob("*.png"):
        old.unlink()
    page = open_context(viewport=DESKTOP).new_page()
    weigh = PageWeights(page, live_server.url)

    def shoot(page, name: str) -> None:
        number = len(weigh.pages)
        page.screenshot(path=screenshots_dir / f"desktop-{number:02d}-{name}.png", full_page=True)
        page.set_viewport_size(MOBILE)
        page.screenshot(path=screenshots_dir / f"mobile-{number:02d}-{name}.png", full_page=True)
        page.set_viewport_size(DESKTOP)

    trip = journey(page, live_server, checks=Checks(extra=[weigh, shoot]))
    goals = complete_with(trip, V01, CONTACT, stop_at="goals")
    contact = goals.save_for_later().go_on()
    review = complete_with(trip, V01, CONTACT, start=contact)
    assert_discuss(review.submit())

    shots = sorted(p.name for p in screenshots_dir.glob("*.png"))
    assert len(shots) == 2 * len(trip.checks.visited) >= 40, shots
    print(weigh.report("Page weight"))
    assert "/static/js/bodymap.js" in weigh.pages["where"]  # the body map page's own files count
    assert weigh.over(PAGE_BUDGET) == {}, f"pages over {PAGE_BUDGET} bytes"
    requests_log.assert_same_origin()


def test_axe_scan_catches_a_real_problem(page, live_server, requests_log):
    """Negative control: the scans above would see a problem if there were one."""
    journey(page, live_server).open("/")
    page.evaluate(
        """() => document.querySelector('main').insertAdjacentHTML('beforeend',
             '<input type="text"><img src="/static/none.png">'
             + '<p style="color:#ccc">pale</p>')"""
    )
    found = {v["id"] for v in axe_violations(page)}
    assert {"label", "image-alt", "color-contrast"} <= found, found
