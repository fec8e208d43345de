"""Sign-in, second factor, throttling and sessions."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from argon2 import extract_parameters, profiles
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from screening.audit import AuditEvent
from screening.extensions import db
from screening.models import StaffSession, StaffUser
from screening.staff import access, accounts, credentials
from tests.staff.helpers import PASSWORD, StaffClient, make_staff, user


def audit_actions(app) -> list[tuple[str, str]]:
    with app.app_context():
        return [
            (e.action, e.outcome)
            for e in db.session.scalars(select(AuditEvent).order_by(AuditEvent.id))
        ]


# ------------------------------------------------------------------ accounts


def test_a_fresh_install_has_no_accounts_and_usernames_are_unique(app):
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(StaffUser)) == 0
        db.session.add(StaffUser(username="sam", role="intake", password_hash="x"))
        db.session.commit()
        db.session.add(StaffUser(username="sam", role="admin", password_hash="y"))
        with pytest.raises(IntegrityError):
            db.session.commit()
        db.session.rollback()


@pytest.mark.parametrize("name", ["admin", "root", "test", "Staff"])
def test_shared_account_names_are_refused(app, name):
    with app.app_context(), pytest.raises(accounts.AccountError, match="shared"):
        accounts.create_user(name, "admin", PASSWORD)


def test_passwords_use_the_recommended_costs(app, production_password_hashing):
    """The app's hasher: argon2id at RFC 9106's costs for machines with less memory (the
    other tests use the smallest costs, for speed; see tests/conftest.py)."""
    account = make_staff(app, "ursula", "intake")
    stored = user(app, account).password_hash
    assert extract_parameters(stored) == profiles.RFC_9106_LOW_MEMORY
    assert credentials.check_password(stored, PASSWORD)
    assert not credentials.check_password(stored, PASSWORD[:-1] + "X")
    assert not credentials.check_password(None, PASSWORD)


def test_passwords_are_argon2id_with_their_own_salt(app):
    one = make_staff(app, "una", "intake")
    two = make_staff(app, "tom", "intake")
    hashes = [user(app, one).password_hash, user(app, two).password_hash]
    assert all(h.startswith("$argon2id$") for h in hashes)
    assert hashes[0] != hashes[1]
    assert credentials.check_password(hashes[0], PASSWORD)
    assert not credentials.check_password(hashes[0], PASSWORD[:-1] + "X")


@pytest.mark.parametrize(
    ("password", "accepted"),
    [
        ("a" * 5 + "bcdefg", False),  # 11 characters
        ("mango sunset", True),  # 12
        ("river stone " * 10 + "end of it", True),  # 128+
        ("Password123!", False),  # a common word dressed up
        ("correct horse battery staple", False),  # famous
        ("the quiet library lamp hums", True),  # long lower-case passphrase
        ("12345678901234", False),
    ],
)
def test_password_policy(password, accepted):
    assert (credentials.password_problem(password) is None) is accepted


def test_long_passwords_are_not_truncated(app, staff_client, clock):
    long_password = "x" * 99 + "tail of a long passphrase"
    account = make_staff(app, "lena", "intake")
    with app.app_context():
        db.session.get(StaffUser, account.id).password_hash = credentials.hash_password(
            long_password
        )
        db.session.commit()
    staff_client.get("/staff/login")
    changed = long_password[:99] + "Tail of a long passphrase"
    response = staff_client.post("/staff/login", {"username": "lena", "password": changed})
    assert response.status_code == 401


def test_cli_adds_an_account_with_the_password_typed_twice(app, runner):
    result = runner.invoke(args=["clinic", "add", "East Clinic"])
    assert result.exit_code == 0
    result = runner.invoke(
        args=["staff", "add", "nia", "--role", "intake", "--clinic", "East Clinic"],
        input=f"{PASSWORD}\n{PASSWORD}\n",
    )
    assert result.exit_code == 0, result.output
    result = runner.invoke(
        args=["staff", "add", "neo", "--role", "admin", "--password-stdin"], input="short\n"
    )
    assert result.exit_code != 0 and "at least 12 characters" in result.output
    listing = runner.invoke(args=["staff", "list"]).output
    assert "nia\tintake\tactive\tcode not set up\tEast Clinic" in listing
    assert runner.invoke(args=["staff", "disable", "nia"]).exit_code == 0
    assert "nia\tintake\tdisabled" in runner.invoke(args=["staff", "list"]).output


# ------------------------------------------------------------------ second factor


def test_first_sign_in_enrols_the_authenticator_on_our_own_page(app, staff_client, clock):
    account = make_staff(app, "eve", "intake", enrolled=False)
    staff_client.get("/staff/login")
    response = staff_client.post("/staff/login", {"username": "eve", "password": PASSWORD})
    assert response.headers["Location"].endswith("/staff/enrol")
    page = staff_client.get("/staff/enrol").get_data(as_text=True)
    assert "<svg" in page and 'class="segno"' in page  # drawn here, no external service
    with app.app_context():
        pending = db.session.get(StaffUser, account.id).totp_pending
    assert " ".join(pending[i : i + 4] for i in range(0, len(pending), 4)) in page
    account.secret = pending
    response = staff_client.post("/staff/enrol", {"code": account.code()})
    assert response.headers["Location"].endswith("/staff/")
    assert user(app, account).totp_secret == pending
    assert staff_client.get("/staff/").status_code == 200


def test_password_alone_reaches_no_staff_page(app, staff_client, intake, clock):
    staff_client.get("/staff/login")
    staff_client.post("/staff/login", {"username": intake.username, "password": intake.password})
    for url in ("/staff/", "/staff/admin/users", "/staff/password"):
        assert staff_client.get(url).headers["Location"].startswith("/staff/login")


def test_codes_work_once_and_only_near_now(app, intake, clock):
    first = StaffClient(app.test_client())
    assert first.sign_in(intake).status_code == 302
    # The same code again (another browser, same 30 seconds) is a replay.
    second = StaffClient(app.test_client())
    assert second.sign_in(intake, code=intake.code()).status_code == 401
    # A code from two steps ago is too old.
    clock.shift(30)
    assert second.post("/staff/code", {"code": intake.code(at=time.time() - 60)}).status_code == 401
    assert ("auth.mfa_failed", "failure") in audit_actions(app)
    # The code of the new step works.
    assert second.post("/staff/code", {"code": intake.code()}).status_code == 302


# ------------------------------------------------------------------ throttling


def test_failures_throttle_the_account_not_everyone(make_app, clock):
    app = make_app()
    target = make_staff(app, "tia", "intake")
    other = make_staff(app, "otto", "intake")
    attacker = StaffClient(app.test_client())
    attacker.get("/staff/login")
    for _ in range(5):
        attacker.post("/staff/login", {"username": "tia", "password": "wrong password here"})
    # The right password is now refused for that account ...
    response = attacker.post("/staff/login", {"username": "tia", "password": PASSWORD})
    assert "Too many failed sign-ins" in response.get_data(as_text=True)
    # ... also through a second app instance (the count is in the database) ...
    twin = StaffClient(make_app().test_client())
    twin.get("/staff/login")
    assert "Too many failed sign-ins" in twin.post(
        "/staff/login", {"username": "tia", "password": PASSWORD}
    ).get_data(as_text=True)
    # ... while another account signs in normally.
    assert StaffClient(app.test_client()).sign_in(other).status_code == 302
    # After the window the account works again.
    clock.shift(timedelta(minutes=16))
    assert StaffClient(app.test_client()).sign_in(target).status_code == 302


WRONG_PASSWORD = "wrong password here"
ATTACKER = {"REMOTE_ADDR": "192.0.2.200"}


def fail(client: StaffClient, username: str, password: str = WRONG_PASSWORD, **kwargs):
    client.get("/staff/login")
    return client.post("/staff/login", {"username": username, "password": password}, **kwargs)


def test_account_failures_make_each_try_wait_longer_and_say_how_long(app, intake, clock):
    browser = StaffClient(app.test_client())
    statuses = [fail(browser, intake.username).status_code for _ in range(5)]
    assert statuses == [401] * 5
    # The sixth try waits 15 seconds, even with the right password, and is not checked.
    refused = fail(browser, intake.username, intake.password)
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "15"
    text = refused.get_data(as_text=True)
    assert "Too many failed sign-ins for this account. Wait 15 seconds, then try again." in text
    clock.shift(10)
    assert "Wait 5 seconds" in fail(browser, intake.username).get_data(as_text=True)
    clock.shift(5)
    # A sixth failure: now 30 seconds, then 60 (a refused try did not add to it).
    assert fail(browser, intake.username).status_code == 401
    assert fail(browser, intake.username).headers["Retry-After"] == "30"
    clock.shift(30)
    assert fail(browser, intake.username).status_code == 401
    assert "Wait 1 minute," in fail(browser, intake.username).get_data(as_text=True)
    clock.shift(60)
    # Once the wait is over the right password gets in, and the count starts again.
    assert StaffClient(app.test_client()).sign_in(intake).status_code == 302
    assert fail(browser, intake.username).status_code == 401


def test_an_attacker_trying_whenever_allowed_gets_few_guesses_an_hour(app, intake, clock):
    """At most 100 failures an hour per account; the growing waits allow far fewer."""
    attacker = StaffClient(app.test_client())
    failures, elapsed = 0, 0
    while elapsed < 3600:
        response = fail(attacker, intake.username, environ_base=ATTACKER)
        if response.status_code == 401:
            failures += 1
        else:
            wait = int(response.headers["Retry-After"])
            clock.shift(wait)
            elapsed += wait
    assert 10 <= failures <= 15


def test_the_wait_stops_growing_at_the_maximum(make_app, clock):
    app = make_app(LOGIN_MAX_DELAY_SECONDS=120)
    account = make_staff(app, "max.wait", "intake")
    browser = StaffClient(app.test_client())
    for _ in range(12):
        fail(browser, account.username)
        clock.shift(121)
    fail(browser, account.username)
    assert fail(browser, account.username).headers["Retry-After"] == "120"


def test_failures_for_other_accounts_from_the_same_network_keep_no_colleague_out(
    app, intake, clock
):
    """Found in review: anyone on the clinic's network could lock every staff member out."""
    attacker = StaffClient(app.test_client())
    statuses = [fail(attacker, f"guess{n}", environ_base=ATTACKER).status_code for n in range(25)]
    # 20 failures, then tries that wait (not checked, not counted).
    assert statuses == [401] * 20 + [429] * 5
    # A password alone from that network now waits too; the page says for how long and
    # how to sign in at once.
    colleague = StaffClient(app.test_client())
    colleague.get("/staff/login")
    login = {"username": intake.username, "password": intake.password}
    asked = colleague.post("/staff/login", login, environ_base=ATTACKER)
    text = asked.get_data(as_text=True)
    assert asked.status_code == 429 and asked.headers["Retry-After"] == "15"
    assert "Too many failed sign-ins from this network. Wait 15 seconds, or sign in now" in text
    assert 'name="code"' in text and "authenticator app" in text
    signed_in = colleague.post(
        "/staff/login", {**login, "code": intake.code()}, environ_base=ATTACKER
    )
    assert signed_in.status_code == 302 and signed_in.headers["Location"].endswith("/staff/")
    assert colleague.get("/staff/", environ_base=ATTACKER).status_code == 200
    assert ("auth.login", "success") in audit_actions(app)
    # Another address is not affected at all.
    elsewhere = StaffClient(app.test_client())
    clock.shift(30)  # a new code
    assert elsewhere.sign_in(intake).status_code == 302


def test_on_a_noisy_network_a_password_alone_is_never_checked(app, intake, clock):
    """Guessing from that address learns nothing about a password without the code."""
    attacker = StaffClient(app.test_client())
    for number in range(20):
        fail(attacker, f"guess{number}", environ_base=ATTACKER)
    right = fail(attacker, intake.username, intake.password, environ_base=ATTACKER)
    wrong = fail(attacker, intake.username, environ_base=ATTACKER)
    unknown = fail(attacker, "nobody.here", environ_base=ATTACKER)

    def body(response):
        return response.get_data(as_text=True).replace(attacker.token or "", "")

    assert right.status_code == wrong.status_code == unknown.status_code == 429
    assert body(right) == body(wrong)
    # With a made-up code, the right and a wrong password get the same answer.
    attempts = []
    for password in (intake.password, WRONG_PASSWORD):
        attacker.get("/staff/login")
        attempts.append(
            attacker.post(
                "/staff/login",
                {"username": intake.username, "password": password, "code": "000000"},
                environ_base=ATTACKER,
            )
        )
    assert [a.status_code for a in attempts] == [401, 401]
    assert "The username, password or code is wrong." in body(attempts[0])
    assert body(attempts[0]) == body(attempts[1])


def test_same_network_as_the_attacker_gets_in_once_the_account_wait_is_over(app, intake, clock):
    attacker = StaffClient(app.test_client())
    for _ in range(5):
        fail(attacker, intake.username, environ_base=ATTACKER)
    colleague = StaffClient(app.test_client())
    assert (
        fail(colleague, intake.username, intake.password, environ_base=ATTACKER).status_code == 429
    )
    clock.shift(15)
    # Five failures from the address: not enough to ask for the code; the password works.
    response = fail(colleague, intake.username, intake.password, environ_base=ATTACKER)
    assert response.status_code == 302 and response.headers["Location"].endswith("/staff/code")


def test_the_network_wait_grows_and_then_a_password_alone_is_checked_again(app, intake, clock):
    attacker = StaffClient(app.test_client())
    for number in range(20):
        fail(attacker, f"guess{number}", environ_base=ATTACKER)
    clock.shift(15)
    assert fail(attacker, "guess20", environ_base=ATTACKER).status_code == 401
    assert fail(attacker, "guess21", environ_base=ATTACKER).headers["Retry-After"] == "30"
    clock.shift(30)
    colleague = StaffClient(app.test_client())
    response = fail(colleague, intake.username, intake.password, environ_base=ATTACKER)
    assert response.status_code == 302 and response.headers["Location"].endswith("/staff/code")


def test_unknown_user_and_wrong_password_look_the_same(app, staff_client, intake, clock):
    staff_client.get("/staff/login")
    unknown = staff_client.post(
        "/staff/login", {"username": "nobody", "password": "whatever it is"}
    )
    wrong = staff_client.post(
        "/staff/login", {"username": intake.username, "password": "whatever it is"}
    )
    assert unknown.status_code == wrong.status_code == 401

    def body(response):
        return response.get_data(as_text=True).replace(staff_client.token or "", "")

    assert "The username or password is wrong." in body(unknown)
    assert body(unknown).replace('value="nobody"', "") == body(wrong).replace(
        f'value="{intake.username}"', ""
    )
    assert ("auth.login_failed", "failure") in audit_actions(app)


# ------------------------------------------------------------------ sessions


def test_session_cookie_flags_in_production(make_app, clock):
    app = make_app(SESSION_COOKIE_SECURE=True)
    account = make_staff(app, "sue", "intake")
    client = StaffClient(app.test_client())
    client.get("/staff/login", base_url="https://localhost")
    response = client.client.post(
        "/staff/login",
        data={
            "username": account.username,
            "password": account.password,
            "csrf_token": client.token,
        },
        base_url="https://localhost",
        headers={"Referer": "https://localhost/staff/login"},  # browsers send it (same-origin)
    )
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("__Host-screening_session=")
    for part in ("Secure", "HttpOnly", "SameSite=Lax", "Path=/"):
        assert part in cookie
    assert "Domain=" not in cookie
    assert all("remember" not in header for header in response.headers.getlist("Set-Cookie"))


def test_sign_out_ends_the_session_on_the_server(app, staff_client, intake, clock):
    staff_client.sign_in(intake)
    copied = staff_client.session_token()
    staff_client.get("/staff/")
    staff_client.post("/staff/logout", {})
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(StaffSession)) == 0
    replay = app.test_client()
    replay.set_cookie("screening_session", copied)
    response = replay.get("/staff/")
    assert response.headers["Location"].startswith("/staff/login")
    assert ("auth.logout", "success") in audit_actions(app)


def test_session_id_changes_at_sign_in(app, staff_client, intake, clock):
    staff_client.get("/staff/login")
    staff_client.post("/staff/login", {"username": intake.username, "password": intake.password})
    with app.app_context():
        before = set(db.session.scalars(select(StaffSession.id)))
    staff_client.get("/staff/code")
    staff_client.post("/staff/code", {"code": intake.code()})
    with app.app_context():
        after = set(db.session.scalars(select(StaffSession.id)))
    assert len(before) == len(after) == 1 and before != after


def test_idle_logoff_after_15_minutes_with_an_audit_row(app, staff_client, intake, clock):
    staff_client.sign_in(intake)
    clock.shift(timedelta(minutes=14))
    assert staff_client.get("/staff/").status_code == 200
    clock.shift(timedelta(minutes=14))
    assert staff_client.get("/staff/").status_code == 200  # activity at 14 min kept it alive
    clock.shift(timedelta(minutes=16))
    response = staff_client.get("/staff/")
    assert response.headers["Location"].startswith("/staff/login")
    assert ("auth.timeout", "success") in audit_actions(app)


def last_seen(app):
    with app.app_context():
        [seen] = db.session.scalars(select(StaffSession.last_seen)).all()
        return seen


@pytest.mark.parametrize(
    "path",
    [
        "/staff/password",  # a form: nothing written, nothing committed
        "/staff/submissions/" + "0" * 32,  # not found: nothing written
    ],
)
def test_a_page_that_writes_nothing_still_counts_as_activity(
    app, staff_client, intake, clock, path
):
    """The last activity rides in the page's own transaction when it commits one; when
    it does not, it is written at the end of the request, to the moment it began."""
    staff_client.sign_in(intake)
    clock.shift(timedelta(minutes=14))
    asked = datetime.now(UTC)
    assert staff_client.get(path).status_code in (200, 404)
    assert last_seen(app) == asked
    clock.shift(timedelta(minutes=14))
    assert staff_client.get("/staff/").status_code == 200  # 28 minutes after signing in


def test_a_page_that_rolls_back_still_counts_as_activity(
    app, staff_client, intake, clock, monkeypatch
):
    staff_client.sign_in(intake)
    clock.shift(timedelta(minutes=10))

    def broken(user, permission):
        raise RuntimeError("role store unavailable")

    monkeypatch.setattr(access, "has_permission", broken)
    asked = datetime.now(UTC)
    # The check's failure rolls back (with the activity in it), then audits and commits.
    assert staff_client.get("/staff/").status_code == 403
    assert last_seen(app) == asked


def test_the_idle_warning_is_on_every_signed_in_page(app, staff_client, intake, clock):
    staff_client.sign_in(intake)
    page = staff_client.get("/staff/").get_data(as_text=True)
    assert 'data-idle-seconds="900"' in page and 'id="idle-warning"' in page
    status = staff_client.client.get("/staff/session").get_json()
    assert status == {"seconds_left": 900}


def test_absolute_limit_of_12_hours(app, staff_client, intake, clock):
    staff_client.sign_in(intake)
    for _ in range(143):  # a request every 5 minutes for 11 h 55 min
        clock.shift(timedelta(minutes=5))
        assert staff_client.get("/staff/session").status_code in (200, 302)
        staff_client.get("/staff/")
    clock.shift(timedelta(minutes=10))
    assert staff_client.get("/staff/").headers["Location"].startswith("/staff/login")


def test_disabling_an_account_ends_all_its_sessions(app, intake, clock):
    one, two = StaffClient(app.test_client()), StaffClient(app.test_client())
    one.sign_in(intake)
    clock.shift(30)
    two.sign_in(intake)
    with app.app_context():
        accounts.disable(db.session.get(StaffUser, intake.id))
        db.session.commit()
    for client in (one, two):
        assert client.get("/staff/").headers["Location"].startswith("/staff/login")


def test_changing_the_password_ends_the_other_sessions(app, intake, clock):
    here, there = StaffClient(app.test_client()), StaffClient(app.test_client())
    here.sign_in(intake)
    clock.shift(30)
    there.sign_in(intake)
    here.get("/staff/password")
    response = here.post(
        "/staff/password", {"current": intake.password, "new": "a brand new garden path"}
    )
    assert response.status_code == 302
    assert here.get("/staff/").status_code == 200
    assert there.get("/staff/").headers["Location"].startswith("/staff/login")


# ------------------------------------------------------------------ redirects: only local paths


@pytest.mark.parametrize(
    ("target", "followed"),
    [
        ("https://evil.example", False),
        ("//evil.example", False),
        ("/\\evil.example", False),
        ("\\\\evil.example", False),
        ("javascript:alert(1)", False),
        ("%2F%2Fevil.example", False),
        ("/staff/password", True),
    ],
)
def test_next_only_follows_local_paths(app, intake, clock, target, followed):
    client = StaffClient(app.test_client())
    client.get("/staff/login", query_string={"next": target})
    client.post("/staff/login", {"username": intake.username, "password": intake.password})
    client.get("/staff/code")
    response = client.post("/staff/code", {"code": intake.code()})
    assert response.headers["Location"] == (target if followed else "/staff/")
