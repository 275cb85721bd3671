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
from tipline.notices import changes, photos, poster, share_image, workflow
from tipline.notices import services as notices
from tipline.notices.forms import CorrectForm, NoticeForm, PhotoForm, ResolveForm, ReturnForm
from tipline.notices.models import (
    ChangeKind,
    Notice,
    NoticeChange,
    NoticePhoto,
    NoticeStatus,
    Resolution,
)
from tipline.triage import access
from tipline.web import actions
from tipline.web.links import document
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


def _to_notice(notice: Notice, anchor: str | None = None) -> Response:
    """Back to the notice's page, at the part the person was acting on."""
    return redirect(url_for("pio.notice", notice_id=notice.id, _anchor=anchor), code=303)


def _render_notice(notice: Notice, status: int = 200, **forms: object) -> tuple[str, int]:
    forms.setdefault("photo_form", PhotoForm(formdata=None))
    forms.setdefault("return_form", ReturnForm(formdata=None))
    forms.setdefault("resolve_form", ResolveForm(formdata=None))
    forms.setdefault("correct_form", CorrectForm(formdata=None))
    page = render_template(
        "pio/notice.html",
        notice=notice,
        problems=workflow.publication_problems(notice),
        history=notices_history(notice),
        Status=NoticeStatus,
        Kind=ChangeKind,
        may_approve=changes.may_approve,
        may_publish=workflow.may_publish,
        **forms,
    )
    return page, status


@bp.app_template_global()
def notices_awaiting_approval() -> int:
    """For the staff menu: notices in review or with a change waiting for a second person."""
    return changes.awaiting_approval(db.session())


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
        return render_template(
            "pio/edit.html",
            form=form,
            notice=notice,
            typo_limit=notices.TYPO_FIX_CHARACTERS,
            change_kinds=ChangeKind,
        )
    error = None
    if form.validate_on_submit():
        draft = form.to_draft()
        goes_live = not notice.is_public or notices.is_typo_fix(
            notice, draft, notices.changed_fields(notice, draft)
        )
        try:
            changed = notices.update_notice(session, notice, draft, signed_in_staff())
        except notices.NoticeRefused as refused:
            error = str(refused)
        else:
            session.commit()
            if changed and not goes_live:
                flash(
                    "Saved as a change waiting for approval. The public page shows the current "
                    "version until another PIO or a supervisor approves it.",
                    "success",
                )
                return _to_notice(notice, "changes")
            flash("Saved." if changed else "Nothing had changed.", "success")
            return _to_notice(notice)
    status = 400 if (form.errors or error) else 200
    page = render_template(
        "pio/edit.html",
        form=form,
        notice=notice,
        error=error,
        typo_limit=notices.TYPO_FIX_CHARACTERS,
        change_kinds=ChangeKind,
    )
    return page, status


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
        if workflow.publication_problems(notice):
            # The page lists what is missing; saying it again in the message doubles it.
            flash("The notice is not ready yet: what is missing is listed below.", "error")
        else:
            flash(str(refused), "error")
    else:
        session.commit()
        flash(_DONE[action], "success")
    return _to_notice(notice, "actions-heading")


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
    actions.commit_or_refuse(
        lambda: workflow.return_to_draft(
            session, notice, signed_in_staff(), form.reason.data or ""
        ),
        notices.NoticeRefused,
        success="Returned to the author as a draft.",
        category="success",
    )
    return _to_notice(notice, "actions-heading")


@bp.post("/<int:notice_id>/resolve")
def resolve(notice_id: int) -> Page:
    """Resolving takes three steps: say what happened, confirm what the public page will say,
    and have a second person approve it (``approve_change``)."""
    session = db.session()
    notice = _notice(notice_id)
    form = ResolveForm()
    if not form.validate_on_submit():
        return _render_notice(notice, 400, resolve_form=form)
    resolution = Resolution(form.resolution.data)
    if form.confirmed.data != "yes":
        form.confirmed.data = "yes"
        preview = Notice(
            subject_name=notice.subject_name,
            resolution=resolution,
            resolved_on=form.resolved_on.data,
        )
        return render_template(
            "pio/resolve_confirm.html", notice=notice, form=form, preview=preview
        )
    refusal = actions.commit_or_refuse(
        lambda: changes.request_resolution(
            session, notice, signed_in_staff(), resolution, form.resolved_on.data
        ),
        notices.NoticeRefused,
        success="The resolution waits for a second person (another PIO or a supervisor) to "
        "approve it. Until then the public page still shows the notice as wanted.",
        category="success",
        field=form.resolved_on,
    )
    if refusal is not None:
        return _render_notice(notice, 400, resolve_form=form)
    return _to_notice(notice, "changes")


@bp.post("/<int:notice_id>/correct")
def correct(notice_id: int) -> Page:
    session = db.session()
    notice = _notice(notice_id)
    form = CorrectForm()
    if not form.validate_on_submit():
        return _render_notice(notice, 400, correct_form=form)
    refusal = actions.commit_or_refuse(
        lambda: changes.request_correction(
            session, notice, signed_in_staff(), form.reason.data or ""
        ),
        notices.NoticeRefused,
        success="The correction waits for a second person to approve it.",
        category="success",
        field=form.reason,
    )
    if refusal is not None:
        return _render_notice(notice, 400, correct_form=form)
    return _to_notice(notice, "changes")


@bp.post("/<int:notice_id>/changes/<int:change_id>/approve")
def approve_change(notice_id: int, change_id: int) -> Response:
    session = db.session()
    notice = _notice(notice_id)
    if not ButtonForm().validate_on_submit():
        abort(400)
    refusal = actions.commit_or_refuse(
        lambda: changes.approve_change(session, notice, change_id, signed_in_staff()),
        notices.NoticeRefused,
        success=lambda change: _APPROVED[change.kind],
        category="success",
    )
    if refusal is not None:
        return _to_notice(notice, "changes")
    return _to_notice(notice)


_APPROVED = {
    ChangeKind.EDIT: "Approved. The public page, feeds and poster show the new version now.",
    ChangeKind.RESOLVE: "Approved. The public page says the notice is resolved now.",
    ChangeKind.CORRECT: "Approved. The notice is published again and says it was corrected.",
}


@bp.post("/<int:notice_id>/changes/<int:change_id>/withdraw")
def withdraw_change(notice_id: int, change_id: int) -> Response:
    session = db.session()
    notice = _notice(notice_id)
    if not ButtonForm().validate_on_submit():
        abort(400)
    actions.commit_or_refuse(
        lambda: changes.withdraw_change(session, notice, change_id, signed_in_staff()),
        notices.NoticeRefused,
        success="Withdrawn. The public page is unchanged.",
        category="success",
    )
    return _to_notice(notice, "changes")


def _preview_of(notice: Notice) -> tuple[Notice, list[NoticePhoto], NoticeChange | None]:
    """The notice as it will be after the change named by ``?change=`` (or after publication,
    for a notice in review); 404 when there is nothing waiting to preview."""
    change_id = request.args.get("change", type=int)
    change = None
    if change_id is not None:
        change = next((c for c in notice.pending_changes if c.id == change_id), None)
        if change is None:
            abort(404)
    elif notice.status is not NoticeStatus.IN_REVIEW:
        abort(404)
    after, shown = changes.preview(notice, change)
    return after, shown, change


@bp.get("/<int:notice_id>/preview")
def preview(notice_id: int) -> str:
    """The public page, poster and share image exactly as they will appear once approved, with
    the approval after them."""
    notice = _notice(notice_id)
    after, shown, change = _preview_of(notice)
    me = signed_in_staff()
    if change is None:
        allowed = workflow.may_publish(notice, me)
        approve_url = url_for("pio.approve", notice_id=notice.id)
        what = "the notice"
    else:
        allowed = changes.may_approve(change, me)
        approve_url = url_for("pio.approve_change", notice_id=notice.id, change_id=change.id)
        what = {
            ChangeKind.EDIT: "the changed notice",
            ChangeKind.RESOLVE: "the resolved notice",
            ChangeKind.CORRECT: "the corrected notice",
        }[change.kind]
    session = db.session()
    return render_template(
        "pio/preview.html",
        notice=after,
        contact_lines=notices.contact_lines_for(session, after),
        preview_photos=shown,
        change_id=change.id if change else None,
        may_approve=allowed,
        approve_url=approve_url,
        what=what,
        share_alt=share_image.alt_text(document(session, after), current_app.config["AGENCY_NAME"]),
    )


def _preview_photo(notice: Notice, shown: list[NoticePhoto]) -> bytes | None:
    if not shown:
        return None
    found = photos.photo_bytes(db.session(), notice.id, shown[0].id, "display", public_only=False)
    return found[0] if found else None


@bp.get("/<int:notice_id>/preview/poster.pdf")
def preview_poster(notice_id: int) -> Response:
    notice = _notice(notice_id)
    after, shown, _ = _preview_of(notice)
    if after.status is not NoticeStatus.PUBLISHED:
        abort(404)  # a resolved notice has no poster
    body = poster.render_poster(
        document(db.session(), after),
        current_app.config["AGENCY_NAME"],
        current_app.config["EMERGENCY_NUMBER"],
        photo=_preview_photo(notice, shown),
    )
    return Response(body, content_type="application/pdf")


@bp.get("/<int:notice_id>/preview/share.png")
def preview_share(notice_id: int) -> Response:
    notice = _notice(notice_id)
    after, shown, _ = _preview_of(notice)
    body = share_image.render_share_image(
        document(db.session(), after),
        _preview_photo(notice, shown),
        current_app.config["AGENCY_NAME"],
    )
    return Response(body, content_type=share_image.MIME)


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
            if notice.is_public:
                flash(
                    "The photo waits for a second person's approval before the public sees it.",
                    "success",
                )
            else:
                flash("The photo is added.", "success")
            return _to_notice(notice, "photos-heading")
    if getattr(form.photo.data, "filename", "") and not form.photo.errors:
        # Another field failed: the browser will not send the file again by itself.
        form.photo.errors = ["Your photo was not kept: please choose it again."]
    return _render_notice(notice, 400, photo_form=form)


@bp.post("/<int:notice_id>/photos/<int:photo_id>/remove")
def remove_photo(notice_id: int, photo_id: int) -> Response:
    session = db.session()
    notice = _notice(notice_id)
    if not ButtonForm().validate_on_submit():
        abort(400)
    actions.commit_or_refuse(
        lambda: photos.remove_photo(session, notice, photo_id, signed_in_staff()),
        notices.NoticeRefused,
        success="The photo is removed (on a public notice, once a second person approves).",
        category="success",
    )
    return _to_notice(notice, "photos-heading")


@bp.get("/<int:notice_id>/photos/<int:photo_id>/<variant>")
def photo(notice_id: int, photo_id: int, variant: str) -> Response:
    """Staff preview of a photo, whatever the notice's status."""
    _notice(notice_id)
    found = photos.photo_bytes(db.session(), notice_id, photo_id, variant, public_only=False)
    if found is None:
        abort(404)
    return image_response(*found)
