"""Staff pages: sign-in with a second factor, the submission list and detail, admin."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import func, select
from werkzeug.wrappers import Response
from wtforms import SelectChoice

from screening import audit
from screening.extensions import db
from screening.models import (
    STATUS_LABELS,
    STATUS_MOVES,
    BreakGlassGrant,
    Clinic,
    LoginAttempt,
    StaffUser,
    Submission,
    SubmissionChange,
    SubmissionNote,
    utcnow,
)
from screening.pdf import render_pdf
from screening.questionnaire.views import review_sections
from screening.scoring import load_ruleset
from screening.staff import accounts, credentials, exports, forms, queue, workflow
from screening.staff.access import (
    active_grant,
    current_staff_session,
    end_current_session,
    end_user_sessions,
    fresh_required,
    has_permission,
    permission_required,
    promote_session,
    safe_next,
    sees_every_clinic,
    start_session,
)
from screening.summaries import STYLESHEETS as SUMMARY_STYLESHEETS
from screening.summaries import build_summary

bp = Blueprint("staff", __name__, url_prefix="/staff")

NEXT_KEY = "staff_next"
WRONG = "The username or password is wrong."
TOO_MANY = "Too many failed sign-ins. Wait 15 minutes, then try again."


# ------------------------------------------------------------------ throttling


def _window() -> timedelta:
    return timedelta(minutes=current_app.config["LOGIN_THROTTLE_MINUTES"])


def throttled(username: str, ip: str) -> bool:
    """Too many recent failures for this account, or from this address.

    Counted in the database so every worker sees the same numbers. A lock on one account
    never affects another, and an address limit only affects that address, so nobody can
    lock everyone out.
    """
    since = utcnow() - _window()
    last_ok = db.session.scalar(
        select(func.max(LoginAttempt.at)).where(
            LoginAttempt.username == username, LoginAttempt.success
        )
    )
    account_since = max(since, last_ok) if last_ok else since
    failures = select(func.count()).select_from(LoginAttempt).where(~LoginAttempt.success)
    by_account = db.session.scalar(
        failures.where(LoginAttempt.username == username, LoginAttempt.at > account_since)
    )
    by_address = db.session.scalar(failures.where(LoginAttempt.ip == ip, LoginAttempt.at > since))
    config = current_app.config
    return (
        by_account >= config["LOGIN_MAX_FAILURES"]
        or by_address >= config["LOGIN_MAX_FAILURES_PER_ADDRESS"]
    )


def _attempt(username: str, success: bool) -> None:
    db.session.add(
        LoginAttempt(username=username[:64], ip=request.remote_addr or "-", success=success)
    )
    db.session.commit()


def _as_actor(username: str, user: StaffUser | None) -> Any:
    return SimpleNamespace(
        id=user.id if user else None, username=username[:64], role=user.role if user else None
    )


# ------------------------------------------------------------------ sign-in


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    if current_user.is_authenticated:
        return redirect(url_for("staff.queue_page"))
    form = forms.LoginForm()
    error = None
    if request.method == "GET":
        session[NEXT_KEY] = safe_next(request.args.get("next"), "")
    if form.validate_on_submit():
        username = form.username.data.strip().lower()
        ip = request.remote_addr or "-"
        user = db.session.scalar(select(StaffUser).where(StaffUser.username == username))
        if throttled(username, ip):
            audit.record(
                "auth.login_failed",
                actor=_as_actor(username, user),
                outcome="denied",
                detail={"reason": "throttled"},
            )
            error = TOO_MANY
        else:
            live = user if user is not None and user.active else None
            if credentials.check_password(live.password_hash if live else None, form.password.data):
                start_session(live, "password")
                return redirect(
                    url_for("staff.second_factor" if live.totp_secret else "staff.enrol")
                )
            _attempt(username, False)
            audit.record("auth.login_failed", actor=_as_actor(username, user), outcome="failure")
            error = WRONG
    status = 200 if error is None else 401
    return render_template("staff/login.html", form=form, error=error), status


def _finish_sign_in(user: StaffUser, step: int) -> Response:
    user.totp_last_step = step
    db.session.commit()
    staff_session = current_staff_session()
    promote_session(staff_session)
    _attempt(user.username, True)
    audit.record("auth.login", actor=user)
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
        if throttled(user.username, request.remote_addr or "-"):
            end_current_session()
            audit.record(
                "auth.mfa_failed", actor=user, outcome="denied", detail={"reason": "throttled"}
            )
            flash(TOO_MANY)
            return redirect(url_for("staff.login"))
        step = credentials.accept_code(user.totp_secret, form.code.data, user.totp_last_step)
        if step is not None:
            return _finish_sign_in(user, step)
        _attempt(user.username, False)
        audit.record("auth.mfa_failed", actor=user, outcome="failure")
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
        step = credentials.accept_code(user.totp_pending, form.code.data, 0)
        if step is not None:
            user.totp_secret, user.totp_pending = user.totp_pending, None
            audit.record("account.mfa_enrolled", actor=user, target=user.username)
            return _finish_sign_in(user, step)
        audit.record("auth.mfa_failed", actor=user, outcome="failure", detail={"stage": "enrol"})
        error = (
            "That code did not work. Check the time on your phone is right, then try the new code."
        )
    uri = credentials.provisioning_uri(
        user.totp_pending, user.username, current_app.config["CLINIC_NAME"]
    )
    # The QR code is drawn by segno on this server from data we made; it holds no input.
    qr = Markup(credentials.qr_svg(uri))  # noqa: S704
    secret = " ".join(user.totp_pending[i : i + 4] for i in range(0, len(user.totp_pending), 4))
    return render_template("staff/enrol.html", form=form, error=error, qr=qr, secret=secret)


@bp.post("/logout")
def logout() -> Response:
    staff_session = current_staff_session()
    if staff_session is not None:
        audit.record("auth.logout", actor=staff_session.user)
    end_current_session()
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
    user = current_user
    if form.validate_on_submit():
        step = None
        if credentials.check_password(user.password_hash, form.password.data):
            step = credentials.accept_code(user.totp_secret, form.code.data, user.totp_last_step)
        if step is not None:
            user.totp_last_step = step
            promoted = promote_session(g.staff_session)
            promoted.authenticated_at = utcnow()
            db.session.commit()
            audit.record("auth.reauthenticate", actor=user)
            return redirect(safe_next(request.args.get("next"), url_for("staff.queue_page")))
        _attempt(user.username, False)
        audit.record("auth.reauthenticate", actor=user, outcome="failure")
        error = "The password or code is wrong."
    return render_template(
        "staff/reauth.html", form=form, error=error
    ), 200 if error is None else 401


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
    form = forms.PasswordChangeForm()
    errors: dict[str, str] = {}
    if form.validate_on_submit():
        if not credentials.check_password(current_user.password_hash, form.current.data):
            errors["current"] = "Your current password is wrong."
        elif problem := credentials.password_problem(form.new.data, current_user.username):
            errors["new"] = problem
        else:
            current_user.password_hash = credentials.hash_password(form.new.data)
            end_user_sessions(current_user, keep=g.staff_session)
            db.session.commit()
            audit.record("account.password_change", target=current_user.username)
            flash("Your password is changed. You were signed out everywhere else.")
            return redirect(url_for("staff.queue_page"))
    return render_template("staff/password.html", form=form, errors=errors)


# ------------------------------------------------------------------ submissions


def _queue_page(search: str = "") -> str:
    filters = queue.Filters.from_args(request.values)
    everywhere = sees_every_clinic(current_user)
    found = queue.page_of(current_user, filters, search, everywhere)
    clinics = db.session.scalars(select(Clinic).order_by(Clinic.name)).all()
    if not everywhere:
        clinics = [c for c in clinics if c in current_user.clinics]
    cap = queue.SEARCH_CAP if search.strip() else queue.COUNT_CAP
    html = render_template(
        "staff/queue.html",
        rows=found.rows,
        total=found.total,
        too_many=found.too_many,
        filters=filters,
        counts=queue.status_counts(current_user, filters, everywhere),
        clinics=clinics,
        search=search,
        pages=max(1, -(-min(found.total, cap) // queue.PAGE_SIZE)),
        page_size=queue.PAGE_SIZE,
        cap=cap,
        statuses=STATUS_LABELS,
        outcomes=queue.OUTCOMES,
        args={k: v for k, v in request.args.items() if k != "page"},
    )
    # Lists are audited with the ids shown (security L01); a search also notes that one ran.
    # Written once the page is rendered: its commit expires the rows, and rendering them
    # after it would load each one again, one query per row.
    action = "submission.search" if search.strip() else "submission.list"
    audit.record(action, detail={"ids": [row.id for row in found.rows]})
    return html


@bp.get("/")
@permission_required("submission:list")
def queue_page() -> str:
    return _queue_page()


@bp.post("/search")
@permission_required("submission:list")
def search() -> str:
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


def _detail(
    item: Submission, conflict: bool = False, note_text: str = "", error: str | None = None
):
    ruleset = load_ruleset()
    fired = []
    for rule_id, note in zip(
        item.result["fired_rules"], item.result["clinician_notes"], strict=True
    ):
        found = ruleset.by_id.get(rule_id)
        fired.append(
            {
                "id": rule_id,
                "note": note,
                "effect": found.effect.value if found else "",
                "sources": found.sources if found else (),
            }
        )
    notes = db.session.scalars(
        select(SubmissionNote)
        .where(SubmissionNote.submission_id == item.id)
        .order_by(SubmissionNote.id)
    ).all()
    changes = db.session.scalars(
        select(SubmissionChange)
        .where(SubmissionChange.submission_id == item.id)
        .order_by(SubmissionChange.id)
    ).all()
    colleagues = db.session.scalars(
        select(StaffUser).where(StaffUser.active).order_by(StaffUser.username)
    ).all()
    if item.clinic_id is not None:
        colleagues = [
            u
            for u in colleagues
            if u.role == "admin" or item.clinic_id in {c.id for c in u.clinics}
        ]
    status = 409 if conflict else (400 if error else 200)
    return render_template(
        "staff/submission.html",
        item=item,
        fired=fired,
        notes=notes,
        changes=changes,
        colleagues=colleagues,
        moves=STATUS_MOVES[item.status],
        statuses=STATUS_LABELS,
        sections=review_sections(item.answers, item.personal),
        conflict=conflict,
        note_text=note_text,
        error=error,
        note_max=workflow.NOTE_MAX,
    ), status


@bp.get("/submissions/<public_id>")
@permission_required("submission:view")
def submission(public_id: str) -> Any:
    item = _get_visible(public_id)
    audit.record("submission.view", submission_id=item.id)
    return _detail(item)


def _expected_version() -> int:
    raw = request.form.get("version", "")
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 10 else -1


def _after_change(item: Submission, message: str) -> Response:
    flash(message)
    return redirect(url_for("staff.submission", public_id=item.public_id), code=303)


@bp.post("/submissions/<public_id>/status")
@permission_required("submission:update")
def submission_status(public_id: str) -> Any:
    item = _get_visible(public_id)
    new = request.form.get("status", "")
    try:
        workflow.change_status(item, _expected_version(), new, current_user)
    except workflow.Conflict:
        db.session.refresh(item)
        return _detail(item, conflict=True)
    except workflow.NotAllowed as problem:
        return _detail(item, error=str(problem))
    return _after_change(item, f"Status changed to {STATUS_LABELS[new].lower()}.")


@bp.post("/submissions/<public_id>/assign")
@permission_required("submission:update")
def submission_assign(public_id: str) -> Any:
    item = _get_visible(public_id)
    raw = request.form.get("assignee", "")
    assignee = db.session.get(StaffUser, int(raw)) if raw.isascii() and raw.isdigit() else None
    if raw and (assignee is None or not assignee.active):
        return _detail(item, error="Choose a staff member from the list.")
    try:
        workflow.assign(item, _expected_version(), assignee, current_user)
    except workflow.Conflict:
        db.session.refresh(item)
        return _detail(item, conflict=True)
    return _after_change(item, f"Assigned to {assignee.username}." if assignee else "Unassigned.")


@bp.post("/submissions/<public_id>/notes")
@permission_required("submission:update")
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
    return _after_change(item, "Note added.")


def _summary_html(items: list[Submission], pdf: bool) -> str:
    """The clinician's one-page summary of each item (US Letter, or A4 by setting)."""
    paper = current_app.config["SUMMARY_PAPER"]
    zone = current_app.config["CLINIC_TIMEZONE"]
    summaries = [build_summary(item, timezone=zone) for item in items]
    if len(summaries) == 1:
        return render_template("print/summary.html", summary=summaries[0], paper=paper, pdf=pdf)
    return render_template("print/summary_batch.html", summaries=summaries, paper=paper, pdf=pdf)


def _pdf_response(html: str, name: str) -> Response:
    return Response(
        render_pdf(html, stylesheets=SUMMARY_STYLESHEETS),
        mimetype="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@bp.get("/submissions/<public_id>/print")
@permission_required("submission:print")
def summary_print(public_id: str) -> str:
    """The print view: printing is a server-side action, so it is audited (security L02)."""
    item = _get_visible(public_id)
    audit.record("submission.print", submission_id=item.id)
    return _summary_html([item], pdf=False)


@bp.get("/submissions/<public_id>/summary.pdf")
@permission_required("submission:print")
def summary_pdf(public_id: str) -> Response:
    item = _get_visible(public_id)
    audit.record("submission.pdf", submission_id=item.id)
    return _pdf_response(_summary_html([item], pdf=True), f"summary-{item.reference}.pdf")


@bp.post("/summaries.pdf")
@permission_required("submission:print")
def batch_pdf() -> Any:
    """One PDF of the summaries picked in the queue, one page each."""
    picked = [value for value in request.form.getlist("ids") if value.isalnum()][:100]
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
        flash("Tick the submissions to print first.")
        return redirect(url_for("staff.queue_page"), code=303)
    audit.record("submission.pdf", detail={"ids": [item.id for item in items]})
    return _pdf_response(_summary_html(list(items), pdf=True), "summaries.pdf")


@bp.route("/export", methods=["GET", "POST"])
@permission_required("submission:export")
@fresh_required
def export() -> Any:
    """CSV of a date range (bulk export asks for the password and code again)."""
    form = forms.ExportForm()
    if not form.validate_on_submit():
        return render_template("staff/export.html", form=form)
    start = datetime.combine(form.start.data, datetime.min.time(), tzinfo=UTC)
    end = datetime.combine(form.end.data, datetime.min.time(), tzinfo=UTC) + timedelta(days=1)
    rows = db.session.scalars(
        queue.visible(current_user, sees_every_clinic(current_user))
        .where(Submission.submitted_at >= start, Submission.submitted_at < end)
        .order_by(Submission.submitted_at)
    ).all()
    audit.record("submission.export", detail={"ids": [row.id for row in rows]})
    body = exports.to_csv(rows)
    name = f"submissions-{form.start.data.isoformat()}-to-{form.end.data.isoformat()}.csv"
    return Response(
        body, mimetype="text/csv", headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )


@bp.route("/emergency-access", methods=["GET", "POST"])
@permission_required("submission:view")
def emergency_access() -> Any:
    """Break glass: see every clinic's submissions for a short time, with a reason."""
    form = forms.EmergencyAccessForm()
    if form.validate_on_submit():
        minutes = current_app.config["BREAK_GLASS_MINUTES"]
        now = utcnow()
        grant = BreakGlassGrant(
            user_id=current_user.id,
            reason=form.reason.data.strip(),
            created_at=now,
            expires_at=now + timedelta(minutes=minutes),
        )
        db.session.add(grant)
        db.session.flush()
        audit.record("access.break_glass", detail={"grant": grant.id, "minutes": minutes})
        flash(f"Emergency access is on for {minutes} minutes. Everything you open is flagged.")
        return redirect(url_for("staff.queue_page"), code=303)
    return render_template(
        "staff/emergency_access.html", form=form, grant=active_grant(current_user)
    )


@bp.post("/emergency-access/end")
@permission_required("submission:view")
def emergency_access_end() -> Response:
    grant = active_grant(current_user)
    if grant is not None:
        grant.expires_at = utcnow()
        audit.record("access.break_glass_end", detail={"grant": grant.id})
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
            flash(f"Account {user.username} created. They set up their code at first sign-in.")
            return redirect(url_for("staff.users"))
    return render_template("staff/user_new.html", form=form, errors=errors)


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
    flash(f"Account {user.username} disabled and signed out.")
    return redirect(url_for("staff.users"))


@bp.post("/admin/users/<int:user_id>/reset-code")
@permission_required("account:manage")
@fresh_required
def user_reset_mfa(user_id: int) -> Response:
    user = _user_or_404(user_id)
    accounts.reset_second_factor(user)
    audit.record("account.mfa_reset", target=user.username)
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
            return redirect(url_for("staff.clinics"))
    rows = db.session.scalars(select(Clinic).order_by(Clinic.name)).all()
    return render_template("staff/clinics.html", form=form, rows=rows, error=error)


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
    grants = db.session.scalars(
        select(BreakGlassGrant).order_by(BreakGlassGrant.id.desc()).limit(50)
    ).all()
    return render_template(
        "staff/audit_submission.html", reference=reference, item=item, events=events, grants=grants
    )


def _day(text: str | None) -> datetime | None:
    try:
        return datetime.strptime(text or "", "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        return None


@bp.get("/admin/audit/activity")
@permission_required("audit:read")
def audit_activity() -> str:
    form = forms.ActivityForm(request.args)
    people = db.session.scalars(select(StaffUser).order_by(StaffUser.username)).all()
    form.user.choices = [SelectChoice(p.id, p.username) for p in people]
    start, end = _day(form.start.data), _day(form.end.data)
    events = []
    if form.user.data and start and end:
        events = audit.for_actor(form.user.data, start, end + timedelta(days=1))
        audit.record("audit.view", target=str(form.user.data), detail={"report": "activity"})
    return render_template(
        "staff/audit_activity.html", form=form, events=events, searched=bool(start and end)
    )


@bp.app_context_processor
def staff_context() -> dict[str, Any]:
    return {"can": lambda permission: has_permission(current_user, permission)}
