"""The tipster's way back: /receipt with the code, questions, answers and more photos.

The code is only ever POSTed, never put in a URL. A right code opens a short receipt
session (the cookie holds a random token, the database its keyed hash); "Leave" ends it.
"""

from __future__ import annotations

from flask import (
    Blueprint,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from werkzeug.wrappers import Response

from tipline import db, i18n
from tipline.audit import heads
from tipline.auth.forms import ButtonForm
from tipline.rewards import payout
from tipline.tips import dialog
from tipline.tips.attachments import PhotoRejected
from tipline.tips.forms import AnswerForm, ReceiptCodeForm, uploaded
from tipline.tips.models import Tip
from tipline.tips.receipts import receipt_key, receipt_secret
from tipline.web.public import photo_limits
from tipline.web.responses import ERROR_TEXT, keep_form_on_429

bp = Blueprint("receipt", __name__)
SESSION_KEY = "receipt"
WRONG_CODE = _l(
    "We could not find a tip with that code. Please check it and try again: "
    "it has 20 letters and numbers, in five groups of four."
)
#: The dialog service's refusal of an empty answer, in the tipster's language.
EMPTY_ANSWER = "Please write an answer or choose a photo to send."
_l("Please write an answer or choose a photo to send.")


@bp.after_request
def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


def _key() -> bytes:
    return receipt_key(receipt_secret(current_app.config))


def _current_tip() -> Tip | None:
    token = session.get(SESSION_KEY)
    tip = dialog.receipt_tip(db.session(), _key(), token)
    if tip is None and token:
        session.pop(SESSION_KEY, None)
        flash(gettext("Your receipt session ended. To continue, enter your code again."), "info")
    return tip


#: A phone tip's receipt page, instead of its questions and the answer form.
PHONE_DIALOG = (
    "This tip was given by phone. Questions about it are asked by phone; to add something, "
    "please call one of the numbers on the notice."
)
_l(PHONE_DIALOG)


def _tip_page(
    tip: Tip, form: AnswerForm, status: int = 200, rate_limited: bool = False
) -> Response:
    page = render_template(
        "public/receipt_tip.html",
        tip=tip,
        dialog_open=tip.dialog_open,
        phone_dialog=PHONE_DIALOG,
        messages=dialog.messages_for(db.session(), tip) if tip.dialog_open else [],
        form=form,
        max_photos=current_app.config["MAX_TIP_PHOTOS"],
        minutes=current_app.config["RECEIPT_SESSION_MINUTES"],
        rate_limited=rate_limited,
        log_proof=heads.inclusion_of(db.session(), "tip.received", "tip", tip.public_ref),
        **_reward_context(tip),
    )
    return make_response(page, status)


def _photos_sent() -> bool:
    return any(f.filename for f in request.files.getlist("photos"))


def _answer_again() -> Response:
    """The answer form as it was sent, for a POST the rate limit refused."""
    tip = dialog.receipt_tip(db.session(), _key(), session.get(SESSION_KEY))
    form = AnswerForm()
    if _photos_sent():
        form.photos.errors = [gettext("Your photo was not sent: please choose it again.")]
    if tip is None:
        return _lookup_keeping(form.body.data or "", 429)
    return _tip_page(tip, form, 429, rate_limited=True)


def _lookup_keeping(answer: str, status: int, rate_limited: bool = False) -> Response:
    """The code form, carrying the tipster's unsent answer so that nothing typed is lost."""
    form = ReceiptCodeForm(formdata=None, answer=answer)
    page = render_template(
        "public/receipt_lookup.html",
        form=form,
        wrong=False,
        rate_limited=rate_limited,
        refused_text=ERROR_TEXT[429][1],
    )
    return make_response(page, status)


def _lookup_again() -> Response:
    """The code form for a POST the rate limit refused. The code was not checked and is not
    written back; an unsent answer it carried stays in its box."""
    return _lookup_keeping(request.form.get("answer", ""), 429, rate_limited=True)


def _reward_context(tip: Tip) -> dict[str, object]:
    """What the receipt page says about a reward for this tip (nothing if there is none)."""
    config = current_app.config
    instructions = config["REWARD_PAYOUT_INSTRUCTIONS"]
    return {
        "reward": payout.reward_for_tipster(db.session(), tip),
        "show_reward_amount": bool(config["REWARD_SHOW_AMOUNT"]),
        "payout_instructions": instructions.get(i18n.current_locale())
        or instructions.get("en", ""),
    }


@bp.route("/receipt", methods=["GET", "POST"])
def lookup() -> Response:
    form = ReceiptCodeForm()
    wrong = False
    if form.validate_on_submit():
        opened = dialog.open_receipt(
            db.session(),
            _key(),
            form.code.data,
            int(current_app.config["RECEIPT_SESSION_MINUTES"]),
        )
        if opened is not None:
            db.session().commit()
            session[SESSION_KEY] = opened[0]
            if (form.answer.data or "").strip():
                # An answer typed before the receipt session ended: back in its box, unsent.
                kept = AnswerForm(formdata=None, body=form.answer.data)
                return _tip_page(opened[1], kept)
            return redirect(url_for("receipt.lookup"), code=303)
        wrong = True
        form.code.errors = [WRONG_CODE]
        form.code.data = ""  # a wrong code is not echoed back into the page
    else:
        tip = _current_tip()
        if tip is not None and not form.errors:
            return _tip_page(tip, AnswerForm())
    page = render_template("public/receipt_lookup.html", form=form, wrong=wrong)
    return make_response(page, 400 if form.errors else 200)


@bp.post("/receipt/answer")
def answer() -> Response:
    had_session = bool(session.get(SESSION_KEY))
    tip = _current_tip()
    if tip is None:
        typed = request.form.get("body", "")
        if not had_session or not typed.strip():  # never opened, or left with "Leave"
            return redirect(url_for("receipt.lookup"), code=303)
        # The receipt session ended while they typed: keep the answer with the code form.
        if _photos_sent():
            flash(gettext("Your photo was not sent: please choose it again."), "info")
        return _lookup_keeping(typed, 200)
    if not tip.dialog_open:
        flash(gettext(PHONE_DIALOG), "info")
        return redirect(url_for("receipt.lookup"), code=303)
    form = AnswerForm()
    if form.validate_on_submit():
        try:
            dialog.answer(
                db.session(),
                tip,
                form.body.data or "",
                photos=uploaded(form.photos.data),
                data_key=current_app.config["DATA_KEY"],
                photo_limits=photo_limits(current_app),
            )
        except PhotoRejected as error:
            db.session().rollback()
            form.photos.errors = [str(error), gettext("Please choose the photos again.")]
        except ValueError as error:
            db.session().rollback()
            form.body.errors = [gettext(str(error))]
        else:
            db.session().commit()
            if tip.status.is_open:
                thanks = gettext("Thank you. The detective will see what you sent.")
            else:
                thanks = gettext(
                    "Thank you. This tip is closed, so a supervisor will read what you sent "
                    "and decide whether to reopen it."
                )
            flash(thanks, "success")
            return redirect(url_for("receipt.lookup"), code=303)
    if _photos_sent() and not form.photos.errors:
        form.photos.errors = [gettext("Your photo was not sent: please choose it again.")]
    return _tip_page(tip, form, 400)


@bp.post("/receipt/leave")
def leave() -> Response:
    if ButtonForm().validate_on_submit():
        dialog.leave_receipt(db.session(), _key(), session.get(SESSION_KEY))
        db.session().commit()
        session.clear()
        flash(gettext("You have left. To come back, enter your receipt code again."), "info")
    return redirect(url_for("receipt.lookup"), code=303)


keep_form_on_429("receipt.answer", _answer_again)
keep_form_on_429("receipt.lookup", _lookup_again)


@bp.post("/receipt/payout-code")
def payout_code() -> Response:
    """Show a new payout code for the tip's approved reward, once: only its hash is kept."""
    tip = _current_tip()
    if tip is None or not ButtonForm().validate_on_submit():
        return redirect(url_for("receipt.lookup"), code=303)
    issued = payout.issue_payout_code(
        db.session(), tip, payout.payout_key(current_app.config["SECRET_KEY"])
    )
    if issued is None:
        db.session().rollback()
        flash(gettext("There is no reward to collect for this tip now."), "info")
        return redirect(url_for("receipt.lookup"), code=303)
    db.session().commit()
    code, expires_at = issued
    page = render_template(
        "public/receipt_payout_code.html",
        code=code,
        expires_at=expires_at,
        **_reward_context(tip),
    )
    return make_response(page, 200)
