"""What a shared computer keeps after a patient and a staff member have used it.

Nothing kept by the browser: after a whole journey, with every free-text question answered,
the browser's localStorage, sessionStorage, IndexedDB, Cache Storage and script-readable
cookies hold nothing (the app's cookie is HttpOnly and holds only a random id).
No patient data from the Back button: after staff sign out, the Back button does not bring
the patient's data back (pages are ``no-store`` and the sign-out says ``Clear-Site-Data``):
the browser asks the server again, which sends the sign-in page; reloading gives the sign-in
page too.
"""

from __future__ import annotations

import pytest

from tests.browser.checks import Checks
from tests.browser.patient_pages import Journey, complete_with
from tests.browser.staff_pages import LoginPage, StaffJourney
from tests.free_text import every_text
from tests.patient_client import clinic_today
from tests.staff.helpers import make_staff

pytestmark = pytest.mark.browser

NAME = "Quilla Storagecanary"
CONTACT = {"full_name": NAME, "phone": "555 201 7788", "email": "", "best_time": "morning"}
ANSWERS = every_text(lambda qid: f"Storagecanary {qid}")

#: Everything a page's scripts could have left in the browser for this site.
LEFTOVERS = """async () => {
  const databases = indexedDB.databases ? await indexedDB.databases() : [];
  const caches_ = self.caches ? await caches.keys() : [];
  const all = (store) => Object.keys(store).map((k) => k + "=" + store.getItem(k));
  return {
    localStorage: all(localStorage),
    sessionStorage: all(sessionStorage),
    indexedDB: databases.map((d) => d.name),
    caches: caches_,
    cookies: document.cookie,
  };
}"""
NOTHING = {"localStorage": [], "sessionStorage": [], "indexedDB": [], "caches": [], "cookies": ""}


def test_nothing_is_left_in_the_browser_and_back_after_sign_out_shows_no_patient(
    open_context, live_server, requests_log
):
    app = live_server.app
    # Given a patient who fills every page, every free-text question included, and sends
    patient = Journey(open_context().new_page(), checks=Checks(axe=False), today=clinic_today(app))
    result = complete_with(patient, ANSWERS, CONTACT).submit()
    reference = result.reference().strip()
    assert reference

    # Then their browser keeps nothing of it: no storage of any kind, no readable cookie
    assert result.page.evaluate(LEFTOVERS) == NOTHING

    # Given a staff member who signs in and opens that submission (the name is on screen)
    staff = make_staff(app, "ines", "intake", clinics=["North Clinic"])
    trip = StaffJourney(open_context().new_page(), checks=Checks(axe=False))
    queue = trip.open_login().sign_in(staff.username, staff.password).enter(staff.code())
    detail = queue.search(reference).open(reference)
    assert detail.facts()["Name"] == NAME
    page = trip.page
    assert page.evaluate(LEFTOVERS) == NOTHING

    # When they sign out, then press Back
    trip.click('button:text-is("Sign out ines")')
    LoginPage(trip)
    page.go_back()
    page.wait_for_load_state()

    # Then the patient's data is not shown again: the browser asked the server, which
    # sent the sign-in page; a reload gives the sign-in page too
    assert NAME not in page.content()
    assert "/staff/login" in page.url
    page.reload()
    assert NAME not in page.content() and "/staff/login" in page.url
    assert page.evaluate(LEFTOVERS) == NOTHING
    requests_log.assert_same_origin()
