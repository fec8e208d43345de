"""Patients on phones: the body map and the 0-10 scales at 320 CSS px wide.

- Every region of the body map takes a tap of at least 24 x 24 CSS px (WCAG 2.2, 2.5.8):
  the box of what receives the tap, and a real 24 x 24 square in which every point
  reaches that region and no other.
- The places picked are listed in words under the picture, with and without JavaScript.
- Without JavaScript no visible text asks to tap the picture.
- The 11 boxes of each 0-10 scale sit on one row at 320 px, in English and in Spanish.
"""

from __future__ import annotations

import re

import pytest

from screening.scoring import questionnaire
from tests.browser.axe import axe_violations
from tests.browser.checks import Checks, visible_text
from tests.browser.drivers import PHONE_320
from tests.browser.input_devices import Mouse
from tests.browser.patient_pages import Journey, StepPage, complete_with
from tests.browser.test_patient_journey import V01
from tests.factories import CONTACT
from tests.patient_client import clinic_today

pytestmark = pytest.mark.browser

TARGET = 24  # CSS px, WCAG 2.2 success criterion 2.5.8 (AA)
REGIONS = questionnaire.REGIONS
LABELS = {code: region.label for code, region in REGIONS.items()}


def journey(page, live_server) -> Journey:
    return Journey(page, driver=Mouse(page), checks=Checks(), today=clinic_today(live_server.app))


def phone(open_context, **options):
    return open_context(viewport=PHONE_320, **options).new_page()


# ------------------------------------------------------------------ the body map

#: {region code: [{view, width, height}]}: the box of each element that takes a tap for a
#: region (its shape together with any larger, invisible tap area), in each view.
BOXES_JS = """
() => {
  const out = {};
  for (const el of document.querySelectorAll('[data-bodymap] [data-region]')) {
    const r = el.getBoundingClientRect();
    const view = el.closest('svg').classList.contains('bodymap__svg--back') ? 'back' : 'front';
    (out[el.getAttribute('data-region')] ||= []).push({view, width: r.width, height: r.height});
  }
  return out;
}
"""

#: The regions (and view) for which no size x size square can be found in which every
#: sampled point, as the browser hit-tests it, reaches that region: a check that the box
#: above is not mostly covered by a neighbour.
NO_SQUARE_JS = """
(size) => {
  const missing = [];
  const samples = 7;
  for (const el of document.querySelectorAll('[data-bodymap] [data-region]')) {
    // Near the top of the window: clear of the words that stay at its bottom.
    window.scrollTo(0, window.scrollY + el.getBoundingClientRect().top - 60);
    const r = el.getBoundingClientRect();
    const owns = (x, y) => {
      const hit = document.elementFromPoint(x, y);
      return !!hit && hit.closest('[data-region]') === el;
    };
    let found = false;
    for (let y = r.top; !found && y + size <= r.bottom + 0.01; y += 1) {
      for (let x = r.left; !found && x + size <= r.right + 0.01; x += 1) {
        let ok = true;
        for (let i = 0; ok && i < samples; i++) {
          for (let j = 0; ok && j < samples; j++) {
            const step = (size - 1) / (samples - 1);
            ok = owns(x + 0.5 + i * step, y + 0.5 + j * step);
          }
        }
        found = ok;
      }
    }
    if (!found) {
      const view = el.closest('svg').classList.contains('bodymap__svg--back') ? 'back' : 'front';
      missing.push(`${el.getAttribute('data-region')} (${view})`);
    }
  }
  window.scrollTo(0, 0);
  return missing;
}
"""


def picked(page) -> tuple[str, list[str]]:
    """The words under the picture: the line that leads in, and the places listed."""
    words = page.locator("#regions-picked")
    return (
        visible_text(words.locator(".bodymap-picked__title").inner_text()),
        [visible_text(t) for t in words.locator("li").all_inner_texts()],
    )


def region_in_picture(page, code: str, view: str = "front"):
    return page.locator(f'[data-bodymap] .bodymap__svg--{view} [data-region="{code}"]')


def test_every_body_region_takes_a_finger_tap_at_320_px(open_context, live_server, requests_log):
    page = phone(open_context, has_touch=True)
    where = complete_with(journey(page, live_server), V01, CONTACT, stop_at="where")
    assert isinstance(where, StepPage) and where.step_id == "where"
    assert page.evaluate("window.innerWidth") == 320

    boxes = page.evaluate(BOXES_JS)
    assert set(boxes) == set(REGIONS), set(REGIONS) ^ set(boxes)
    small = {
        f"{code} ({box['view']})": f"{box['width']:.1f} x {box['height']:.1f}"
        for code, found in boxes.items()
        for box in found
        if box["width"] < TARGET or box["height"] < TARGET
    }
    assert small == {}, f"tap boxes under {TARGET} x {TARGET} CSS px at 320 px: {small}"
    assert page.evaluate(NO_SQUARE_JS, TARGET) == [], f"no {TARGET} px square to tap"
    assert page.evaluate("document.scrollingElement.scrollWidth") <= 320

    # Nothing picked yet, in words, and the words are not hidden from screen readers.
    words = page.locator("#regions-picked")
    assert words.get_attribute("aria-live") == "polite"
    assert page.locator("[aria-hidden=true] #regions-picked").count() == 0
    assert page.locator("[data-bodymap][aria-hidden=true]").count() == 1  # the picture is
    assert picked(page) == ("You have not picked any places yet.", [])

    # A tap on the thinnest region checks its box and names it under the picture.
    box = page.locator("#regions-mid_back_l")
    region_in_picture(page, "mid_back_l", "back").tap()
    assert box.is_checked()
    assert picked(page) == ("You picked:", [LABELS["mid_back_l"]])
    # A tap just beside the neck (the empty space of its larger tap area) counts as the neck.
    beside = region_in_picture(page, "neck_r").locator(".bodymap__hit")
    size = beside.bounding_box()
    beside.tap(position={"x": size["width"] * 2 / 17, "y": size["height"] / 2})
    assert page.locator("#regions-neck_r").is_checked()
    # In the order of the list.
    assert picked(page) == ("You picked:", [LABELS["neck_r"], LABELS["mid_back_l"]])
    # Both views show the pick.
    for view in ("front", "back"):
        assert "is-selected" in region_in_picture(page, "neck_r", view).get_attribute("class")
    assert axe_violations(page) == []

    # Tapped again: unchecked, and gone from the words.
    region_in_picture(page, "mid_back_l", "back").tap()
    assert not box.is_checked()
    assert picked(page) == ("You picked:", [LABELS["neck_r"]])
    # Checking a box in the list updates the words too.
    where.tick("regions", "neck_r", on=False)
    assert picked(page) == ("You have not picked any places yet.", [])
    assert "is-selected" not in region_in_picture(page, "neck_r").get_attribute("class")
    requests_log.assert_same_origin()


def test_without_javascript_the_words_show_the_saved_places(
    open_context, live_server, requests_log
):
    page = phone(open_context, java_script_enabled=False)
    trip = journey(page, live_server)
    where = complete_with(trip, V01, CONTACT, stop_at="where")
    assert page.locator("html.no-js").count() == 1
    assert picked(page) == ("No places saved yet.", [])

    where.answer(V01)
    after = where.continue_()
    assert isinstance(after, StepPage) and after.step_id == "where-most"
    where = after.previous()
    assert where.step_id == "where"
    saved = [code for code in REGIONS if code in V01["regions"]]
    assert picked(page) == ("Places you saved:", [LABELS[c] for c in saved])
    for code in saved:
        assert "is-selected" in region_in_picture(page, code, "back").get_attribute("class")

    # No visible words ask to tap the picture, which cannot be tapped here.
    text = visible_text(page.locator("body").inner_text())
    assert "The picture shows the places you saved." in text
    assert "Check every place where you have this pain." in text
    assert not re.search(r"\btap\b.{0,20}\bpicture|\bpicture\b.{0,20}\btap", text, re.I), text
    assert not re.search(r"\btap", text, re.I), text
    assert page.evaluate("document.scrollingElement.scrollWidth") <= 320
    requests_log.assert_same_origin()


# ------------------------------------------------------------------ the 0-10 scales

#: For each 0-10 scale on the page: its boxes (top, width, height, left, right) and where
#: its two anchors are.
SCALES_JS = """
() => [...document.querySelectorAll('.scale')].map(scale => {
  const group = scale.closest('.form-group');
  const box = el => { const r = el.getBoundingClientRect();
    return {top: r.top, left: r.left, right: r.right, width: r.width, height: r.height}; };
  return {
    id: group.id,
    radios: [...scale.querySelectorAll('input')].filter(i => i.type === 'radio').length,
    labels: [...scale.querySelectorAll('.scale__label')].map(box),
    anchors: [...group.querySelectorAll('.scale-anchors > span')].map(box),
  };
})
"""


def scale_problems(page) -> list[str]:
    problems = []
    width = page.evaluate("window.innerWidth")
    scroll = page.evaluate("document.scrollingElement.scrollWidth")
    if scroll > width:
        problems.append(f"the page scrolls sideways ({scroll} px in {width})")
    scales = page.evaluate(SCALES_JS)
    if not scales:
        problems.append("no 0-10 scale on the page")
    for scale in scales:
        labels, name = scale["labels"], scale["id"]
        if scale["radios"] != 11 or len(labels) != 11:
            problems.append(f"{name}: {scale['radios']} radios, {len(labels)} labels")
        tops = {round(label["top"]) for label in labels}
        if max(tops) - min(tops) > 1:
            problems.append(f"{name}: not one row (tops {sorted(tops)})")
        for n, label in enumerate(labels):
            if label["width"] < TARGET or label["height"] < TARGET:
                problems.append(f"{name} {n}: {label['width']:.1f} x {label['height']:.1f}")
        first, last = scale["anchors"][0], scale["anchors"][-1]
        for anchor in (first, last):
            if anchor["left"] < 0 or anchor["right"] > width or anchor["width"] == 0:
                problems.append(f"{name}: an anchor is off screen ({anchor})")
        # The anchors sit over the two ends of the row.
        if (
            abs(first["left"] - labels[0]["left"]) > 1
            or abs(last["right"] - labels[-1]["right"]) > 1
        ):
            problems.append(f"{name}: anchors not over the ends of the row")
    return problems


def test_scales_fit_one_row_at_320_px_in_english_and_spanish(
    open_context, live_server, requests_log
):
    page = phone(open_context)
    how_bad = complete_with(journey(page, live_server), V01, CONTACT, stop_at="how-bad")
    assert how_bad.step_id == "how-bad" and how_bad.language() == "en"
    assert scale_problems(page) == []

    # Real radio buttons, with the checked and focus styles in sight.
    how_bad.choose("peg_p", 7)
    label = page.locator('label[for="peg_p-7"]')
    style = "el => [getComputedStyle(el).backgroundColor, getComputedStyle(el).outlineStyle]"
    assert label.evaluate(style) == ["rgb(11, 61, 107)", "solid"]  # checked, and focused
    page.keyboard.press("ArrowRight")
    assert how_bad.checked("peg_p") == ["8"]
    assert page.locator('label[for="peg_p-8"]').evaluate(style)[1] == "solid"

    # With errors (a red bar at the side takes some of the width) the row still fits.
    again = how_bad.continue_()
    assert again.step_id == "how-bad" and again.error_summary_links()
    assert scale_problems(page) == []

    spanish = again.switch_language("es")
    assert isinstance(spanish, StepPage) and spanish.language() == "es"
    assert spanish.step_id == "how-bad"
    assert scale_problems(page) == []
    assert axe_violations(page) == []
    requests_log.assert_same_origin()


def test_body_map_in_spanish_at_320_px(open_context, live_server, requests_log):
    page = phone(open_context)
    how_bad = complete_with(journey(page, live_server), V01, CONTACT, stop_at="how-bad")
    spanish = how_bad.switch_language("es")
    spanish.answer(V01)
    where = spanish.continue_()
    assert where.step_id == "where" and where.language() == "es"
    small = [
        code
        for code, found in page.evaluate(BOXES_JS).items()
        for box in found
        if box["width"] < TARGET or box["height"] < TARGET
    ]
    assert small == []
    region_in_picture(page, "lower_back_l", "back").click()
    assert page.locator("#regions-lower_back_l").is_checked()
    label = page.locator('label[for="regions-lower_back_l"]').inner_text()
    assert picked(page)[1] == [visible_text(label)]
    assert page.evaluate("document.scrollingElement.scrollWidth") <= 320
    assert axe_violations(page) == []
    requests_log.assert_same_origin()
