"""Staff pages for rewards: a tip's outcome (detectives, supervisors), the coordinators'
eligible tips and two-person decisions, the ledger and its CSV, and the payout desk.

Coordinators see a tip's facts and outcome only; the payout desk sees a code's validity,
amount and expiry only. Every action is a POST with a CSRF token that calls one service,
commits once and redirects (303); the payout check shows its answer on the POST.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, abort, current_app, flash, redirect, render_template, url_for
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response

from tipline import db
from tipline.rewards import ledger as ledgers
from tipline.rewards import payout
from tipline.rewards import services as rewards
from tipline.rewards.forms import (
    CorrectionForm,
    DecisionForm,
    EligibilityRequestForm,
    OutcomeForm,
    PayoutCodeForm,
    ProposalForm,
)
from tipline.rewards.models import OutcomeKind, RewardStatus
from tipline.rewards.services import NotAllowed, RewardRefused
from tipline.web import actions
from tipline.web.policy import signed_in_staff

bp = Blueprint("rewards", __name__, url_prefix="/staff")


def _rules() -> rewards.RewardRules:
    return rewards.RewardRules.from_config(current_app.config)


def _form_errors(form: FlaskForm) -> str:
    return actions.form_errors(form, "The form could not be read. Please try again.")


def _act(
    form: FlaskForm, action: Callable[[], str], back: str, again: Callable[[], str]
) -> Response | tuple[str, int]:
    return actions.submit(
        form,
        action,
        (RewardRefused, NotAllowed),
        back=back,
        again=again,
        unread="The form could not be read. Please try again.",
    )


# --- Outcome of a tip (detectives and supervisors) ----------------------------------------


@bp.get("/tips/<ref>/outcome")
def outcome(ref: str, form: OutcomeForm | None = None) -> str:
    session = db.session()
    tip = rewards.staff_tip(session, signed_in_staff(), ref)
    if tip is None:
        abort(404)
    return render_template(
        "rewards/outcome.html",
        tip=tip,
        outcomes=rewards.outcomes_for(session, tip),
        requests=rewards.requests_for(session, tip),
        form=form or OutcomeForm(),
    )


@bp.post("/tips/<ref>/outcome")
def record_outcome(ref: str) -> Response | tuple[str, int]:
    user = signed_in_staff()
    tip = rewards.staff_tip(db.session(), user, ref)
    if tip is None:
        abort(404)
    form = OutcomeForm()

    def run() -> str:
        kind = OutcomeKind(form.kind.data)
        rewards.record_outcome(db.session(), user, tip, kind, form.case_reference.data or "")
        return "Outcome recorded: the tip is now eligible for a Crime Stoppers reward."

    return _act(form, run, url_for("rewards.outcome", ref=ref), lambda: outcome(ref, form))


@bp.get("/outcome-requests")
def outcome_requests() -> str:
    user = signed_in_staff()
    return render_template(
        "rewards/requests.html", requests=rewards.open_requests(db.session(), user)
    )


# --- Coordinators ----------------------------------------------------------------------------


@bp.get("/rewards")
def index(request_form: EligibilityRequestForm | None = None) -> str:
    session = db.session()
    user = signed_in_staff()
    return render_template(
        "rewards/index.html",
        eligible=rewards.eligible_tips(session, user),
        proposed=rewards.rewards_in(session, RewardStatus.PROPOSED),
        approved=rewards.rewards_in(session, RewardStatus.APPROVED),
        requests=rewards.open_requests(session, user),
        request_form=request_form or EligibilityRequestForm(),
    )


@bp.post("/rewards/requests")
def request_eligibility() -> Response | tuple[str, int]:
    user = signed_in_staff()
    form = EligibilityRequestForm()

    def run() -> str:
        rewards.request_eligibility(
            db.session(), user, form.tip_reference.data or "", form.reason.data or ""
        )
        return "Request sent: detectives who may see the tip will be asked for its outcome."

    return _act(form, run, url_for("rewards.index"), lambda: index(form))


@bp.get("/rewards/tips/<ref>")
def tip(
    ref: str,
    proposal_form: ProposalForm | None = None,
    decided: tuple[int, DecisionForm] | None = None,
) -> str:
    """The tip's reward page; after a refused proposal or decision, with what was typed in
    the form it was typed in (``decided``: the reward and its form)."""
    session = db.session()
    user = signed_in_staff()
    found = rewards.eligible_tip(session, user, ref)
    if found is None:
        abort(404)
    session.commit()  # the view is audited
    rules = _rules()
    proposal_form = proposal_form or ProposalForm()
    proposal_form.amount.description = (
        f"A whole amount from {rules.min_amount:,} to {rules.max_amount:,} {rules.currency}."
    )
    return render_template(
        "rewards/tip.html",
        tip=found,
        me=user,
        proposal_form=proposal_form,
        decision_form=DecisionForm(formdata=None),
        decision_forms=dict([decided]) if decided else {},
    )


@bp.post("/rewards/tips/<ref>/propose")
def propose(ref: str) -> Response | tuple[str, int]:
    user = signed_in_staff()
    form = ProposalForm()

    def run() -> str:
        rewards.propose_reward(
            db.session(), user, ref, form.amount.data or 0, form.reason.data or "", _rules()
        )
        return "Reward proposed. A second coordinator must approve or decline it."

    return _act(form, run, url_for("rewards.tip", ref=ref), lambda: tip(ref, form))


def _decide(reward_id: int, approve: bool) -> Response | tuple[str, int]:
    user = signed_in_staff()
    session = db.session()
    form = DecisionForm()
    reward = rewards.get_reward(session, reward_id)
    if reward is None:
        abort(404)
    ref = reward.tip.public_ref
    back = url_for("rewards.tip", ref=ref)

    def run() -> str:
        if approve:
            rewards.approve_reward(session, user, reward_id, form.note.data or "", _rules())
            return "Reward approved. The tipster will see it, and a payout code, on /receipt."
        rewards.decline_reward(session, user, reward_id, form.note.data or "")
        return "Reward declined."

    return _act(form, run, back, lambda: tip(ref, decided=(reward_id, form)))


@bp.post("/rewards/<int:reward_id>/approve")
def approve(reward_id: int) -> Response | tuple[str, int]:
    return _decide(reward_id, approve=True)


@bp.post("/rewards/<int:reward_id>/decline")
def decline(reward_id: int) -> Response | tuple[str, int]:
    return _decide(reward_id, approve=False)


# --- The ledger ---------------------------------------------------------------------------


@bp.get("/rewards/ledger")
def ledger(correction_form: CorrectionForm | None = None) -> str:
    user = signed_in_staff()
    found = ledgers.ledger(db.session(), user, current_app.config["REWARD_CURRENCY"])
    return render_template(
        "rewards/ledger.html",
        ledger=found,
        paid=rewards.rewards_in(db.session(), RewardStatus.PAID),
        statuses=ledgers.LEDGER_STATUSES,
        me=user,
        correction_form=correction_form or CorrectionForm(),
    )


@bp.get("/rewards/ledger.csv")
def ledger_csv() -> tuple[str, dict[str, str]]:
    session = db.session()
    body = ledgers.ledger_csv(session, signed_in_staff())
    session.commit()  # the export is audited
    return body, {
        "Content-Type": "text/csv; charset=utf-8",
        "Content-Disposition": 'attachment; filename="reward-ledger.csv"',
    }


@bp.post("/rewards/corrections")
def correction() -> Response | tuple[str, int]:
    user = signed_in_staff()
    form = CorrectionForm()

    def run() -> str:
        ledgers.record_correction(
            db.session(),
            user,
            form.reward_id.data or 0,
            form.amount_delta.data or 0,
            form.reason.data or "",
        )
        return "Correction recorded in the ledger."

    return _act(form, run, url_for("rewards.ledger"), lambda: ledger(form))


# --- The payout desk -------------------------------------------------------------------------


def _desk_config() -> payout.DeskConfig:
    return payout.DeskConfig.from_config(current_app.config)


@bp.route("/payout", methods=["GET", "POST"])
def payout_check() -> tuple[str, int]:
    """Enter a code; see only whether it is valid, the amount and the expiry."""
    user = signed_in_staff()
    session = db.session()
    form = PayoutCodeForm()
    result = None
    if form.validate_on_submit():
        try:
            result = payout.check_code(session, user, _desk_config(), form.code.data or "")
        except payout.DeskLocked as error:
            session.commit()  # the refusal is audited
            form.code.errors = [str(error)]
        else:
            session.commit()  # the check (or the wrong code) is audited
            if not result.valid:
                form.code.errors = [
                    "This code is not valid: it may be mistyped, already paid or expired."
                ]
    status = 400 if form.errors else 200
    return render_template("rewards/payout.html", form=form, result=result, pay_form=form), status


@bp.post("/payout/pay")
def payout_pay() -> Response:
    """Record the payment of a checked code; it is used up."""
    user = signed_in_staff()
    session = db.session()
    form = PayoutCodeForm()
    if not form.validate_on_submit():
        flash(_form_errors(form), "error")
        return redirect(url_for("rewards.payout_check"), code=303)
    try:
        paid = payout.record_payout(session, user, _desk_config(), form.code.data or "")
    except payout.DeskLocked as error:
        session.commit()
        flash(str(error), "error")
        return redirect(url_for("rewards.payout_check"), code=303)
    session.commit()
    if paid.valid:
        flash(
            f"Paid {paid.amount:,} {paid.currency}. The code is now used up: it cannot be "
            "paid again.",
            "success",
        )
    else:
        flash(
            "Not paid: this code is not valid. It may be mistyped, already paid or expired.",
            "error",
        )
    return redirect(url_for("rewards.payout_check"), code=303)
