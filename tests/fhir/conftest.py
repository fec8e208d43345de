from __future__ import annotations

import pytest
import time_machine

from tests.fhir.helpers import LONG_AGO
from tests.staff.conftest import START

assert LONG_AGO < START


@pytest.fixture()
def clock():
    """A controlled clock (time.time and datetime.now), well after :data:`LONG_AGO`."""
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller
