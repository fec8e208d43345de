"""What one page changes in a draft: pure functions, no request or database."""

from __future__ import annotations

import pytest

from screening.patient import saving, steps

pytestmark = pytest.mark.database_free  # nothing here reads a database

WHERE = steps.BY_ID["where"]
TREATMENTS = steps.BY_ID["treatments"]


def test_a_field_with_an_error_keeps_its_saved_answer_and_the_others_are_saved():
    answers = {"regions": ["neck_l"], "other_location": "old"}
    page = {"regions": ["neck_l", "neck_r"], "other_location": "x" * 999}
    merged, _ = saving.merge_page(WHERE, answers, {}, page, {}, {"other_location": "too long"})
    assert merged["regions"] == ["neck_l", "neck_r"]
    assert merged["other_location"] == "old"


def test_an_answer_emptied_on_the_page_is_removed():
    merged, _ = saving.merge_page(
        WHERE,
        {"regions": ["neck_l"], "other_location": "hip"},
        {},
        {"other_location": None},
        {},
        {},
    )
    assert "other_location" not in merged


def test_primary_region_follows_the_body_map():
    one, _ = saving.merge_page(WHERE, {}, {}, {"regions": ["neck_l"]}, {}, {})
    assert one["primary_region"] == "neck_l"
    kept = {"regions": ["neck_l", "neck_r"], "primary_region": "neck_r"}
    still, _ = saving.merge_page(WHERE, kept, {}, {"regions": ["neck_r", "jaw_l"]}, {}, {})
    assert still["primary_region"] == "neck_r"
    gone, _ = saving.merge_page(WHERE, kept, {}, {"regions": ["jaw_l", "jaw_r"]}, {}, {})
    assert "primary_region" not in gone


def test_follow_ups_of_an_unticked_treatment_are_dropped():
    answers = {"tx": ["tx_tpi"], "tpi_relief": "ge_half", "tpi_duration": "w1_6"}
    merged, _ = saving.merge_page(TREATMENTS, answers, {}, {"tx": ["tx_pt"]}, {}, {})
    assert merged["tx"] == ["tx_pt"]
    assert "tpi_relief" not in merged and "tpi_duration" not in merged


def test_age_and_personal_details_are_kept_except_where_wrong():
    about = steps.BY_ID["about-you"]
    merged, personal = saving.merge_page(
        about,
        {},
        {"clinic_id": 2},
        {"preg": "no"},
        {"dob": "1980-06-15", "clinic_id": 9},
        {"clinic": "pick one"},
        age=46,
    )
    assert merged == {"preg": "no", "age": 46}
    assert personal["dob"] == "1980-06-15"
