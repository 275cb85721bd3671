"""Staff actions on a tip (claim, release, reassign, status, priority, notes, tags, links),
its exports, and the detectives' notice pages with follow/unfollow. Every action is a POST
with a CSRF token that calls one service, commits once and redirects back (303)."""

from __future__ import annotations

from collections.abc import Callable

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
from tipline.triage import access, export, follows
from tipline.triage import queue as queue_views
from tipline.triage import services as triage
from tipline.triage.access import NotAllowed, TipNotFound
from tipline.triage.closures import ReviewPolicy
from tipline.triage.forms import (
    FollowForm,
    LinkForm,
    NoteForm,
    PriorityForm,
    ReasonForm,
    ReassignForm,
    StatusForm,
    TagForm,
)
from tipline.triage.models import LinkKind, ReviewKind
from tipline.web.policy import signed_in_staff
from tipline.web.responses import attachment

bp = Blueprint("triage", __name__, url_prefix="/staff")


def _tip_or_404(ref: str) -> Tip:
    tip = triage.find_tip(db.session(), signed_in_staff(), ref)
    if tip is None:
        abort(404)
    return tip


def _act(ref: str, form: FlaskForm, action: Callable[[Tip], str | None]) -> Response:
    """Validate ``form``, run ``action`` on the tip, commit, flash, and go back to the tip.
    The tip is read under the writers' lock, so the action's checks see what is committed."""
    session = db.session()
    tip = triage.tip_to_work(session, signed_in_staff(), ref)
    if tip is None:
        abort(404)
    if not form.validate_on_submit():
        errors = [e for field_errors in form.errors.values() for e in field_errors]
        flash(" ".join(str(e) for e in errors) or "The form could not be read.", "error")
        return redirect(url_for("staff.tip", ref=ref), code=303)
    try:
        message = action(tip)
    except TipNotFound as error:  # a tip named in the form that the viewer may not see
        session.rollback()
        flash(str(error), "error")
    except (ValueError, NotAllowed) as error:
        session.rollback()
        flash(str(error), "error")
    else:
        session.commit()
        if message:
            flash(message, "info")
    return redirect(url_for("staff.tip", ref=ref), code=303)


@bp.post("/tips/<ref>/claim")
def claim(ref: str) -> Response:
    def run(tip: Tip) -> str:
        triage.claim_tip(db.session(), signed_in_staff(), tip)
        return "This tip is now yours."

    return _act(ref, ButtonForm(), run)


@bp.post("/tips/<ref>/release")
def release(ref: str) -> Response:
    form = ReasonForm(prefix="release")  # the tip page has two reason fields

    def run(tip: Tip) -> str:
        triage.release_tip(db.session(), signed_in_staff(), tip, form.reason.data)
        return "The tip is back in the queue."

    return _act(ref, form, run)


@bp.post("/tips/<ref>/reassign")
def reassign(ref: str) -> Response:
    form = ReassignForm(prefix="reassign")

    def run(tip: Tip) -> str:
        target = triage.staff_by_id(db.session(), int(form.to.data or 0))
        if target is None:
            raise ValueError("Choose who to give the tip to.")
        triage.reassign_tip(db.session(), signed_in_staff(), tip, target, form.reason.data)
        return f"The tip is now with {target.username}."

    return _act(ref, form, run)


@bp.post("/tips/<ref>/status")
def status(ref: str) -> Response:
    form = StatusForm()

    def run(tip: Tip) -> str:
        session = db.session()
        original = None
        if form.duplicate_of.data:
            original = triage.find_tip(session, signed_in_staff(), form.duplicate_of.data.strip())
            if original is None:
                raise ValueError("There is no tip with that reference.")
        new_status = TipStatus(form.status.data)
        review = triage.change_status(
            session,
            signed_in_staff(),
            tip,
            new_status,
            form.reason.data or "",
            duplicate_of=original,
            review=ReviewPolicy.from_config(current_app.config),
        )
        if review is not None and review.kind is ReviewKind.CONFIRMATION:
            return (
                f"A tip that was urgent closes as “{new_status.label}” only when a"
                " supervisor confirms it. It stays open until then."
            )
        return f"Status changed to “{new_status.label}”."

    return _act(ref, form, run)


@bp.post("/tips/<ref>/priority")
def priority(ref: str) -> Response:
    form = PriorityForm()

    def run(tip: Tip) -> str:
        chosen = TipPriority(form.priority.data)
        due = current_app.config["TRIAGE_DUE_MINUTES"]
        held = triage.set_priority(db.session(), signed_in_staff(), tip, chosen, due)
        if held is not None:
            return (
                f"Lowering an urgent tip to {chosen.label} waits for a supervisor to confirm;"
                " it stays urgent until then."
            )
        return f"Priority set to {chosen.label}."

    return _act(ref, form, run)


@bp.post("/tips/<ref>/notes")
def add_note(ref: str) -> Response:
    form = NoteForm()

    def run(tip: Tip) -> str:
        triage.add_note(db.session(), signed_in_staff(), tip, form.body.data)
        return "Note added."

    return _act(ref, form, run)


@bp.post("/tips/<ref>/tags")
def add_tag(ref: str) -> Response:
    form = TagForm()

    def run(tip: Tip) -> str:
        tag = triage.add_tag(db.session(), signed_in_staff(), tip, form.tag.data)
        return f"Tagged “{tag}”."

    return _act(ref, form, run)


@bp.post("/tips/<ref>/tags/<tag>/remove")
def remove_tag(ref: str, tag: str) -> Response:
    def run(tip: Tip) -> str:
        triage.remove_tag(db.session(), signed_in_staff(), tip, tag)
        return f"Tag “{tag}” removed."

    return _act(ref, ButtonForm(), run)


@bp.post("/tips/<ref>/links")
def link(ref: str) -> Response:
    form = LinkForm()

    def run(tip: Tip) -> str:
        other = triage.find_tip(db.session(), signed_in_staff(), form.other.data.strip())
        if other is None:
            raise ValueError("There is no tip with that reference.")
        triage.link_tips(db.session(), signed_in_staff(), tip, other, LinkKind(form.kind.data))
        return "Tips linked."

    return _act(ref, form, run)


def _export(ref: str, fmt: str) -> Response:
    session = db.session()
    tip = _tip_or_404(ref)
    made = export.export_tip(session, signed_in_staff(), tip, fmt)
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
    form = FollowForm(formdata=None, email=follow.email if follow else "")
    return render_template(
        "staff/notice.html", board=board, follow=follow, follow_form=form, statuses=list(TipStatus)
    )


@bp.post("/queue/notices/<slug>/follow")
def follow(slug: str) -> Response:
    session = db.session()
    found = _notice_or_404(slug)
    form = FollowForm()
    if form.validate_on_submit():
        try:
            follows.follow_notice(session, signed_in_staff(), found, form.email.data)
        except ValueError as error:
            session.rollback()
            flash(str(error), "error")
        else:
            session.commit()
            flash("You will get an e-mail with a link when a tip arrives on this notice.", "info")
    else:
        flash("Enter an e-mail address such as name@example.org.", "error")
    return redirect(url_for("triage.notice", slug=slug), code=303)


@bp.post("/queue/notices/<slug>/unfollow")
def unfollow(slug: str) -> Response:
    session = db.session()
    found = _notice_or_404(slug)
    if ButtonForm().validate_on_submit():
        follows.unfollow_notice(session, signed_in_staff(), found)
        session.commit()
        flash("You no longer follow this notice.", "info")
    return redirect(url_for("triage.notice", slug=slug), code=303)
