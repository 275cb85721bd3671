"""Supervisors' and admins' view of the outbox: e-mails not yet accepted by the mail server,
why the last try failed, and a button to try one again now."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, url_for
from werkzeug.wrappers import Response

from tipline import db, outbox
from tipline.auth.forms import ButtonForm
from tipline.jobs import jobs_for
from tipline.web.policy import signed_in_staff

bp = Blueprint("mail", __name__, url_prefix="/staff")


@bp.get("/outbox")
def undelivered() -> str:
    return render_template(
        "staff/outbox.html",
        messages=outbox.undelivered(db.session()),
        button=ButtonForm(),
        now=db.utcnow(),
    )


@bp.post("/outbox/<int:message_id>/retry")
def retry(message_id: int) -> Response:
    session = db.session()
    if not ButtonForm().validate_on_submit():
        flash("The form expired. Please try again.", "error")
        return redirect(url_for("mail.undelivered"), code=303)
    try:
        outbox.retry_now(session, signed_in_staff(), message_id)
    except ValueError as error:
        session.rollback()
        flash(str(error), "error")
    else:
        session.commit()
        try:
            jobs_for(current_app._get_current_object()).deliver_outbox()  # type: ignore[attr-defined]
        except Exception:  # the minute's run sends it
            current_app.logger.exception("could not queue the outbox delivery")
        flash("The e-mail will be tried again within a minute.", "info")
    return redirect(url_for("mail.undelivered"), code=303)
