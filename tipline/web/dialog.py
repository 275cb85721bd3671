"""Staff side of the receipt dialog, under /staff/tips/<ref>/: ask the tipster a question,
read answers and contact details, open photos, mark spam. Detectives and supervisors only.

The part of the tip page is ``templates/staff/_dialog.html``; it gets its data from the
``tip_dialog(tip)`` template global defined here.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, url_for
from werkzeug.wrappers import Response

from tipline import db
from tipline.auth.forms import ButtonForm
from tipline.tips import attachments
from tipline.tips import dialog as tipster_dialog
from tipline.tips import services as tips
from tipline.tips.forms import AskForm
from tipline.tips.models import Tip
from tipline.tips.sealing import SealBroken
from tipline.triage import dialog
from tipline.web.policy import current_staff, signed_in_staff
from tipline.web.responses import attachment

bp = Blueprint("dialog", __name__, url_prefix="/staff/tips")


def _tip(ref: str) -> Tip:
    user = current_staff()
    assert user is not None  # the policy guarantees a signed-in tip reader here
    found = dialog.tip_for_work(db.session(), user, ref)
    if found is None:
        abort(404)
    return found


def _back(ref: str) -> Response:
    return redirect(url_for("staff.tip", ref=ref) + "#dialog", code=303)


@bp.post("/<ref>/questions")
def ask(ref: str) -> Response:
    tip = _tip(ref)
    form = AskForm()
    if form.validate_on_submit():
        dialog.ask_tipster(db.session(), tip, signed_in_staff(), form.body.data)
        db.session().commit()
        flash("Question sent. The tipster sees it when they next enter their code.", "success")
    else:
        flash("The question was not sent: please write it in the box.", "error")
    return _back(ref)


@bp.post("/<ref>/spam")
def spam(ref: str) -> Response:
    tip = _tip(ref)
    if ButtonForm().validate_on_submit():
        dialog.mark_spam(db.session(), tip, signed_in_staff())
        db.session().commit()
        flash("Marked as spam. The tip stays on record; nothing was deleted.", "info")
    return _back(ref)


@bp.get("/<ref>/photos/<photo_ref>")
def photo(ref: str, photo_ref: str) -> Response:
    user = current_staff()
    assert user is not None
    found = dialog.photo_for_staff(
        db.session(), user, ref, photo_ref, current_app.config["DATA_KEY"]
    )
    if found is None:
        abort(404)
    db.session().commit()  # the viewing is audited
    stored, data = found
    extension = stored.mime.split("/")[1].replace("jpeg", "jpg")
    return attachment(data, f"tip-{ref[:6]}-{photo_ref[:6]}.{extension}", stored.mime)


def tip_dialog(tip: Tip) -> dict[str, Any]:
    """What ``staff/_dialog.html`` shows for ``tip``: messages, photos, contact, the ask form."""
    session = db.session()
    contact, contact_error = None, None
    try:
        contact = tips.contact_details(tip, current_app.config["DATA_KEY"])
    except SealBroken as error:
        # Loud, on the page and in the log, without hiding the rest of the tip.
        current_app.logger.error("contact details of a tip did not open: %s", error)
        contact_error = str(error)
    return {
        "messages": tipster_dialog.messages_for(session, tip),
        "photos": attachments.attachments_for(session, tip),
        "contact": contact,
        "contact_error": contact_error,
        "ask_form": AskForm(formdata=None),
    }


@bp.app_context_processor
def _dialog_global() -> dict[str, Any]:
    return {"tip_dialog": tip_dialog}
