"""Phone intake under /staff/calls/: a call-taker logs every call on the tip line and types in
the tips callers give, reading the receipt code back to them. Supervisors read the log."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, make_response, redirect, render_template, url_for
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.wrappers import Response
from wtforms.fields.choices import SelectChoice

from tipline import db
from tipline.calls import services as calls
from tipline.calls.forms import CallForm
from tipline.notices import services as notices
from tipline.sealing import SealBroken
from tipline.tips import services as tips
from tipline.tips.fields import TIP_FIELDS
from tipline.tips.forms import new_form_token
from tipline.tips.receipts import receipt_key, receipt_secret
from tipline.web.drafts import restored_form
from tipline.web.policy import current_staff
from tipline.web.public import submission_options

bp = Blueprint("calltaker", __name__, url_prefix="/staff/calls")


@bp.get("/")
def calls_log() -> str:
    user = current_staff()
    assert user is not None
    return render_template("calltaker/calls.html", calls=calls.call_log(db.session(), user))


@bp.route("/new", methods=["GET", "POST"])
def new_call() -> Response:
    user = current_staff()
    assert user is not None
    session = db.session()
    form = restored_form("calltaker.new_call", CallForm) or CallForm()
    published = notices.published_notices(session)
    form.notice.choices = [SelectChoice("", "None / not sure")] + [
        SelectChoice(n.slug, n.subject_name) for n in published
    ]
    save_failed = False
    if form.validate_on_submit():
        chosen = next((n for n in published if n.slug == form.notice.data), None)
        try:
            record, code = calls.take_call(
                session,
                user,
                form.chosen,
                form.note.data or "",
                form.report(form.narrative.data or ""),
                receipt_key(receipt_secret(current_app.config)),
                notice=chosen,
                form_token=form.form_token.data or None,
                caller_dialog=bool(form.caller_dialog.data),
                **submission_options(current_app),
            )
            session.commit()
        except tips.AlreadyReceived as done:
            session.rollback()
            page = render_template("calltaker/readback.html", tip=done.tip, code=done.code)
            return make_response(page)
        except (SQLAlchemyError, SealBroken):
            session.rollback()
            current_app.logger.exception("a call could not be saved")
            save_failed = True
        else:
            if record.tip is not None and record.tip.call_dropped:
                flash(
                    f"Call logged: {record.disposition.label}. What you typed is saved as tip "
                    f"{record.tip.short_ref}, marked “call dropped”, in the detectives' queue.",
                    "success",
                )
                return redirect(url_for("calltaker.calls_log"), code=303)
            if code is None:
                flash(f"Call logged: {record.disposition.label}.", "success")
                return redirect(url_for("calltaker.calls_log"), code=303)
            page = render_template("calltaker/readback.html", tip=record.tip, code=code)
            return make_response(page)
    if form.form_token.errors or not form.form_token.data:
        form.form_token.data = new_form_token()
    page = render_template(
        "calltaker/new_call.html", form=form, save_failed=save_failed, tip_fields=TIP_FIELDS
    )
    return make_response(page, 503 if save_failed else (400 if form.errors else 200))
