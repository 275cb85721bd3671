"""Staff actions on a tip (claim, release, reassign, status, priority, notes, tags, links),
its exports, and the detectives' notice pages (following one: web/follows.py). Every action
is a POST with a CSRF token that calls one service, commits once and redirects back (303)."""

from __future__ import annotations

from collections.abc import Callable
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    url_for,
)
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response

from tipline import db
from tipline.auth.forms import ButtonForm
from tipline.notices.models import Notice
from tipline.tips.models import Tip, TipPriority, TipStatus
from tipline.triage import access, export, follows, forms
from tipline.triage import queue as queue_views
from tipline.triage import services as triage
from tipline.triage.access import NotAllowed, TipNotFound
from tipline.triage.closures import ReviewPolicy
from tipline.triage.models import LinkKind, ReviewKind
from tipline.web import tip_page
from tipline.web.policy import signed_in_staff
from tipline.web.responses import attachment

bp = Blueprint("triage", __name__, url_prefix="/staff")


def _tip_or_404(ref: str) -> Tip:
    try:
        tip = triage.find_tip(db.session(), signed_in_staff(), ref)
    except triage.AmbiguousReference:
        abort(404)
    if tip is None:
        abort(404)
    return tip


def _other_tip(typed: str, field: str) -> Tip:
    """The tip a person named by reference (or a unique prefix of it) in ``field``."""
    try:
        found = triage.find_tip(db.session(), signed_in_staff(), typed)
    except triage.AmbiguousReference as error:
        raise FieldRefused(field, str(error)) from error
    if found is None:
        raise FieldRefused(field, "There is no tip with that reference.")
    return found


class FieldRefused(ValueError):
    """An action refused because of what one field says: the error shows beside it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def _first_field(form: FlaskForm) -> str:
    # short_name: a prefixed form (``reassign-to``) is indexed by the field's own name (``to``).
    return next(f.short_name for f in form if f.type != "CSRFTokenField")


def _act(
    ref: str,
    form: FlaskForm,
    action: Callable[[Tip], str | None],
    key: str | None = None,
) -> Response:
    """Validate ``form``, run ``action`` on the tip, commit, flash, and go back to the tip.

    When the form fails or the action is refused, the tip page is shown again (400) with the
    form as it was sent (``key`` names it in the page's context) and the error beside the
    field, so nothing typed is lost. The tip is read under the writers' lock, so the action's
    checks see what is committed."""
    session = db.session()
    tip = triage.tip_to_work(session, signed_in_staff(), ref)
    if tip is None:
        abort(404)
    if not form.validate_on_submit():
        if key is None or form.csrf_token.errors:
            errors = [e for field_errors in form.errors.values() for e in field_errors]
            flash(" ".join(str(e) for e in errors) or "The form could not be read.", "error")
            if key is None:
                return redirect(url_for("staff.tip", ref=ref), code=303)
        return _again(tip, key, form)
    try:
        message = action(tip)
    # TipNotFound: a tip named in the form (a link, "duplicate of") that the viewer may not see.
    except (ValueError, NotAllowed, TipNotFound) as error:
        session.rollback()
        if key is None:
            flash(str(error), "error")
        else:
            name = error.field if isinstance(error, FieldRefused) else _first_field(form)
            form[name].errors = [*form[name].errors, str(error)]
            return _again(_tip_or_404(ref), key, form)
    else:
        session.commit()
        if message:
            flash(message, "info")
    return redirect(url_for("staff.tip", ref=ref), code=303)


def _again(tip: Tip, key: str, form: FlaskForm) -> Response:
    session = db.session()
    user = signed_in_staff()
    return tip_page.render(session, user, tip, current_app.config, {key: form}, status=400)


@bp.post("/tips/<ref>/claim")
def claim(ref: str) -> Response:
    def run(tip: Tip) -> str:
        triage.claim_tip(db.session(), signed_in_staff(), tip)
        return "This tip is now yours."

    return _act(ref, ButtonForm(), run)


@bp.post("/tips/<ref>/release")
def release(ref: str) -> Response:
    form = forms.ReasonForm(prefix="release")  # the tip page has two reason fields

    def run(tip: Tip) -> str:
        triage.release_tip(db.session(), signed_in_staff(), tip, form.reason.data)
        return "The tip is back in the queue."

    return _act(ref, form, run, "release_form")


@bp.post("/tips/<ref>/reassign")
def reassign(ref: str) -> Response:
    form = forms.ReassignForm(prefix="reassign")

    def run(tip: Tip) -> str:
        target = triage.staff_by_id(db.session(), int(form.to.data or 0))
        if target is None:
            raise FieldRefused("to", "Choose who to give the tip to.")
        triage.reassign_tip(db.session(), signed_in_staff(), tip, target, form.reason.data)
        return f"The tip is now with {target.username}."

    return _act(ref, form, run, "reassign_form")


@bp.post("/tips/<ref>/status")
def status(ref: str) -> Response:
    form = forms.StatusForm()

    def run(tip: Tip) -> str:
        session = db.session()
        original = None
        if form.duplicate_of.data:
            original = _other_tip(form.duplicate_of.data, "duplicate_of")
        new_status = TipStatus(form.status.data)
        try:
            review = triage.change_status(
                session,
                signed_in_staff(),
                tip,
                new_status,
                form.reason.data or "",
                duplicate_of=original,
                review=ReviewPolicy.from_config(current_app.config),
            )
        except triage.TransitionRefused as refused:
            raise FieldRefused(_status_field(form, new_status), str(refused)) from refused
        if review is not None and review.kind is ReviewKind.CONFIRMATION:
            return (
                f"A tip that was urgent closes as “{new_status.label}” only when a"
                " supervisor confirms it. It stays open until then."
            )
        return f"Status changed to “{new_status.label}”."

    return _act(ref, form, run, "status_form")


def _status_field(form: forms.StatusForm, new_status: TipStatus) -> str:
    """Which field a refused status change is about."""
    if new_status in triage.REASON_REQUIRED and not (form.reason.data or "").strip():
        return "reason"
    if new_status is TipStatus.DUPLICATE:
        return "duplicate_of"
    return "status"


@bp.post("/tips/<ref>/priority")
def priority(ref: str) -> Response:
    form = forms.PriorityForm()

    def run(tip: Tip) -> str:
        chosen = TipPriority(form.priority.data)  # validated: one of the choices
        due = current_app.config["TRIAGE_DUE_MINUTES"]
        held = triage.set_priority(db.session(), signed_in_staff(), tip, chosen, due)
        if held is not None:
            return (
                f"Lowering an urgent tip to {chosen.label} waits for a supervisor to confirm;"
                " it stays urgent until then."
            )
        return f"Priority set to {chosen.label}."

    return _act(ref, form, run, "priority_form")


@bp.post("/tips/<ref>/notes")
def add_note(ref: str) -> Response:
    form = forms.NoteForm()

    def run(tip: Tip) -> str:
        triage.add_note(db.session(), signed_in_staff(), tip, form.body.data)
        return "Note added."

    return _act(ref, form, run, "note_form")


@bp.post("/tips/<ref>/tags")
def add_tag(ref: str) -> Response:
    form = forms.TagForm()

    def run(tip: Tip) -> str:
        tag = triage.add_tag(db.session(), signed_in_staff(), tip, form.tag.data)
        return f"Tagged “{tag}”."

    return _act(ref, form, run, "tag_form")


@bp.post("/tips/<ref>/tags/<tag>/remove")
def remove_tag(ref: str, tag: str) -> Response:
    def run(tip: Tip) -> str:
        triage.remove_tag(db.session(), signed_in_staff(), tip, tag)
        return f"Tag “{tag}” removed."

    return _act(ref, ButtonForm(), run)


@bp.post("/tips/<ref>/links")
def link(ref: str) -> Response:
    form = forms.LinkForm()

    def run(tip: Tip) -> str:
        other = _other_tip(form.other.data, "other")
        triage.link_tips(db.session(), signed_in_staff(), tip, other, LinkKind(form.kind.data))
        return "Tips linked."

    return _act(ref, form, run, "link_form")


def _export(ref: str, fmt: str) -> Response:
    session = db.session()
    tip = _tip_or_404(ref)
    config = current_app.config
    made = export.export_tip(
        session,
        signed_in_staff(),
        tip,
        fmt,
        data_key=config["DATA_KEY"],
        zone=ZoneInfo(config["AGENCY_TIME_ZONE"]),
    )
    session.commit()  # the export is audited; nothing is sent unless the audit row is saved
    return attachment(made.data, made.filename, made.mimetype)


@bp.get("/tips/<ref>/export.json")
def export_json(ref: str) -> Response:
    return _export(ref, "json")


@bp.get("/tips/<ref>/export.pdf")
def export_pdf(ref: str) -> Response:
    return _export(ref, "pdf")


def _notice_or_404(slug: str) -> Notice:
    notice = access.visible_notice(db.session(), signed_in_staff(), slug=slug)
    if notice is None:
        abort(404)
    return notice


@bp.get("/queue/notices/<slug>")
def notice(slug: str) -> str:
    session = db.session()
    found = _notice_or_404(slug)
    board = queue_views.notice_board(session, signed_in_staff(), found)
    follow = follows.follow_of(session, signed_in_staff(), found)
    form = forms.FollowForm(formdata=None, email=follow.email if follow else "")
    return render_template(
        "staff/notice.html",
        board=board,
        follow=follow,
        follow_form=form,
        statuses=list(TipStatus),
        now=db.utcnow(),
    )
