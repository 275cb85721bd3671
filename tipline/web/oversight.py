"""Supervisors' pages under /staff/: the audit log and its last verification, and the
oversight page: escalations to acknowledge, held closures and priority drops of urgent tips to
confirm or reject, sampled closures to review or reopen, refused confirmations, and the
per-staff figures."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from flask import Blueprint, current_app, render_template, url_for
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response

from tipline import db
from tipline.audit import services as audit
from tipline.auth.forms import ButtonForm
from tipline.auth.services import ACCESS_ALERT
from tipline.triage import closures, escalation, figures, unread
from tipline.triage.access import NotAllowed
from tipline.triage.forms import ReasonForm
from tipline.web import actions
from tipline.web.policy import signed_in_staff

bp = Blueprint("oversight", __name__, url_prefix="/staff")

#: How far back the oversight page lists administrators' access changes.
ACCESS_ALERT_DAYS = 30


@bp.get("/audit")
def audit_log() -> str:
    return render_template(
        "staff/audit.html", overview=audit.overview(db.session(), signed_in_staff())
    )


def _reason_form(kind: str, review_id: int) -> ReasonForm:
    # One form per review on the page: the prefix keeps each field's id unique.
    return ReasonForm(prefix=f"{kind}-{review_id}")


@bp.get("/oversight")
def oversight(kept: tuple[str, int, ReasonForm] | None = None) -> str:
    """The oversight page; after a refused reason, with it still typed in its form (``kept``:
    which form, for which review), or shown apart if that review is no longer pending."""
    session = db.session()
    me = signed_in_staff()
    now = db.utcnow()
    reviews = closures.pending_reviews(session, me)
    forms = {
        kind: {r.id: _reason_form(kind, r.id) for r in reviews} for kind in ("reject", "reopen")
    }
    # The page shows a reject form under each confirmation, a reopen form under each sample.
    shown = {
        "reject": {r.id for r in reviews if r.kind.value == "confirmation"},
        "reopen": {r.id for r in reviews if r.kind.value == "sample"},
    }
    unsent = None
    if kept is not None:
        kind, review_id, form = kept
        if review_id in shown[kind]:
            forms[kind][review_id] = form
        else:
            unsent = form.reason.data
    return render_template(
        "staff/oversight.html",
        escalations=escalation.open_escalations(session, me),
        access_alerts=audit.recent(
            session, me, ACCESS_ALERT, now - timedelta(days=ACCESS_ALERT_DAYS)
        ),
        closed_messages=unread.closed_with_unread(session, me),
        confirmations=[r for r in reviews if r.kind.value == "confirmation"],
        samples=[r for r in reviews if r.kind.value == "sample"],
        refusals=closures.recent_refusals(session, me),
        figures=figures.staff_figures(session, me, now),
        button=ButtonForm(),
        reject_forms=forms["reject"],
        reopen_forms=forms["reopen"],
        unsent=unsent,
        outlier_factor=figures.OUTLIER_FACTOR,
        min_claims=figures.MIN_CLAIMS,
        min_claim_delay_gap=figures.MIN_CLAIM_DELAY_GAP,
    )


def _act(
    form: FlaskForm,
    action: Callable[[], str],
    review_id: int | None = None,
    kept: tuple[str, int, ReasonForm] | None = None,
) -> Response | tuple[str, int]:
    """Run one oversight decision. A refused decision on a review is written down on its own
    (and shows on the page); a reason that did not validate or was refused comes back on the
    page (``kept``) with what was typed."""

    def write_down(error: Exception) -> None:
        if review_id is not None and isinstance(error, NotAllowed):
            closures.record_refusal(db.session(), signed_in_staff(), review_id, str(error))
            db.session().commit()

    return actions.submit(
        form,
        action,
        (ValueError, NotAllowed),
        back=url_for("oversight.oversight"),
        again=None if kept is None else lambda: oversight(kept),
        on_refusal=write_down,
    )


@bp.post("/oversight/escalations/<int:escalation_id>/acknowledge")
def acknowledge(escalation_id: int) -> Response | tuple[str, int]:
    def run() -> str:
        escalation.acknowledge(db.session(), signed_in_staff(), escalation_id, db.utcnow())
        return "Escalation acknowledged."

    return _act(ButtonForm(), run)


@bp.post("/oversight/reviews/<int:review_id>/confirm")
def confirm(review_id: int) -> Response | tuple[str, int]:
    def run() -> str:
        due = current_app.config["TRIAGE_DUE_MINUTES"]
        tip = closures.confirm_held(db.session(), signed_in_staff(), review_id, due)
        if tip.status.is_open:
            return f"Tip {tip.short_ref} is now {tip.priority.label} priority."
        return f"Tip {tip.short_ref} closed as “{tip.status.label}”."

    return _act(ButtonForm(), run, review_id)


@bp.post("/oversight/reviews/<int:review_id>/reject")
def reject(review_id: int) -> Response | tuple[str, int]:
    form = _reason_form("reject", review_id)

    def run() -> str:
        closures.reject_no_action(db.session(), signed_in_staff(), review_id, form.reason.data)
        return "The tip stays open."

    return _act(form, run, kept=("reject", review_id, form))


@bp.post("/oversight/reviews/<int:review_id>/reviewed")
def reviewed(review_id: int) -> Response | tuple[str, int]:
    def run() -> str:
        closures.mark_reviewed(db.session(), signed_in_staff(), review_id)
        return "Closure marked as reviewed."

    return _act(ButtonForm(), run, review_id)


@bp.post("/oversight/reviews/<int:review_id>/reopen")
def reopen(review_id: int) -> Response | tuple[str, int]:
    form = _reason_form("reopen", review_id)

    def run() -> str:
        session = db.session()
        review = closures.review_by_id(session, review_id)
        if review is None:
            raise ValueError("There is no such review.")
        closures.reopen_tip(
            session,
            signed_in_staff(),
            review.tip,
            form.reason.data,
            due_minutes=current_app.config["TRIAGE_DUE_MINUTES"],
            review_id=review_id,
        )
        return f"Tip {review.tip.short_ref} is back in the queue."

    return _act(form, run, kept=("reopen", review_id, form))
