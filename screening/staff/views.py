"""Staff pages: sign-in with a second factor, the submission list and detail, admin."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from markupsafe import Markup
from sqlalchemy import select
from werkzeug.wrappers import Response
from wtforms import SelectChoice

from screening import audit, bounds, i18n, initials, integrity, presentation, ratelimit
from screening.clinics import Hours, day_start, format_time, page_zone, zone_label, zone_of
from screening.clinics import today as clinic_today
from screening.extensions import db
from screening.i18n import ENGLISH_NAMES
from screening.models import (
    STATUS_LABELS,
    STATUS_MOVES,
    BreakGlassGrant,
    Clinic,
    Event,
    Role,
    StaffUser,
    Submission,
    utcnow,
)
from screening.pdf import render_pdf
from screening.presentation import STAFF as STAFF_WORDS
from screening.presentation import outcome_words
from screening.public import public
from screening.staff import (
    accounts,
    batches,
    credentials,
    csrf_failures,
    exports,
    forms,
    queue,
    throttle,
    workflow,
)
from screening.staff.access import (
    active_grant,
    current_staff_session,
    emergency_grants,
    end_current_session,
    end_emergency_access,
    end_user_sessions,
    fresh_required,
    grant_emergency_access,
    has_permission,
    permission_required,
    promote_session,
    recent_emergency_access,
    safe_next,
    sees_every_clinic,
    start_session,
)
from screening.staff.throttle import TOO_MANY, client_address, record_attempt, throttled
from screening.summaries import STYLESHEETS as SUMMARY_STYLESHEETS
from screening.summaries import build_summary

#: The clinic's pages stay English, whatever language a patient chose in this browser.
bp = i18n.english_only(Blueprint("staff", __name__, url_prefix="/staff"))
# A staff post without a valid token may be an attack: it is audited (from people not
# signed in, only up to a number per address and hour).
bp.register_error_handler(CSRFError, csrf_failures.csrf_failed)
# No staff view gets text PostgreSQL would refuse (a NUL): 400 first (screening/bounds.py).
bp.before_request(bounds.refuse_nul)

NEXT_KEY = "staff_next"
WRONG = "The username or password is wrong."
WRONG_WITH_CODE = "The username, password or code is wrong."


def _as_actor(username: str, user: StaffUser | None) -> Any:
    return SimpleNamespace(
        id=user.id if user else None, username=username[:64], role=user.role if user else None
    )


# ------------------------------------------------------------------ sign-in


@bp.route("/login", methods=["GET", "POST"])
@public
@ratelimit.limit_posts(address="RATELIMIT_LOGIN")  # per address (a clinic's staff share one)
def login() -> Any:
    if current_user.is_authenticated:
        return redirect(url_for("staff.queue_page"))
    form = forms.LoginForm()
    error = None
    wait = 0
    ask_code = False
    if request.method == "GET":
        session[NEXT_KEY] = safe_next(request.args.get("next"), "")
    if form.validate_on_submit():
        username = form.username.data.strip().lower()
        user = db.session.scalar(select(StaffUser).where(StaffUser.username == username))
        # Per account first: it holds whoever tries, and the page says how long.
        wait = throttle.account_wait(username)
        address_wait = 0 if wait else throttle.address_wait(client_address())
        # Failures from this address (often the clinic's network) ask for the code with
        # the password, rather than keep everyone at this address out.
        ask_code = address_wait > 0
        code = (form.code.data or "").strip()
        if wait or (ask_code and not code):
            wait = wait or address_wait
            audit.record(
                "auth.login_failed",
                actor=_as_actor(username, user),
                outcome="denied",
                detail={"reason": "throttled"},
            )
            db.session.commit()
            error = (throttle.address_message if ask_code else throttle.account_message)(wait)
        else:
            live = user if user is not None and user.active else None
            right = credentials.check_password(
                live.password_hash if live else None, form.password.data
            )
            if ask_code:
                # Password and code together, one answer for any mistake.
                if right and live is not None and live.totp_secret:
                    step = credentials.accept_code(live.totp_secret, code, live.totp_last_step)
                    if step is not None:
                        g.staff_session = start_session(live, "password")
                        db.session.commit()
                        return _finish_sign_in(live, step)
                error = WRONG_WITH_CODE
            elif right and live is not None:  # a right password is a live account's
                start_session(live, "password")
                db.session.commit()
                return redirect(
                    url_for("staff.second_factor" if live.totp_secret else "staff.enrol")
                )
            else:
                error = WRONG
            record_attempt(username, False)
            db.session.commit()  # counted even if the audit write fails
            audit.record("auth.login_failed", actor=_as_actor(username, user), outcome="failure")
            db.session.commit()
    status = 200 if error is None else 429 if wait else 401
    response = make_response(
        render_template("staff/login.html", form=form, error=error, ask_code=ask_code), status
    )
    if wait:
        response.headers["Retry-After"] = str(wait)
    return response


def _finish_sign_in(user: StaffUser, step: int) -> Response:
    user.totp_last_step = step
    db.session.commit()  # the code is spent, whatever happens next
    staff_session = current_staff_session()
    if staff_session is None:  # signing in started it: gone only if it ended meanwhile
        abort(401)
    promote_session(staff_session)
    record_attempt(user.username, True)
    audit.record("auth.login", actor=user)
    db.session.commit()  # the signed-in session, the attempt and the audit row together
    return redirect(safe_next(session.pop(NEXT_KEY, ""), url_for("staff.queue_page")))


def _pending_user() -> StaffUser:
    staff_session = current_staff_session()
    if staff_session is None:
        abort(403)
    return staff_session.user


@bp.route("/code", methods=["GET", "POST"])
def second_factor() -> Any:
    user = _pending_user()
    if not user.totp_secret:
        return redirect(url_for("staff.enrol"))
    form = forms.CodeForm()
    error = None
    if form.validate_on_submit():
        if throttled(user.username, client_address()):
            end_current_session()
            audit.record(
                "auth.mfa_failed", actor=user, outcome="denied", detail={"reason": "throttled"}
            )
            db.session.commit()
            flash(TOO_MANY)
            return redirect(url_for("staff.login"))
        step = credentials.accept_code(user.totp_secret, form.code.data, user.totp_last_step)
        if step is not None:
            return _finish_sign_in(user, step)
        record_attempt(user.username, False)
        db.session.commit()  # counted even if the audit write fails
        audit.record("auth.mfa_failed", actor=user, outcome="failure")
        db.session.commit()
        error = "That code did not work. Codes change every 30 seconds and work only once."
    return render_template("staff/code.html", form=form, error=error), 200 if error is None else 401


@bp.route("/enrol", methods=["GET", "POST"])
def enrol() -> Any:
    """Set up the second factor at first sign-in (or after an admin reset)."""
    user = _pending_user()
    if user.totp_secret:
        return redirect(url_for("staff.second_factor"))
    if not user.totp_pending:
        user.totp_pending = credentials.new_totp_secret()
        db.session.commit()
    form = forms.CodeForm()
    error = None
    if form.validate_on_submit():
        if throttled(user.username, client_address()):
            end_current_session()
            audit.record(
                "auth.mfa_failed",
                actor=user,
                outcome="denied",
                detail={"stage": "enrol", "reason": "throttled"},
            )
            db.session.commit()
            flash(TOO_MANY)
            return redirect(url_for("staff.login"))
        step = credentials.accept_code(user.totp_pending, form.code.data, 0)
        if step is not None:
            user.totp_secret, user.totp_pending = user.totp_pending, None
            audit.record("account.mfa_enrolled", actor=user, target=user.username)
            return _finish_sign_in(user, step)
        record_attempt(user.username, False)
        db.session.commit()  # counted even if the audit write fails
        audit.record("auth.mfa_failed", actor=user, outcome="failure", detail={"stage": "enrol"})
        db.session.commit()
        error = (
            "That code did not work. Check the time on your phone is right, then try the new code."
        )
    uri = credentials.provisioning_uri(
        user.totp_pending, user.username, current_app.config["CLINIC_NAME"]
    )
    # The QR code is drawn by segno on this server from data we made; it holds no input.
    qr = Markup(credentials.qr_svg(uri))  # noqa: S704  (our own SVG)  # nosec B704
    secret = " ".join(user.totp_pending[i : i + 4] for i in range(0, len(user.totp_pending), 4))
    return render_template("staff/enrol.html", form=form, error=error, qr=qr, secret=secret)


@bp.post("/logout")
def logout() -> Response:
    staff_session = current_staff_session()
    user = staff_session.user if staff_session is not None else None
    end_current_session()
    if user is not None:
        audit.record("auth.logout", actor=user)  # last before the commit (README)
    db.session.commit()
    session.pop(NEXT_KEY, None)
    response = redirect(url_for("staff.login"))
    response.headers["Clear-Site-Data"] = '"cache", "storage"'
    flash("You have signed out.")
    return response


@bp.route("/confirm", methods=["GET", "POST"])
def reauthenticate() -> Any:
    """Password and code again before a sensitive action."""
    form = forms.ReauthForm()
    error = None
    status = 200
    user = current_user
    if form.validate_on_submit():
        # The same count as sign-in: a person at an unattended session cannot guess on.
        if throttled(user.username, client_address()):
            audit.record(
                "auth.reauthenticate", actor=user, outcome="denied", detail={"reason": "throttled"}
            )
            db.session.commit()
            return render_template("staff/reauth.html", form=form, error=TOO_MANY), 429
        step = None
        if credentials.check_password(user.password_hash, form.password.data):
            step = credentials.accept_code(user.totp_secret, form.code.data, user.totp_last_step)
        if step is not None:
            user.totp_last_step = step
            promoted = promote_session(g.staff_session)
            promoted.authenticated_at = utcnow()
            db.session.commit()  # the code is spent, whatever happens next
            record_attempt(user.username, True)
            audit.record("auth.reauthenticate", actor=user)
            db.session.commit()
            return redirect(safe_next(request.args.get("next"), url_for("staff.queue_page")))
        record_attempt(user.username, False)
        db.session.commit()  # counted even if the audit write fails
        audit.record("auth.reauthenticate", actor=user, outcome="failure")
        db.session.commit()
        error = "The password or code is wrong."
        status = 401
    return render_template("staff/reauth.html", form=form, error=error), status


@bp.get("/session")
def session_status() -> Any:
    """Seconds until idle sign-out, for the warning script (does not count as activity)."""
    staff_session = g.staff_session
    idle = timedelta(minutes=current_app.config["STAFF_IDLE_MINUTES"])
    left = idle - (utcnow() - staff_session.last_seen)
    return jsonify(seconds_left=max(0, int(left.total_seconds())))


@bp.post("/keepalive")
def keepalive() -> Any:
    return jsonify(seconds_left=current_app.config["STAFF_IDLE_MINUTES"] * 60)


@bp.route("/password", methods=["GET", "POST"])
def password() -> Any:
    """Change one's own password; the current one is checked, counted and audited like a
    sign-in (a person at an unattended session must not be able to guess it)."""
    form = forms.PasswordChangeForm()
    errors: dict[str, str] = {}
    status = 200
    username = current_user.username
    if form.validate_on_submit():
        if throttled(username, client_address()):
            audit.record(
                "account.password_change",
                outcome="denied",
                target=username,
                detail={"reason": "throttled"},
            )
            db.session.commit()
            errors["current"], status = TOO_MANY, 429
        elif not credentials.check_password(current_user.password_hash, form.current.data):
            record_attempt(username, False)
            db.session.commit()  # counted even if the audit write fails
            audit.record(
                "account.password_change",
                outcome="failure",
                target=username,
                detail={"reason": "wrong current password"},
            )
            db.session.commit()
            errors["current"], status = "Your current password is wrong.", 401
        elif problem := credentials.password_problem(form.new.data, username):
            errors["new"], status = problem, 400
        else:
            current_user.password_hash = credentials.hash_password(form.new.data)
            end_user_sessions(current_user, keep=g.staff_session)
            record_attempt(username, True)
            audit.record("account.password_change", target=username)
            db.session.commit()  # the new password, the ended sessions and the audit row
            flash("Your password is changed. You were signed out everywhere else.")
            return redirect(url_for("staff.queue_page"))
    elif form.errors:
        status = 400
    return render_template("staff/password.html", form=form, errors=errors), status


# ------------------------------------------------------------------ submissions


def _visible_clinics() -> list[Clinic]:
    """The clinics whose submissions the signed-in person sees, by name.

    Read once per request: the queue asks, and so does the emergency access notice.
    """
    if "visible_clinics" not in g:
        if sees_every_clinic(current_user):
            g.visible_clinics = list(db.session.scalars(select(Clinic).order_by(Clinic.name)))
        else:
            g.visible_clinics = list(current_user.clinics)
    return g.visible_clinics


def _queue_page(search: str = "") -> tuple[str, int]:
    clinic_list = _visible_clinics()
    zone = page_zone(clinic_list)
    # A search finds a person whatever the state of their form; the list opens on open work.
    filters = queue.Filters.from_args(
        request.values,
        me=current_user.id,
        zone=zone,
        default_view="all" if search.strip() else "open",
    )
    everywhere = sees_every_clinic(current_user)
    found, counts = queue.page_and_counts(current_user, filters, search, everywhere)
    # Forms sent before any clinic existed: administrators see them first, to move them.
    orphans = (
        queue.unassigned_clinic()
        if has_permission(current_user, "submission:move")
        and not search.strip()
        and not filters.no_clinic
        else None
    )
    now = utcnow()
    # Administrators see every emergency access of the last day at once, with its reason.
    emergency = recent_emergency_access() if has_permission(current_user, "audit:read") else []
    today = clinic_today(zone)
    targets = current_app.config["QUEUE_TARGETS"]
    shown = [*found.rows, *(orphans.rows if orphans else ())]
    cap = queue.SEARCH_CAP if search.strip() else queue.COUNT_CAP
    listed = _listed_rows(shown, zone, now, targets)
    html = render_template(
        "staff/queue.html",
        rows=listed[: len(found.rows)],
        orphans=orphans,
        orphan_rows=listed[len(found.rows) :],
        total=found.total,
        too_many=found.too_many,
        filters=filters,
        counts=counts,
        clinics=clinic_list,
        zone=zone,
        zone_name=zone_label(zone),
        search=search,
        pages=max(1, -(-min(found.total, cap) // queue.PAGE_SIZE)),
        page_size=queue.PAGE_SIZE,
        cap=cap,
        statuses=STATUS_LABELS,
        views=queue.VIEWS,
        outcomes=STAFF_WORDS.outcomes,
        languages=ENGLISH_NAMES,
        args={k: v for k, v in request.args.items() if k != "page"},
        emergency=emergency,
        emergency_review=url_for(
            "staff.audit_activity",
            start=(today - timedelta(days=1)).isoformat(),
            end=today.isoformat(),
        ),
        now=now,
    )
    # Lists are audited with the ids shown; a search also notes that one ran.
    # Written once the page is rendered: its commit expires the rows, and rendering them
    # after it would load each one again, one query per row.
    action = "submission.search" if search.strip() else "submission.list"
    audit.record(action, detail={"ids": [row.id for row in shown]})
    db.session.commit()
    # A typed date that cannot be used is named next to its field; the rest still applies.
    return html, 400 if filters.problems else 200


#: What ``secrets.token_hex`` makes (every ``Submission.public_id``): nothing to quote.
_HEX_ID = re.compile(r"[0-9a-f]{1,32}")


@dataclass(frozen=True, slots=True)
class ListedRow:
    """What a queue row shows, worked out in Python: the template only writes it out.

    A template reads each value through Jinja's attribute lookup, filter and call
    machinery; for 25 rows of ten cells that was a large part of the page's time.
    """

    public_id: str
    reference: str
    urgency: int
    #: The detail page's address.
    href: str
    received: str
    wait: queue.Waiting | None
    #: The badge's class suffix (the outcome code in lower case) and its words.
    outcome: str
    outcome_words: str
    status: str
    assignee: str
    language: str
    initials: str


def _listed_rows(
    rows: list[Submission], zone: str, now: datetime, targets: dict
) -> list[ListedRow]:
    """The queue's rows as shown. A hexadecimal public id is put into the detail address
    as it is, which is what ``url_for`` does with it (the route is built once, not once
    per row); any other id still goes through ``url_for`` and its quoting."""
    base = url_for("staff.submission", public_id="0")[:-1]
    return [
        ListedRow(
            public_id=row.public_id,
            reference=row.reference,
            urgency=row.urgency,
            href=base + row.public_id
            if _HEX_ID.fullmatch(row.public_id)
            else url_for("staff.submission", public_id=row.public_id),
            received=format_time(row.submitted_at, zone),
            wait=queue.waiting(row, now, targets),
            outcome=str(row.outcome).lower(),
            outcome_words=outcome_words(row.outcome, row.care_level),
            status=STATUS_LABELS[row.status],
            assignee=row.assigned_to.username if row.assigned_to else "—",
            language=ENGLISH_NAMES.get(row.language, row.language),
            initials=initials(row.personal.get("full_name", "")),
        )
        for row in rows
    ]


@bp.get("/")
@permission_required("submission:list")
def queue_page() -> tuple[str, int]:
    return _queue_page()


@bp.post("/search")
@permission_required("submission:list")
def search() -> tuple[str, int]:
    """Search by reference, name or phone: a POST, so names never appear in URLs or logs."""
    return _queue_page((request.form.get("q") or "")[:100])


def _get_visible(public_id: str) -> Submission:
    submission = db.session.scalar(
        queue.visible(current_user, sees_every_clinic(current_user)).where(
            Submission.public_id == public_id
        )
    )
    if submission is None:
        # Another clinic's submission looks exactly like one that does not exist.
        abort(404)
    return submission


def _presentation_context(item: Submission) -> dict[str, Any]:
    """What the detail page shows of the submission itself, in words (see presentation).

    ``view`` is a :class:`screening.presentation.StaffView`: the outcome, the safety rows,
    the fired rules with their effects in words, and every answer by staff group.
    """
    return {"view": presentation.staff_view(item)}


def _detail(
    item: Submission,
    conflict: bool = False,
    note_text: str = "",
    error: str | None = None,
    move_form: forms.MoveClinicForm | None = None,
):
    if move_form is None and has_permission(current_user, "submission:move"):
        move_form = forms.MoveClinicForm(formdata=None)
    if move_form is not None:
        move_form.clinic.choices = [
            SelectChoice(c.id, c.name)
            for c in db.session.scalars(select(Clinic).where(Clinic.active).order_by(Clinic.name))
            if c.id != item.clinic_id
        ]
    zone = zone_of(item.clinic)
    status = 409 if conflict else (400 if error or (move_form and move_form.errors) else 200)
    # Checked (and a failure audited) every time the page is shown: never shown as sound.
    integrity_warning = integrity.check([item]).get(item.id)
    if integrity_warning:
        db.session.commit()  # the failure's audit row, whatever the page goes on to do
    return render_template(
        "staff/submission.html",
        item=item,
        integrity_warning=integrity_warning,
        timeline=workflow.timeline(item),
        colleagues=workflow.assignable(item),
        moves=STATUS_MOVES[item.status],
        statuses=STATUS_LABELS,
        conflict=conflict,
        note_text=note_text,
        error=error,
        move_form=move_form,
        note_max=workflow.NOTE_MAX,
        zone=zone,
        zone_name=zone_label(zone),
        **_presentation_context(item),
    ), status


@bp.get("/submissions/<public_id>")
@permission_required("submission:view")
def submission(public_id: str) -> Any:
    item = _get_visible(public_id)
    page = _detail(item)
    # Written once the page is rendered (as the queue does): its commit expires what the
    # page reads, and rendering after it loaded the submission, its clinic and the user
    # again. Nothing is sent without the row: a failed audit write is a 503 page.
    audit.record("submission.view", submission_id=item.id)
    db.session.commit()
    return page


def _expected_version() -> int:
    return bounds.record_id(request.form.get("version", "")) or -1


def _after_change(item: Submission, message: str) -> Response:
    flash(message)
    return redirect(url_for("staff.submission", public_id=item.public_id), code=303)


@bp.post("/submissions/<public_id>/status")
@permission_required("submission:work")
def submission_status(public_id: str) -> Any:
    item = _get_visible(public_id)
    new = request.form.get("status", "")
    try:
        workflow.change_status(item, _expected_version(), new, current_user)
        db.session.commit()  # the change, its timeline line and its audit row
    except workflow.Conflict:
        db.session.refresh(item)
        return _detail(item, conflict=True)
    except workflow.NotAllowed as problem:
        return _detail(item, error=str(problem))
    return _after_change(item, f"Status changed to {STATUS_LABELS[new].lower()}.")


@bp.post("/submissions/<public_id>/assign")
@permission_required("submission:work")
def submission_assign(public_id: str) -> Any:
    item = _get_visible(public_id)
    raw = request.form.get("assignee", "")
    assignee_id = bounds.record_id(raw)
    assignee = db.session.get(StaffUser, assignee_id) if assignee_id else None
    if raw and assignee is None:
        return _detail(item, error="Choose a staff member from the list.")
    try:
        workflow.assign(item, _expected_version(), assignee, current_user)
        db.session.commit()  # the change, its timeline line and its audit row
    except workflow.Conflict:
        db.session.refresh(item)
        return _detail(item, conflict=True)
    except workflow.NotAllowed as problem:
        return _detail(item, error=str(problem))
    return _after_change(item, f"Assigned to {assignee.username}." if assignee else "Unassigned.")


@bp.post("/submissions/<public_id>/notes")
@permission_required("submission:note")
def submission_note(public_id: str) -> Any:
    item = _get_visible(public_id)
    text = (request.form.get("note") or "").replace("\r\n", "\n").strip()
    if not text:
        return _detail(item, error="Write the note first.")
    if len(text) > workflow.NOTE_MAX or "\x00" in text:
        # The typed note comes back so nothing is lost.
        return _detail(
            item, note_text=text, error=f"Notes can be up to {workflow.NOTE_MAX} characters."
        )
    workflow.add_note(item, text, current_user)
    db.session.commit()
    return _after_change(item, "Note added.")


@bp.post("/submissions/<public_id>/clinic")
@permission_required("submission:move")
def submission_clinic(public_id: str) -> Any:
    """Move a submission to another clinic, with the reason (administrators)."""
    item = _get_visible(public_id)
    form = forms.MoveClinicForm()
    if not form.validate_on_submit():
        return _detail(item, move_form=form)
    clinic = db.session.get(Clinic, form.clinic.data) if form.clinic.data else None
    if clinic is None:
        form.clinic.errors = ["Choose a clinic from the list."]
        return _detail(item, move_form=form)
    try:
        workflow.move_to_clinic(item, _expected_version(), clinic, form.reason.data, current_user)
        db.session.commit()  # the change, its timeline line and its audit row
    except workflow.Conflict:
        db.session.refresh(item)
        return _detail(item, conflict=True)
    except workflow.NotAllowed as problem:
        form.reason.errors = [str(problem)]
        return _detail(item, move_form=form)
    return _after_change(item, f"Moved to {clinic.name}.")


def _summary_html(items: list[Submission], pdf: bool) -> str:
    """The clinician's one-page summary of each item (US Letter, or A4 by setting)."""
    paper = current_app.config["SUMMARY_PAPER"]
    warnings = integrity.check(items)  # a failure is audited, and printed on the page
    if warnings:
        db.session.commit()  # the failures' audit rows, whatever the page goes on to do
    summaries = [
        build_summary(
            item, timezone=zone_of(item.clinic), integrity_warning=warnings.get(item.id, "")
        )
        for item in items
    ]
    if len(summaries) == 1:
        back = url_for("staff.submission", public_id=items[0].public_id)
        return render_template(
            "print/summary.html", summary=summaries[0], paper=paper, pdf=pdf, back_url=back
        )
    return render_template("print/summary_batch.html", summaries=summaries, paper=paper, pdf=pdf)


def _pdf_response(html: str, name: str) -> Response:
    return _pdf_file(render_pdf(html, stylesheets=SUMMARY_STYLESHEETS), name)


def _pdf_file(data: bytes, name: str) -> Response:
    return Response(
        data,
        mimetype="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@bp.get("/submissions/<public_id>/print")
@permission_required("submission:print")
def summary_print(public_id: str) -> str:
    """The print view: printing is a server-side action, so it is audited."""
    item = _get_visible(public_id)
    page = _summary_html([item], pdf=False)  # before the commit (see submission)
    workflow.record_output([item.id], Event.PRINT, current_user)
    audit.record("submission.print", submission_id=item.id)
    db.session.commit()
    return page


@bp.get("/submissions/<public_id>/summary.pdf")
@permission_required("submission:print")
def summary_pdf(public_id: str) -> Response:
    item = _get_visible(public_id)
    # Made before the commit (see submission); sent only once the row is committed.
    response = _pdf_response(_summary_html([item], pdf=True), f"summary-{item.reference}.pdf")
    workflow.record_output([item.id], Event.PDF, current_user)
    audit.record("submission.pdf", submission_id=item.id)
    db.session.commit()
    return response


@bp.post("/summaries.pdf")
@permission_required("submission:print")
def batch_pdf() -> Any:
    """One PDF of the summaries picked in the queue (up to ``SUMMARY_BATCH_MAX``).

    Up to ``SUMMARY_BATCH_INLINE_MAX`` are sent back at once; more are made in the
    background and the person goes to a page that shows the progress, then the file
    (screening/staff/batches.py). Audited once, with every id, either way.
    """
    limit = current_app.config["SUMMARY_BATCH_MAX"]
    picked = [value for value in request.form.getlist("ids") if value.isalnum()][:limit]
    items = (
        db.session.scalars(
            queue.visible(current_user, sees_every_clinic(current_user))
            .where(Submission.public_id.in_(picked))
            .order_by(Submission.urgency, Submission.submitted_at)
        ).all()
        if picked
        else []
    )
    if not items:
        flash("Check the submissions to print first.")
        return redirect(url_for("staff.queue_page"), code=303)
    batch = None
    if len(items) > current_app.config["SUMMARY_BATCH_INLINE_MAX"]:
        try:
            batch = batches.prepare(items, current_user)
        except batches.Busy:
            flash("Other batches of summaries are being prepared. Try again in a minute.")
            return redirect(url_for("staff.queue_page"), code=303)
    workflow.record_output([item.id for item in items], Event.PDF, current_user)
    if integrity.check(items):  # failures audited; each summary's page says so too
        db.session.commit()  # their rows, whatever the PDF goes on to do
    audit.record("submission.pdf", detail={"ids": [item.id for item in items]})
    db.session.commit()  # the batch, if any, with the audit row: no audit, no PDF
    if batch is None:
        return _pdf_file(batches.render(batches.build_summaries(items)), "summaries.pdf")
    batches.launch(batch)
    return redirect(url_for("staff.summary_batch", public_id=batch.public_id), code=303)


def _batch_or_404(public_id: str) -> batches.SummaryBatch:
    batch = batches.find(public_id, current_user) if public_id.isalnum() else None
    if batch is None:
        abort(404)
    return batch


def _batch_state(batch: batches.SummaryBatch) -> dict[str, Any]:
    state = batch.shown_state()
    return {
        "state": state,
        "done": batch.done,
        "total": batch.total,
        "pdf_url": url_for("staff.summary_batch_pdf", public_id=batch.public_id)
        if state == batches.DONE
        else None,
    }


@bp.get("/summaries/<public_id>")
@permission_required("submission:print")
def summary_batch(public_id: str) -> str:
    """The progress of a batch PDF, then its download link (refreshes itself)."""
    batch = _batch_or_404(public_id)
    return render_template(
        "staff/summary_batch.html", batch=batch, status=_batch_state(batch), states=batches
    )


@bp.get("/summaries/<public_id>/status")
@permission_required("submission:print")
def summary_batch_status(public_id: str) -> Any:
    """The same, for the page's script: state, done, total and, once done, the PDF's URL."""
    return jsonify(_batch_state(_batch_or_404(public_id)))


@bp.get("/summaries/<public_id>/summaries.pdf")
@permission_required("submission:print")
def summary_batch_pdf(public_id: str) -> Response:
    """The finished PDF, to the person who asked for it (audited when asked for)."""
    batch = _batch_or_404(public_id)
    if batch.shown_state() != batches.DONE or batch.pdf is None:
        abort(404)
    return _pdf_file(batch.pdf, "summaries.pdf")


@bp.route("/export", methods=["GET", "POST"])
@permission_required("submission:export")
@fresh_required
def export() -> Any:
    """CSV of a date range (bulk export asks for the password and code again).

    The dates are the clinic's calendar days and the times in the file its clock: the
    user's clinics' zone (every clinic's for an administrator; the app's default when
    they differ). The file opens in Excel as UTF-8, values in words unless codes are asked.
    """
    everyone = current_user.role == Role.ADMIN
    clinics = db.session.scalars(select(Clinic)).all() if everyone else current_user.clinics
    zone = page_zone(clinics)
    form = forms.ExportForm()
    if request.method == "GET":
        last = clinic_today(zone)
        form.start.data = last - timedelta(days=exports.DEFAULT_DAYS)
        form.end.data = last
    if not form.validate_on_submit():
        status = 400 if form.errors else 200
        return render_template("staff/export.html", form=form, zone_name=zone_label(zone)), status
    first_day, last_day = form.start.data, form.end.data
    if first_day is None or last_day is None:  # the form validated: both are days
        abort(400)
    start = day_start(first_day, zone)
    end = day_start(last_day + timedelta(days=1), zone)
    rows = db.session.scalars(
        queue.visible(current_user, sees_every_clinic(current_user))
        .where(Submission.submitted_at >= start, Submission.submitted_at < end)
        .order_by(Submission.submitted_at)
    ).all()
    warnings = integrity.check(rows)  # failures audited, and marked in their rows
    if warnings:
        db.session.commit()  # the failures' audit rows, whatever the export goes on to do
    body = exports.to_csv(rows, zone, words=form.values.data != "codes", warnings=warnings)
    workflow.record_output([row.id for row in rows], Event.EXPORT, current_user)
    audit.record("submission.export", detail={"ids": [row.id for row in rows]})
    db.session.commit()
    name = f"submissions-{first_day.isoformat()}-to-{last_day.isoformat()}.csv"
    return Response(
        body.encode("utf-8"),
        content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@bp.route("/emergency-access", methods=["GET", "POST"])
@permission_required("submission:view")
def emergency_access() -> Any:
    """Break glass: see every clinic's submissions for a short time, with a reason."""
    form = forms.EmergencyAccessForm()
    if form.validate_on_submit():
        grant_emergency_access(current_user, form.reason.data)
        db.session.commit()
        minutes = current_app.config["BREAK_GLASS_MINUTES"]
        flash(f"Emergency access is on for {minutes} minutes. Everything you open is flagged.")
        return redirect(url_for("staff.queue_page"), code=303)
    return render_template(
        "staff/emergency_access.html", form=form, grant=active_grant(current_user)
    )


@bp.post("/emergency-access/end")
@permission_required("submission:view")
def emergency_access_end() -> Response:
    end_emergency_access(current_user)
    db.session.commit()
    return redirect(url_for("staff.queue_page"), code=303)


# ------------------------------------------------------------------ administration


@bp.get("/admin/users")
@permission_required("account:manage")
def users() -> str:
    people = db.session.scalars(select(StaffUser).order_by(StaffUser.username)).all()
    return render_template("staff/users.html", people=people)


@bp.route("/admin/users/new", methods=["GET", "POST"])
@permission_required("account:manage")
@fresh_required
def user_new() -> Any:
    form = forms.NewUserForm()
    clinics = db.session.scalars(select(Clinic).order_by(Clinic.name)).all()
    form.clinics.choices = [SelectChoice(c.id, c.name) for c in clinics]
    errors: dict[str, str] = {}
    if form.validate_on_submit():
        try:
            user = accounts.create_user(
                form.username.data,
                form.role.data,
                form.password.data,
                full_name=form.full_name.data,
                clinic_ids=form.clinics.data or [],
            )
        except accounts.AccountError as error:
            errors[error.field] = str(error)
        else:
            audit.record("account.create", target=user.username, detail={"role": user.role})
            db.session.commit()  # the account and its audit row together
            flash(f"Account {user.username} created. They set up their code at first sign-in.")
            return redirect(url_for("staff.users"))
    for name, messages in form.errors.items():
        errors.setdefault(name, messages[0])
    return render_template("staff/user_new.html", form=form, errors=errors), (
        400 if errors else 200
    )


def _user_or_404(user_id: int) -> StaffUser:
    user = db.session.get(StaffUser, user_id)
    if user is None:
        abort(404)
    return user


@bp.post("/admin/users/<int:user_id>/disable")
@permission_required("account:manage")
@fresh_required
def user_disable(user_id: int) -> Response:
    user = _user_or_404(user_id)
    accounts.disable(user)
    audit.record("account.disable", target=user.username)
    db.session.commit()
    flash(f"Account {user.username} disabled and signed out.")
    return redirect(url_for("staff.users"))


@bp.post("/admin/users/<int:user_id>/reset-code")
@permission_required("account:manage")
@fresh_required
def user_reset_mfa(user_id: int) -> Response:
    user = _user_or_404(user_id)
    accounts.reset_second_factor(user)
    audit.record("account.mfa_reset", target=user.username)
    db.session.commit()
    flash(f"{user.username} will set up a new code at their next sign-in.")
    return redirect(url_for("staff.users"))


@bp.route("/admin/clinics", methods=["GET", "POST"])
@permission_required("clinic:manage")
def clinics() -> Any:
    form = forms.ClinicForm()
    error = None
    if form.validate_on_submit():
        try:
            clinic = accounts.create_clinic(form.name.data)
        except accounts.AccountError as problem:
            error = str(problem)
        else:
            audit.record("clinic.create", target=clinic.name)
            db.session.commit()
            flash(f"{clinic.name} added. Add its phone number and opening hours next.")
            return redirect(url_for("staff.clinic_edit", clinic_id=clinic.id), code=303)
    rows = db.session.scalars(select(Clinic).order_by(Clinic.active.desc(), Clinic.name)).all()
    return render_template(
        "staff/clinics.html",
        form=form,
        rows=rows,
        error=error,
        hours=Hours.of,
        zone_label=zone_label,
    ), (200 if error is None else 400)


def _clinic_or_404(clinic_id: int) -> Clinic:
    clinic = db.session.get(Clinic, clinic_id)  # the URL's <int:...> is a valid id
    if clinic is None:
        abort(404)
    return clinic


@bp.route("/admin/clinics/<int:clinic_id>", methods=["GET", "POST"])
@permission_required("clinic:manage")
def clinic_edit(clinic_id: int) -> Any:
    """A clinic's name, contact details, opening hours, note for patients and time zone."""
    clinic = _clinic_or_404(clinic_id)
    form = forms.ClinicEditForm(
        obj=clinic,
        data={"open_days": list(clinic.open_days), "timezone": zone_of(clinic)},
    )
    errors: dict[str, str] = {}
    if form.validate_on_submit():
        try:
            changed = accounts.update_clinic(
                clinic,
                name=form.name.data,
                phone=form.phone.data or "",
                address=form.address.data or "",
                patient_note=form.patient_note.data or "",
                open_days="".join(form.open_days.data or []),
                opens_at=form.opens_at.data,
                closes_at=form.closes_at.data,
                timezone=form.timezone.data,
            )
        except accounts.AccountError as problem:
            db.session.rollback()
            errors[problem.field] = str(problem)
        else:
            if changed:
                audit.record(
                    "clinic.update", target=clinic.name, detail={"fields": sorted(changed)}
                )
                db.session.commit()
            flash(f"{clinic.name} saved." if changed else "Nothing changed.")
            return redirect(url_for("staff.clinics"), code=303)
    for name, messages in form.errors.items():
        errors.setdefault(name, messages[0])
    return render_template("staff/clinic_edit.html", form=form, clinic=clinic, errors=errors), (
        400 if errors else 200
    )


@bp.post("/admin/clinics/<int:clinic_id>/active")
@permission_required("clinic:manage")
def clinic_active(clinic_id: int) -> Response:
    """Retire a clinic (no new forms; its submissions stay visible) or reactivate it."""
    clinic = _clinic_or_404(clinic_id)
    active = request.form.get("active") == "1"
    if accounts.set_clinic_active(clinic, active):
        audit.record("clinic.reactivate" if active else "clinic.retire", target=clinic.name)
        db.session.commit()
    flash(
        f"{clinic.name} takes forms again."
        if active
        else f"{clinic.name} is retired: it takes no new forms. Its submissions stay visible."
    )
    return redirect(url_for("staff.clinics"), code=303)


@bp.get("/admin/audit/submission")
@permission_required("audit:read")
def audit_submission() -> str:
    reference = (request.args.get("reference") or "").strip().upper()
    item = (
        db.session.scalar(select(Submission).where(Submission.reference == reference))
        if reference
        else None
    )
    events = audit.for_submission(item.id) if item else []
    # Reading X's trail is recorded against the reader, not as a touch of X itself.
    audit.record("audit.view", detail={"report": "submission", "reference": reference[:16]})
    db.session.commit()
    grants = db.session.scalars(
        select(BreakGlassGrant).order_by(BreakGlassGrant.id.desc()).limit(50)
    ).all()
    return render_template(
        "staff/audit_submission.html", reference=reference, item=item, events=events, grants=grants
    )


@bp.get("/admin/audit/activity")
@permission_required("audit:read")
def audit_activity() -> Any:
    """Emergency access in some days (the daily review), and what one person touched then.

    The days are the clinic's calendar days. With no one chosen, only the emergency access
    is listed.
    """
    form = forms.ActivityForm(request.args)
    people = db.session.scalars(select(StaffUser).order_by(StaffUser.username)).all()
    form.user.choices = [
        SelectChoice("", "No one: emergency access only"),
        *(SelectChoice(p.id, p.username) for p in people),
    ]
    asked = bool(request.args)
    searched = asked and form.validate()
    events: list[audit.AuditEvent] = []
    grants: list[BreakGlassGrant] = []
    if searched:
        zone = _staff_zone()
        first, last = form.start.data, form.end.data
        if first is None or last is None:  # the form validated: both are days
            abort(400)
        start = day_start(first, zone)
        end = day_start(last + timedelta(days=1), zone)
        grants = emergency_grants(start, end)
        if form.user.data:
            events = audit.for_actor(form.user.data, start, end)
        audit.record(
            "audit.view",
            target=str(form.user.data) if form.user.data else None,
            detail={"report": "activity"},
        )
        db.session.commit()
    return render_template(
        "staff/audit_activity.html",
        form=form,
        events=events,
        grants=grants,
        searched=searched,
        person=next((p.username for p in people if searched and p.id == form.user.data), None),
    ), (400 if asked and not searched else 200)


@bp.app_context_processor
def staff_context() -> dict[str, Any]:
    return {
        "can": lambda permission: has_permission(current_user, permission),
        "outcome_words": outcome_words,
        "staff_zone": _staff_zone,
        "zone_label": zone_label,
    }


def _staff_zone() -> str:
    """The zone of a page that shows no one submission: the person's clinics' zone.

    Worked out once per request (an audit page asks for it on every row).
    """
    if "staff_zone" not in g:
        g.staff_zone = page_zone(_visible_clinics())
    return g.staff_zone


@bp.app_template_filter("clinic_time")
def clinic_time(moment: datetime | None, zone: str) -> str:
    """A time on the clinic's clock, US style ("Dec 4, 2026, 3:05 PM")."""
    return format_time(moment, zone)
