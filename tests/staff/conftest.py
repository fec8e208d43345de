from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine

from tests.staff.helpers import StaffClient, make_staff

#: A start time on a 30-second TOTP boundary, so tests know which codes are current.
START = datetime(2026, 11, 23, 15, 0, 0, tzinfo=UTC)


@pytest.fixture()
def clock():
    """A controlled clock (time.time and datetime.now) for sessions and TOTP codes."""
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


@pytest.fixture()
def staff_client(app):
    return StaffClient(app.test_client())


@pytest.fixture()
def intake(app):
    return make_staff(app, "ivy.intake", "intake", clinics=["North Clinic"])


@pytest.fixture()
def clinician(app):
    return make_staff(app, "carl.clinician", "clinician", clinics=["North Clinic"])


@pytest.fixture()
def admin(app):
    return make_staff(app, "ada.admin", "admin")
