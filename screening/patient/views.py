"""The patient's pages: start, one generic page view, check answers, submit, resume."""

from __future__ import annotations

import secrets
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    abort,
    current_app,
    get_flashed_messages,
    has_request_context,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.wrappers import Response

from screening import clinics, errors, i18n, mail, ratelimit, security, submissions
from screening.database import UNAVAILABLE, discard_session
from screening.errors import render_error
from screening.extensions import db
from screening.models import Clinic, Draft, Submission
from screening.patient import drafts, forms, readback, results, saving, steps
from screening.patient.steps import DOB_FIELDS, Step
from screening.pdf import render_pdf
from screening.public import public_blueprint
from screening.scoring import conditions, questionnaire

#: Every page of the questionnaire is for anyone: no sign-in (screening/public.py).
bp = public_blueprint(Blueprint("patient", __name__))

SESSION_KEY = "draft"

#: Rate limits on the posts (screening/ratelimit.py, which explains how the defaults were
#: sized). Page posts and sends share one count per client address, and each has its own
#: per form (the draft whose token is in the session); resuming with the code or a link
#: shares one count per address.
PAGE_POSTS = ratelimit.limit_posts(
    address="RATELIMIT_PATIENT_ADDRESS", form="RATELIMIT_PAGE", form_session_key=SESSION_KEY
)
SUBMIT_POSTS = ratelimit.limit_posts(
    address="RATELIMIT_PATIENT_ADDRESS", form="RATELIMIT_SUBMIT", form_session_key=SESSION_KEY
)
RESUME_POSTS = ratelimit.limit_posts(address="RATELIMIT_RESUME")


def today() -> date:
    """Return today's date on the clinic's calendar (for ages)."""
    return datetime.now(ZoneInfo(current_app.config["CLINIC_TIMEZONE"])).date()


def current_draft() -> Draft | None:
    try:
        return drafts.by_token(session.get(SESSION_KEY))
    except drafts.DraftNotFound:
        session.pop(SESSION_KEY, None)
        return None


def remember(token: str) -> None:
    session.permanent = True
    session[SESSION_KEY] = token


def see_other(endpoint: str, **values: Any) -> Response:
    """Post/Redirect/Get: every successful POST answers 303."""
    return redirect(url_for(endpoint, **values), code=303)


def step_url(step: Step, return_to: str | None = None) -> str:
    return url_for("patient.step", step_id=step.id, return_to=return_to)


#: Where :func:`clinic_choices` keeps its answer for the rest of the request.
CLINICS_KEY = "screening.active_clinics"


def clinic_choices() -> list[Clinic]:
    """Active clinics, in name order; a patient chooses only when there are two or more.

    Read once per request (the check that the form is open, then the page or the submit
    ask again): kept in the request's own environ, so never seen by another request.
    """
    if has_request_context() and (known := request.environ.get(CLINICS_KEY)) is not None:
        return list(known)
    active = list(db.session.scalars(select(Clinic).where(Clinic.active).order_by(Clinic.name)))
    if has_request_context():
        request.environ[CLINICS_KEY] = tuple(active)
    return active


def clinic_contacts() -> list[tuple[Clinic, clinics.Contact | None]]:
    """Active clinics with their details in the patient's language (for the choice)."""
    return [(c, clinics.contact(c, i18n.current())) for c in clinic_choices()]


def clinic_of(draft: Draft | None) -> Clinic | None:
    """The clinic a draft will go to: the only one taking forms, or the one chosen."""
    active = clinic_choices()
    if len(active) == 1:
        return active[0]
    chosen = draft.personal.get("clinic_id") if draft is not None else None
    return next((clinic for clinic in active if clinic.id == chosen), None)


def draft_clinic(draft: Draft | None) -> clinics.Contact | None:
    """How to reach the clinic a draft will go to, in the patient's language."""
    return clinics.contact(clinic_of(draft), i18n.current())


#: Pages that start or fill a form: closed while no clinic takes forms.
FORM_PAGES = frozenset(
    {
        "patient.start",
        "patient.step",
        "patient.resume_link",
        "patient.resume",
        "patient.review",
        "patient.submit",
    }
)


@bp.before_request
def clinic_taking_forms() -> str | None:
    """No submission without a clinic: while no clinic is active, the form does not start.

    Pages are not shown and nothing is sent, but a page being sent is still saved (a
    clinic retired while someone was typing must not lose what they typed); the page after
    it says the form is closed, that saved answers are kept, and keeps the 911 notice.
    """
    closing = request.method == "GET" or request.endpoint == "patient.submit"
    if closing and request.endpoint in FORM_PAGES and not clinic_choices():
        return render_template("patient/closed.html")
    return None


def first_incomplete(draft: Draft | None) -> Step | None:
    """The first page this draft still needs (see steps.first_incomplete)."""
    if draft is None:
        return steps.FIRST
    needs_clinic = len(clinic_choices()) > 1
    return steps.first_incomplete(draft.answers, draft.personal, draft.steps_done, needs_clinic)


def has_emergency(answers: dict[str, Any]) -> bool:
    return any(answers.get(qid) == "yes" for qid in questionnaire.EMERGENCY_QUESTIONS)


# ------------------------------------------------------------------ rendering


def _reveal(qid: str, parent: str) -> dict[str, Any]:
    """The in-page "show when" of a follow-up: the hint's words and the script's values."""
    shown_when = questionnaire.QUESTIONS[qid].shown_when
    if shown_when is None:
        raise ValueError(f"{qid} is not a follow-up: it is always shown")
    leaf = conditions.leaves(shown_when)[0]
    values = leaf["value"] if isinstance(leaf["value"], list) else [leaf["value"]]
    source = questionnaire.QUESTIONS[parent]
    labels = [source.label_for(v) for v in values]
    return {"q": parent, "values": values, "labels": labels}


def render_step(
    step: Step,
    form: forms.AnswerForm,
    answers: dict[str, Any],
    errors: dict[str, str] | None = None,
    message: str | None = None,
    saved_unknown: bool = False,
    database_down: bool = False,
) -> str:
    """Render a question page with ``form``'s values.

    :param saved_unknown: the saved answers could not be read (the database is down), so
        ``answers`` is empty: every question given a value on the posted page is shown, with
        all its choices, so nothing typed disappears from the page.
    :param database_down: the database failed during this request (see :func:`unavailable`).
    """
    errors = errors or {}
    page_values = {
        qid: forms.coded_value(questionnaire.QUESTIONS[qid], form[qid]) for qid in step.questions
    }
    live = {k: v for k, v in {**answers, **page_values}.items() if v is not None}
    shown = steps.page_questions(step, live)
    if saved_unknown:
        typed = {qid for qid, value in page_values.items() if value not in (None, "", [])}
        listed = dict(shown)
        shown = [(q, listed.get(q)) for q in step.questions if q in listed or q in typed]
    regions = set(live.get("regions") or ())
    items = []
    for qid, parent in shown:
        question = questionnaire.QUESTIONS[qid]
        options = question.options
        if question.choices_within and not (saved_unknown and question.choices_within not in live):
            chosen = set(live.get(question.choices_within) or ())
            options = tuple(o for o in options if o.code in chosen)
        reveal = _reveal(qid, parent) if parent else None
        item = {"q": question, "field": form[qid], "reveal": reveal, "options": options}
        item["html"] = question_html(item, errors.get(qid), regions)
        items.append(item)
    number, total, part = steps.position(step)
    return render_template(
        "patient/step.html",
        step=step,
        form=form,
        items=items,
        errors=errors,
        message=message,
        number=number,
        total=total,
        part=part,
        urgent=has_emergency(live),
        emergency_ids=questionnaire.EMERGENCY_QUESTIONS,
        return_to=request.args.get("return_to"),
        previous=steps.previous_step(step, live),
        selected_regions=regions,
        clinics=_clinics_on(step, database_down),
        region_labels=REGION_LABELS,
    )


#: The body map's region names by code (the same for every page and request).
REGION_LABELS = {code: region.label for code, region in questionnaire.REGIONS.items()}
#: Question kinds whose answers are codes of the question's own, never free text.
CODED_KINDS = questionnaire.CHOICE_TYPES | {"multi", "scale", "bool"}
SCALE_CODES = frozenset(str(n) for n in range(11))
#: Rendered questions kept per process (each a few kilobytes); emptied when full.
QUESTION_HTML_MAX = 4096
_question_html: dict[tuple, Markup] = {}


def _coded_state(question: Any, options: tuple, data: Any) -> Any:
    """A question's value as a cache key: None, a code or codes of its own; else ``...``."""
    codes = SCALE_CODES if question.type == "scale" else {o.code for o in options}
    if question.type == "bool":
        return bool(data)
    if data is None or data == "":
        return None
    if question.type == "multi":
        picked = tuple(data) if isinstance(data, list | tuple) else ()
        return picked if picked and all(code in codes for code in picked) else ...
    return data if isinstance(data, str) and data in codes else ...


def question_html(item: dict[str, Any], error: str | None, regions: set[str]) -> Markup:
    """One question of a page, rendered (``_macros.html``'s ``question``).

    A question whose answer is one of its own codes, shown without an error message, looks
    the same for everyone in one language with the same choices and the same answer: it
    is rendered once per process and kept, rather than on every page view. Free text, an
    error, or a value that is not one of the question's codes are rendered each time (no
    patient's words are kept, and nothing a client sends can fill the store).
    """
    question = item["q"]
    options = item["options"]
    state = _coded_state(question, options, item["field"].data)
    if question.type not in CODED_KINDS or error is not None or state is ...:
        return _render_question(item, error, regions)
    key = (
        i18n.current(),
        question.id,
        tuple(o.code for o in options),
        item["reveal"]["q"] if item["reveal"] else None,
        state,
        tuple(sorted(regions)) if question.id == "regions" else None,
    )
    html = _question_html.get(key)
    if html is None:
        html = _render_question(item, error, regions)
        if len(_question_html) >= QUESTION_HTML_MAX:
            _question_html.clear()
        _question_html[key] = html
    return html


def _render_question(item: dict[str, Any], error: str | None, regions: set[str]) -> Markup:
    return Markup(  # noqa: S704  (our template's own output, escaped by Jinja)  # nosec B704
        render_template(
            "patient/_question.html",
            item=item,
            error=error,
            selected_regions=regions,
            region_labels=REGION_LABELS,
        )
    )


def _clinics_on(step: Step, database_down: bool) -> list[tuple[Clinic, clinics.Contact | None]]:
    """The clinic choice of the first page; none while the database cannot be read (the
    page then keeps the posted choice in a hidden field)."""
    if step.personal != DOB_FIELDS:
        return []
    if not database_down:
        return clinic_contacts()
    try:
        return clinic_contacts()
    except UNAVAILABLE:
        discard_session()
        return []


# ------------------------------------------------------------------ pages


@bp.get("/")
def start() -> str:
    draft = current_draft()
    return render_template("patient/start.html", draft=draft, clinic=draft_clinic(draft))


def _guard_order(step: Step, draft: Draft | None) -> Response | None:
    """Send the person to the first page they still need, if it comes before ``step``."""
    answers = draft.answers if draft else {}
    first = first_incomplete(draft)
    if first is not None and steps.STEPS.index(first) < steps.STEPS.index(step):
        return redirect(step_url(first, request.args.get("return_to")), code=303)
    if not step.applies(answers):
        nxt = steps.next_step(step, answers)
        return redirect(step_url(nxt) if nxt else url_for("patient.review"), code=303)
    return None


def _check_fields(step: Step) -> None:
    """Refuse tampered posts: unknown fields, or one value given twice."""
    allowed = forms.allowed_fields(step)
    for name in request.form:
        if name not in allowed:
            abort(400)
        values = request.form.getlist(name)
        multi = name in step.questions and questionnaire.QUESTIONS[name].type == "multi"
        if len(values) > 1 and (not multi or len(set(values)) != len(values)):
            abort(400)


@bp.route("/step/<step_id>", methods=["GET", "POST"])
@PAGE_POSTS
def step(step_id: str) -> Any:
    step = steps.BY_ID.get(step_id)
    if step is None:
        abort(404)
    draft = current_draft()
    if draft is not None and draft.submission_id is not None:
        return see_other("patient.done")
    if request.method == "GET":
        if redirect_to := _guard_order(step, draft):
            return redirect_to
        answers = draft.answers if draft else {}
        personal = draft.personal if draft else {}
        form = forms.form_class(step)(
            formdata=None, data=forms.initial_data(step, answers, personal)
        )
        return render_step(step, form, answers)
    return _post_step(step, draft)


def _post_step(step: Step, draft: Draft | None) -> Any:
    _check_fields(step)
    answers = dict(draft.answers) if draft else {}
    personal = dict(draft.personal) if draft else {}
    form = forms.form_class(step)()
    action = request.form.get("action", "continue")
    switch_to = action.removeprefix("lang-") if action.startswith("lang-") else None
    if switch_to is not None and not i18n.choose(switch_to):
        abort(400)
    # Read here, in the page's one transaction: where to go next needs them after the save.
    active_ids = tuple(c.id for c in clinic_choices())
    clinic_ids = active_ids if step.personal == DOB_FIELDS else ()
    page, page_personal, errors = forms.check_page(form, answers, today(), clinic_ids)

    age = None
    if step.personal == DOB_FIELDS and "dob" not in errors:
        age = forms.age_on(date.fromisoformat(page_personal["dob"]), today())
        if age < questionnaire.MIN_AGE:
            return see_other("patient.adults_only")
    if errors and action == "continue":
        return render_step(step, form, answers, errors)

    was_urgent = draft is not None and has_emergency(draft.answers)
    answers, personal = saving.merge_page(step, answers, personal, page, page_personal, errors, age)

    if draft is None:
        if switch_to is not None and not any(page.values()) and not any(page_personal.values()):
            # Nothing valid typed yet: switching language need not start a draft.
            return _switched(step, form, answers, errors)
        draft, token = drafts.create()
        remember(token)
    drafts.save(draft, answers, personal, None if errors else step.id)

    if action == "save":
        return see_other("patient.saved")
    if switch_to is not None:
        return _switched(step, form, answers, errors)
    if action == "back":
        prev = steps.previous_step(step, answers)
        return redirect(step_url(prev) if prev else url_for("patient.start"), code=303)
    if has_emergency(answers) and not was_urgent:
        # Show the urgent-care card on this same page before going on.
        return redirect(step_url(step, request.args.get("return_to")) + "#urgent", code=303)
    first = first_incomplete(draft)
    if request.args.get("return_to") == "review":
        return redirect(step_url(first, "review") if first else url_for("patient.review"), code=303)
    nxt = steps.next_step(step, answers)
    if first is not None and (nxt is None or steps.STEPS.index(first) < steps.STEPS.index(nxt)):
        nxt = first
    return redirect(step_url(nxt) if nxt else url_for("patient.review"), code=303)


def _switched(step: Step, form: forms.AnswerForm, answers: dict[str, Any], errors: dict) -> Any:
    """The same page in the language just chosen, with everything that was typed.

    Valid answers are saved by now, and a question left blank is no reason to stop. If
    something typed could not be saved (a half-typed date, a text over its limit), the page
    is shown again as typed rather than reloaded without it, and with no error messages:
    the person asked for a language, not a check.
    """
    if any(_typed(name) for name in errors):
        return render_step(step, form, answers)
    return redirect(step_url(step, request.args.get("return_to")), code=303)


def _typed(name: str) -> bool:
    """Whether the posted page holds something in field ``name`` (``dob``: its 3 parts)."""
    fields = DOB_FIELDS if name == "dob" else (name,)
    return any(value.strip() for field in fields for value in request.form.getlist(field))


@bp.post("/language")
def language() -> Response:
    """The language switch of pages without answers on them (start, review, result...).

    Question pages post their own form instead, so that what was typed is saved first.
    """
    if not i18n.choose(request.form.get("lang", "")):
        abort(400)
    # Only a path of this site (never //host, a scheme or a control character).
    target = security.safe_next(request.form.get("next"), url_for("patient.start"))
    return redirect(target, code=303)


@bp.get("/adults-only")
def adults_only() -> str:
    return render_template("patient/adults_only.html")


@bp.get("/saved")
def saved() -> Any:
    draft = current_draft()
    if draft is None:
        return see_other("patient.start")
    return render_saved(draft)


def session_link() -> str:
    """This browser's resume link (it also reopens the result page once sent)."""
    return url_for("patient.resume_link", token=session[SESSION_KEY], _external=True)


def kept_until(draft: Draft) -> datetime:
    """When a draft is deleted, on the clinic's clock (for "kept until June 15, 2027")."""
    return draft.expires_at.astimezone(ZoneInfo(current_app.config["CLINIC_TIMEZONE"]))


def _email_form(email: str | None, extra: dict[str, Any]) -> dict[str, Any]:
    """The "email me" form's state: prefilled with the address given, or as just posted."""
    return {
        "email": email or "",
        "errors": {},
        "mail_available": mail.available(current_app.config),
        "sent_to": next(iter(get_flashed_messages(category_filter=[mail.SENT_FLASH])), None),
        "send_problem": None,
        **extra,
    }


def render_saved(draft: Draft, **extra: Any) -> str:
    """The saved page; ``extra`` is the email form's state after a post (sending.py)."""
    first = first_incomplete(draft)
    return render_template(
        "patient/saved.html",
        draft=draft,
        clinic=draft_clinic(draft),
        link=session_link(),
        expires=kept_until(draft),
        # Also shown after a post to the email form: the language switch comes back here.
        language_next=url_for("patient.saved"),
        continue_url=step_url(first) if first else url_for("patient.review"),
        **_email_form(draft.personal.get("email"), extra),
    )


@bp.route("/r/<token>", methods=["GET", "POST"])
@RESUME_POSTS
def resume_link(token: str) -> Any:
    """A resume link: the date of birth first, then a new token, then the saved answers.

    Nothing saved is shown until the date of birth matches (the result of a sent form
    neither), and then the draft gets a new token, as with the code: whoever had the link
    before (someone who made a form and sent its link to another person, say) can no
    longer open it. The browser that already holds the draft opens its own link at once.
    Wrong dates count against the form (``RATELIMIT_RESUME_FORM``) and the address
    (``RATELIMIT_RESUME``); after the draft's lifetime the link opens nothing.
    """
    try:
        draft = drafts.by_token(token)
    except drafts.DraftNotFound:
        mine = current_draft()
        if mine is not None and drafts.replaced(mine, token):
            return _continue(mine)  # this browser moved it on: its own old link
        if drafts.was_replaced(token):
            # The form went on elsewhere: say so, and nothing more.
            return render_template("patient/link_replaced.html")
        return redirect(url_for("patient.resume", expired=1), code=303)
    held = session.get(SESSION_KEY)
    if isinstance(held, str) and secrets.compare_digest(held, token):
        return _continue(draft)
    if not drafts.can_be_checked(draft):
        # No date of birth saved: nothing to check a person against, so it cannot be
        # opened from another browser (nor with the code).
        return redirect(url_for("patient.resume", expired=1), code=303)
    dob_form = forms.form_class(steps.BY_ID["about-you"])(
        formdata=request.form if request.method == "POST" else None
    )
    errors = {}
    if request.method == "POST":
        if wait := _wrong_dates_wait(draft.key, count=False):
            return ratelimit.wait_page(wait)
        dob, dob_error = forms._dob(dob_form, today())
        if dob_error is None and not drafts.dob_matches(draft, dob):
            _wrong_dates_wait(draft.key, count=True)
            dob_error = _(
                "That date of birth does not match these saved answers. Check it and try again."
            )
        if dob_error is None:
            remember(drafts.rotate_token(draft))
            return _continue(draft)
        errors["dob"] = dob_error
    return render_template(
        "patient/resume_link.html",
        form=dob_form,
        errors=errors,
        token=token,
        gate_form=ResumeForm(),
    )


def _wrong_dates_wait(draft_key: str, *, count: bool) -> int | None:
    """Check, or count, a wrong date of birth for one form (``RATELIMIT_RESUME_FORM``).

    The request's read transaction ends first: on SQLite it holds the write lock
    (BEGIN IMMEDIATE), which the counter's own short transaction would wait for.
    """
    db.session.commit()
    return ratelimit.wait_for_form("RATELIMIT_RESUME_FORM", draft_key, count=count)


def _continue(draft: Draft) -> Response:
    if draft.submission_id is not None:
        return see_other("patient.done")
    first = first_incomplete(draft)
    return redirect(step_url(first) if first else url_for("patient.review"), code=303)


@bp.route("/resume", methods=["GET", "POST"])
@RESUME_POSTS
def resume() -> Any:
    form = forms.form_class(steps.BY_ID["about-you"])
    code_error = None
    resume_form = ResumeForm()
    if request.method == "POST":
        code = (request.form.get("code") or "").strip()
        dob_form = form(formdata=request.form)
        dob, dob_error = forms._dob(dob_form, today())
        if not code:
            code_error = _("Enter the code you were given.")
        elif dob_error is None:
            try:
                draft = drafts.live_by_code(code)
            except drafts.DraftNotFound:
                draft = None
            # The form's count is checked before the date, so a right date over the
            # limit is not told apart from a wrong one.
            if draft is not None and (wait := _wrong_dates_wait(draft.key, count=False)):
                return ratelimit.wait_page(wait)
            if draft is not None and drafts.dob_matches(draft, dob):
                remember(drafts.rotate_token(draft))
                return _continue(draft)
            if draft is not None:
                _wrong_dates_wait(draft.key, count=True)
            code_error = _(
                "We could not find saved answers with that code and date of birth. "
                "Check both and try again."
            )
        errors = {k: v for k, v in {"code": code_error, "dob": dob_error}.items() if v}
        return render_template(
            "patient/resume.html",
            form=dob_form,
            code=code,
            errors=errors,
            resume_form=resume_form,
        )
    return render_template(
        "patient/resume.html",
        form=form(formdata=None),
        code="",
        errors={},
        expired=request.args.get("expired"),
        resume_form=resume_form,
    )


class ResumeForm(forms.Form):
    """Only for its CSRF token; the fields are read from the request."""


@bp.get("/review")
def review() -> Any:
    draft = current_draft()
    if draft is None:
        return see_other("patient.start")
    if draft.submission_id is not None:
        return see_other("patient.done")
    first = first_incomplete(draft)
    if first is not None:
        return redirect(step_url(first), code=303)
    return render_review(draft, forms.ConsentForm(formdata=None))


def render_review(
    draft: Draft, form: forms.ConsentForm, errors: dict | None = None, message: str | None = None
) -> str:
    return render_template(
        "patient/review.html",
        sections=readback.sections(draft.answers, draft.personal),
        form=form,
        errors=errors or {},
        message=message,
        consent_text=i18n.question_text(questionnaire.QUESTIONS["consent"]),
        urgent=has_emergency(draft.answers),
    )


@bp.post("/submit")
@SUBMIT_POSTS
def submit() -> Any:
    draft = current_draft()
    if draft is None:
        # A replay after the draft was purged, or a lost session: nothing to submit.
        return see_other("patient.start")
    if draft.submission_id is not None:
        return see_other("patient.done")
    for name in request.form:
        if name not in ("csrf_token", "consent") or len(request.form.getlist(name)) > 1:
            abort(400)
    form = forms.ConsentForm()
    if not form.consent.data:
        errors = {"consent": _("Check the box to show you understand, then send your answers.")}
        return render_review(draft, form, errors)
    try:
        submissions.submit(
            draft, True, today(), tuple(c.id for c in clinic_choices()), i18n.current()
        )
    except submissions.NotReady:
        first = first_incomplete(draft)
        return redirect(step_url(first or steps.FIRST), code=303)
    except SQLAlchemyError:
        # Nothing was stored (one transaction) and the draft is untouched: say so and
        # let the person press Send again.
        current_app.logger.exception("submit failed")
        discard_session()
        reloaded = current_draft()
        if reloaded is None:  # the draft cannot be read again either: the error page
            raise
        draft = reloaded
        message = _(
            "We could not send your answers just now. They are still saved. "
            "Please wait a moment and press “Send my answers” again."
        )
        return render_review(draft, form, message=message), 503
    return see_other("patient.done")


def _submitted() -> tuple[Draft, Submission] | None:
    """Return this browser's draft and its submission, if it has sent one."""
    try:
        draft = drafts.by_token(session.get(SESSION_KEY))
    except drafts.DraftNotFound:
        return None
    if draft.submission_id is None:
        return None
    # The key is set to NULL when the submission is deleted: it is there.
    return draft, db.session.get_one(Submission, draft.submission_id)


@bp.get("/done")
def done() -> Any:
    found = _submitted()
    if found is None:
        return see_other("patient.review" if current_draft() else "patient.start")
    draft, submission = found
    return render_done(draft, submission)


def render_done(draft: Draft, submission: Submission, **extra: Any) -> str:
    """The result page; ``extra`` is the email form's state after a post (sending.py)."""
    email = submission.personal.get("email") or draft.personal.get("email")
    return render_template(
        "patient/done.html",
        result=results.build(submission),
        link=session_link(),
        expires=kept_until(draft),
        language_next=url_for("patient.done"),
        **_email_form(email, extra),
    )


def _print_html(submission: Submission, pdf: bool) -> str:
    now = datetime.now(ZoneInfo(current_app.config["CLINIC_TIMEZONE"]))
    return render_template(
        "patient/result_print.html",
        result=results.build(submission),
        printed=i18n.long_date(now),
        pdf=pdf,
    )


@bp.get("/done/print")
def result_print() -> Any:
    found = _submitted()
    if found is None:
        return see_other("patient.start")
    return _print_html(found[1], pdf=False)


@bp.get("/done/result.pdf")
def result_pdf() -> Any:
    found = _submitted()
    if found is None:
        return see_other("patient.start")
    pdf = render_pdf(_print_html(found[1], pdf=True))
    return Response(
        pdf,
        mimetype="application/pdf",
        headers={"Content-Disposition": 'attachment; filename="muscle-pain-check-result.pdf"'},
    )


@bp.post("/start-again")
def start_again() -> Response:
    """Forget the draft in this browser (it can still be resumed with its code)."""
    session.pop(SESSION_KEY, None)
    return see_other("patient.start")


# ------------------------------------------------------------------ outages


def unavailable(error: Exception) -> Any:
    """The database failed during a patient's request: 503, and nothing typed is lost.

    A question page comes back with every value as posted, and pressing its button again
    sends it; "Send my answers" comes back as a button that sends again. Other pages say
    the service is busy and offer to try again. Anything saved before is still saved: a
    page is one transaction, and the submission too.
    """
    current_app.logger.exception("Database unavailable during a patient's request")
    discard_session()
    if request.method == "POST" and request.endpoint == "patient.step":
        step = steps.BY_ID.get((request.view_args or {}).get("step_id", ""))
        if step is not None:
            message = _(
                "We could not save this page. Your answers are still here: try again in a minute."
            )
            draft, known = _draft_if_readable()
            form = forms.form_class(step)()
            answers = draft.answers if draft is not None else {}
            page = render_step(
                step, form, answers, message=message, saved_unknown=not known, database_down=True
            )
            return page, 503
    if request.method == "POST" and request.endpoint == "patient.submit":
        message = _(
            "We could not send your answers just now. They are still saved. "
            "Please wait a moment and press “Send my answers” again."
        )
        draft, _known = _draft_if_readable()
        form = forms.ConsentForm()
        if draft is not None and draft.submission_id is not None:
            return see_other("patient.done")  # it was stored before the failure
        if draft is not None:
            return render_review(draft, form, message=message), 503
        return render_template("patient/send_again.html", form=form, message=message), 503
    return render_error(503)


def _draft_if_readable() -> tuple[Draft | None, bool]:
    """This browser's draft, if the database answers now; and whether it could be read."""
    try:
        return current_draft(), True
    except UNAVAILABLE:
        discard_session()
        return None, False


for _error in UNAVAILABLE:
    bp.register_error_handler(_error, unavailable)


# ------------------------------------------------------------------ expiry


def csrf_expired(error: CSRFError) -> Any:
    """Re-show a page with what was typed when its security token has expired.

    A patient may leave a page open for hours; a bare "400 Bad Request" would throw
    their typing away. Nothing is saved from an unverified post: the page comes back
    with a fresh token and a plain message, and one more press saves it.
    """
    message = _(
        "This page was open for a long time, so we could not save it yet. "
        "Your answers are still below. Check them and press the button again."
    )
    if request.endpoint == "patient.step":
        step = steps.BY_ID.get((request.view_args or {}).get("step_id", ""))
        if step is not None:
            draft = current_draft()
            form = forms.form_class(step)(meta={"csrf": True})
            return render_step(step, form, draft.answers if draft else {}, message=message)
    if request.endpoint == "patient.submit":
        draft = current_draft()
        if draft is not None and draft.submission_id is None:
            return render_review(draft, forms.ConsentForm(), message=message)
    if request.endpoint == "patient.resume":
        return redirect(url_for("patient.resume"), code=303)
    if request.endpoint == "patient.resume_link":
        return redirect(request.path, code=303)  # the date of birth page again
    return errors.expired_page()
