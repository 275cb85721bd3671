"""The PIO's screens under /staff/notices: write, review, publish, resolve and archive notices,
and their photos. PIOs write; a second PIO or a supervisor approves. Neither sees tips."""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.wrappers import Response

from tipline import audit, db
from tipline.audit.models import AuditEvent
from tipline.auth import units
from tipline.auth.forms import ButtonForm
from tipline.media import ImageRejected
from tipline.notices import photos, workflow
from tipline.notices import services as notices
from tipline.notices.forms import NoticeForm, PhotoForm, ResolveForm, ReturnForm
from tipline.notices.models import Notice, NoticeStatus, Resolution
from tipline.triage import access
from tipline.web.policy import signed_in_staff
from tipline.web.responses import image_response

bp = Blueprint("pio", __name__, url_prefix="/staff/notices")

Page = Response | str | tuple[str, int]


def _notice(notice_id: int) -> Notice:
    found = access.visible_notice(db.session(), signed_in_staff(), notice_id=notice_id)
    if found is None:
        abort(404)
    return found


def _units() -> list[tuple[int, str]]:
    return [(unit.id, unit.name) for unit in units.list_units(db.session())]


def _to_notice(notice: Notice) -> Response:
    return redirect(url_for("pio.notice", notice_id=notice.id), code=303)


def _render_notice(notice: Notice, status: int = 200, **forms: object) -> tuple[str, int]:
    forms.setdefault("photo_form", PhotoForm(formdata=None))
    forms.setdefault("return_form", ReturnForm(formdata=None))
    forms.setdefault("resolve_form", ResolveForm(formdata=None))
    page = render_template(
        "pio/notice.html",
        notice=notice,
        problems=workflow.publication_problems(notice),
        history=notices_history(notice),
        Status=NoticeStatus,
        **forms,
    )
    return page, status


def notices_history(notice: Notice) -> list[AuditEvent]:
    return audit.events_for(db.session(), "notice", notice.slug)


@bp.get("")
def index() -> str:
    grouped = notices.notices_by_status(db.session())
    return render_template("pio/index.html", grouped=grouped)


@bp.route("/new", methods=["GET", "POST"])
def new() -> Page:
    session = db.session()
    form = NoticeForm(notices.default_contact_lines(session), units=_units())
    if request.method == "GET":
        form.default_lines.data = [c.id for c in notices.default_contact_lines(session)]
    if form.is_submitted() and form.add_row():
        return render_template("pio/edit.html", form=form, notice=None)
    error = None
    if form.validate_on_submit():
        try:
            notice = notices.create_notice(session, form.to_draft(), signed_in_staff())
        except notices.NoticeRefused as refused:
            error = str(refused)
        else:
            session.commit()
            flash("The draft is saved. Add photos, then send it for review.", "success")
            return _to_notice(notice)
    status = 400 if (form.errors or error) else 200
    return render_template("pio/edit.html", form=form, notice=None, error=error), status


@bp.route("/<int:notice_id>/edit", methods=["GET", "POST"])
def edit(notice_id: int) -> Page:
    session = db.session()
    notice = _notice(notice_id)
    try:
        notices.check_editable(notice)
    except notices.NoticeRefused as refused:
        flash(str(refused), "error")
        return _to_notice(notice)
    form = NoticeForm.for_notice(notice, notices.default_contact_lines(session), _units())
    if form.is_submitted() and form.add_row():
        return render_template("pio/edit.html", form=form, notice=notice)
    error = None
    if form.validate_on_submit():
        try:
            changed = notices.update_notice(session, notice, form.to_draft(), signed_in_staff())
        except notices.NoticeRefused as refused:
            error = str(refused)
        else:
            session.commit()
            flash("Saved." if changed else "Nothing had changed.", "success")
            return _to_notice(notice)
    status = 400 if (form.errors or error) else 200
    return render_template("pio/edit.html", form=form, notice=notice, error=error), status


@bp.get("/<int:notice_id>")
def notice(notice_id: int) -> Page:
    return _render_notice(_notice(notice_id))


def _transition(notice_id: int, action: str) -> Response:
    """Run one workflow step from a POST button, commit it, and say how it went."""
    session = db.session()
    notice = _notice(notice_id)
    if not ButtonForm().validate_on_submit():
        abort(400)
    step = getattr(workflow, action)
    try:
        step(session, notice, signed_in_staff())
    except notices.NoticeRefused as refused:
        session.rollback()
        flash(str(refused), "error")
    else:
        session.commit()
        flash(_DONE[action], "success")
    return _to_notice(notice)


_DONE = {
    "submit_for_review": "Sent for review. Another PIO or a supervisor must approve it.",
    "publish_notice": "Published. The notice is on the public site now.",
    "archive_notice": "Archived. The notice is off the public site.",
}


@bp.post("/<int:notice_id>/submit")
def submit(notice_id: int) -> Response:
    return _transition(notice_id, "submit_for_review")


@bp.post("/<int:notice_id>/approve")
def approve(notice_id: int) -> Response:
    return _transition(notice_id, "publish_notice")


@bp.post("/<int:notice_id>/archive")
def archive(notice_id: int) -> Response:
    return _transition(notice_id, "archive_notice")


@bp.post("/<int:notice_id>/return")
def return_(notice_id: int) -> Page:
    session = db.session()
    notice = _notice(notice_id)
    form = ReturnForm()
    if not form.validate_on_submit():
        return _render_notice(notice, 400, return_form=form)
    try:
        workflow.return_to_draft(session, notice, signed_in_staff(), form.reason.data or "")
    except notices.NoticeRefused as refused:
        session.rollback()
        flash(str(refused), "error")
    else:
        session.commit()
        flash("Returned to the author as a draft.", "success")
    return _to_notice(notice)


@bp.post("/<int:notice_id>/resolve")
def resolve(notice_id: int) -> Page:
    session = db.session()
    notice = _notice(notice_id)
    form = ResolveForm()
    if not form.validate_on_submit():
        return _render_notice(notice, 400, resolve_form=form)
    try:
        workflow.resolve_notice(
            session,
            notice,
            signed_in_staff(),
            Resolution(form.resolution.data),
            form.resolved_on.data,
        )
    except notices.NoticeRefused as refused:
        session.rollback()
        form.resolved_on.errors = [str(refused)]
        return _render_notice(notice, 400, resolve_form=form)
    session.commit()
    flash(f"Resolved: {notice.resolution_text}. The public page says so now.", "success")
    return _to_notice(notice)


@bp.post("/<int:notice_id>/photos")
def add_photo(notice_id: int) -> Page:
    session = db.session()
    notice = _notice(notice_id)
    form = PhotoForm()
    if form.validate_on_submit():
        try:
            photos.add_photo(
                session,
                notice,
                form.photo.data.read(),
                form.alt_text.data or "",
                signed_in_staff(),
                caption=form.caption.data or "",
                max_bytes=current_app.config["NOTICE_PHOTO_MAX_BYTES"],
                max_pixels=current_app.config["NOTICE_PHOTO_MAX_PIXELS"],
            )
        except (ImageRejected, notices.NoticeRefused) as rejected:
            session.rollback()
            form.photo.errors = [str(rejected)]
        else:
            session.commit()
            flash("The photo is added.", "success")
            return _to_notice(notice)
    return _render_notice(notice, 400, photo_form=form)


@bp.post("/<int:notice_id>/photos/<int:photo_id>/remove")
def remove_photo(notice_id: int, photo_id: int) -> Response:
    session = db.session()
    notice = _notice(notice_id)
    if not ButtonForm().validate_on_submit():
        abort(400)
    try:
        photos.remove_photo(session, notice, photo_id, signed_in_staff())
    except notices.NoticeRefused as refused:
        session.rollback()
        flash(str(refused), "error")
    else:
        session.commit()
        flash("The photo is removed.", "success")
    return _to_notice(notice)


@bp.get("/<int:notice_id>/photos/<int:photo_id>/<variant>")
def photo(notice_id: int, photo_id: int, variant: str) -> Response:
    """Staff preview of a photo, whatever the notice's status."""
    _notice(notice_id)
    found = photos.photo_bytes(db.session(), notice_id, photo_id, variant, public_only=False)
    if found is None:
        abort(404)
    return image_response(*found)
