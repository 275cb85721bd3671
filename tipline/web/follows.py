"""Following a notice from its staff page, and confirming the address from the link mailed to
it (``tipline.triage.follows``). The link opens a page with a button: the follow is confirmed
by a POST, so a mail scanner that fetches links does not use it up."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from tipline import db
from tipline.auth.forms import ButtonForm
from tipline.jobs import jobs_for, mail_domain
from tipline.notices.models import Notice
from tipline.triage import access, follows
from tipline.triage.forms import FollowConfirmForm, FollowForm
from tipline.web import actions
from tipline.web.policy import signed_in_staff

bp = Blueprint("follows", __name__, url_prefix="/staff")


def _notice_or_404(slug: str) -> Notice:
    notice = access.visible_notice(db.session(), signed_in_staff(), slug=slug)
    if notice is None:
        abort(404)
    return notice


def _deliver_soon() -> None:
    try:
        jobs_for(current_app._get_current_object()).deliver_outbox()  # type: ignore[attr-defined]
    except Exception:  # the outbox keeps it; the minute's run sends it
        current_app.logger.exception("could not queue the outbox delivery")


@bp.post("/queue/notices/<slug>/follow")
def follow(slug: str) -> Response:
    session = db.session()
    found = _notice_or_404(slug)
    form = FollowForm()
    if not form.validate_on_submit():
        flash("Enter an e-mail address such as name@example.org.", "error")
        return redirect(url_for("triage.notice", slug=slug), code=303)
    config = current_app.config
    mail = follows.LinkMail(config["STAFF_BASE_URL"], mail_domain(config))
    actions.commit_or_refuse(
        lambda: follows.follow_notice(session, signed_in_staff(), found, form.email.data, mail),
        ValueError,
        success=_link_sent,
    )
    return redirect(url_for("triage.notice", slug=slug), code=303)


def _link_sent(token: str | None) -> str:
    if token is None:
        return "Nothing changed: that address is confirmed, or its link is still waiting."
    _deliver_soon()  # committed: the worker may send it now
    return (
        "We e-mailed a confirmation link to that address. Tip alerts go there only after "
        "you open it and confirm, within 24 hours."
    )


@bp.post("/queue/notices/<slug>/unfollow")
def unfollow(slug: str) -> Response:
    session = db.session()
    found = _notice_or_404(slug)
    if ButtonForm().validate_on_submit():
        follows.unfollow_notice(session, signed_in_staff(), found)
        session.commit()
        flash("You no longer follow this notice.", "info")
    return redirect(url_for("triage.notice", slug=slug), code=303)


@bp.route("/follows/confirm", methods=["GET", "POST"])
def confirm() -> Response | tuple[str, int]:
    """GET: what the link confirms, with a button; POST: confirm it (once)."""
    session = db.session()
    form = FollowConfirmForm()
    token = (form.token.data if request.method == "POST" else request.args.get("token")) or ""
    try:
        if form.validate_on_submit():
            done = follows.confirm_follow(session, signed_in_staff(), token)
            session.commit()
            flash(f"Confirmed: tip alerts for this notice now go to {done.email}.", "info")
            return redirect(url_for("triage.notice", slug=done.notice.slug), code=303)
        pending = follows.pending_follow(session, signed_in_staff(), token)
    except follows.FollowLinkInvalid as error:
        session.rollback()
        return render_template("staff/follow_confirm.html", problem=str(error)), 404
    form.token.data = token
    page = render_template("staff/follow_confirm.html", follow=pending, form=form)
    return page, (400 if form.errors else 200)
