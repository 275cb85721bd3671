"""Reviewed closures: any closure of a tip that was ever urgent, and the lowering of an urgent
tip's priority, wait for a supervisor's confirmation; a sample of other closures (any closing
status) lands on the supervisors' review list, and a supervisor can reopen a closed tip. Every
decision is audited; nobody confirms a change they proposed themselves, and a refused
confirmation is written down for the oversight page.

Functions take a session and plain values, write their audit event in the same transaction,
flush and never commit.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from tipline import audit
from tipline.audit.models import AuditEvent
from tipline.auth.models import StaffUser
from tipline.db import utcnow
from tipline.tips.models import Tip, TipPriority, TipStatus
from tipline.triage.access import NotAllowed, TransitionRefused, clean_reason, require_supervisor
from tipline.triage.intake import due_time
from tipline.triage.models import ClosureReview, ReviewKind, ReviewState


@dataclass(frozen=True)
class ReviewPolicy:
    """Which "no action" closures a supervisor looks over: ``sample_rate`` of them (0 to 1),
    chosen by a keyed hash of the tip's reference, so the choice is reproducible but cannot
    be predicted (and dodged) without the key."""

    sample_rate: float = 0.0
    key: bytes = b""

    @classmethod
    def from_config(cls, config: Mapping[str, object]) -> ReviewPolicy:
        secret = str(config.get("SECRET_KEY") or "").encode()
        key = hmac.new(secret, b"tipline no-action review sample", hashlib.sha256).digest()
        return cls(float(str(config.get("NO_ACTION_REVIEW_SAMPLE") or 0.0)), key)

    def sampled(self, public_ref: str) -> bool:
        if self.sample_rate <= 0:
            return False
        digest = hmac.new(self.key, public_ref.encode(), hashlib.sha256).digest()
        return int.from_bytes(digest[:8], "big") / 2**64 < self.sample_rate


def pending_confirmation(session: Session, tip: Tip) -> ClosureReview | None:
    return session.scalar(
        select(ClosureReview).where(
            ClosureReview.tip_id == tip.id,
            ClosureReview.kind == ReviewKind.CONFIRMATION,
            ClosureReview.state == ReviewState.PENDING,
        )
    )


def _await_confirmation(
    session: Session, actor: StaffUser, tip: Tip, **proposed: str | int | None
) -> ClosureReview:
    """The review that holds ``actor``'s proposed change to ``tip`` until another supervisor
    confirms it; refused while one is already waiting (one decision at a time per tip)."""
    if pending_confirmation(session, tip) is not None:
        raise TransitionRefused("This tip is already waiting for a supervisor to confirm.")
    review = ClosureReview(
        tip_id=tip.id, kind=ReviewKind.CONFIRMATION, closer_id=actor.id, **proposed
    )
    session.add(review)
    session.flush()
    return review


def propose_closure(
    session: Session,
    actor: StaffUser,
    tip: Tip,
    reason: str,
    target: TipStatus = TipStatus.NO_ACTION,
    duplicate_of: Tip | None = None,
) -> ClosureReview:
    """Hold the closure of a tip that was ever urgent: it stays open (and visible) until a
    supervisor other than ``actor`` confirms. Called by ``change_status``, which has checked
    the move."""
    review = _await_confirmation(
        session,
        actor,
        tip,
        reason=reason,
        target_status=target.value,
        duplicate_of_id=duplicate_of.id if duplicate_of is not None else None,
    )
    action = "tip.no_action_proposed" if target is TipStatus.NO_ACTION else "tip.closure_proposed"
    audit.record(
        session,
        actor,
        action,
        "tip",
        tip.public_ref,
        reason=reason,
        review_id=review.id,
        to=target.value,
    )
    return review


def propose_no_action(session: Session, actor: StaffUser, tip: Tip, reason: str) -> ClosureReview:
    return propose_closure(session, actor, tip, reason, TipStatus.NO_ACTION)


def propose_lower_priority(
    session: Session, actor: StaffUser, tip: Tip, priority: TipPriority
) -> ClosureReview:
    """Hold the lowering of an urgent tip's priority until another supervisor confirms: a
    lower priority moves its due time by days, which would let it sit unseen."""
    review = _await_confirmation(
        session,
        actor,
        tip,
        reason=f"Lower the priority from {tip.priority.label} to {priority.label}.",
        target_priority=priority.value,
    )
    audit.record(
        session,
        actor,
        "tip.priority_lowering_proposed",
        "tip",
        tip.public_ref,
        review_id=review.id,
        **{"from": tip.priority.value, "to": priority.value},
    )
    return review


def record_refusal(session: Session, actor: StaffUser, review_id: int, message: str) -> None:
    """Write down a refused confirmation (for example a supervisor confirming their own
    proposal) so it shows on the oversight page; the caller commits it on its own."""
    review = session.get(ClosureReview, review_id)
    if review is None:
        return
    audit.record(
        session,
        actor,
        "tip.closure_refused",
        "tip",
        review.tip.public_ref,
        review_id=review_id,
        why=message[:200],
    )


def recent_refusals(session: Session, supervisor: StaffUser, limit: int = 50) -> list[AuditEvent]:
    """Refused confirmations, newest first, for the oversight page."""
    require_supervisor(supervisor)
    return list(
        session.scalars(
            select(AuditEvent)
            .where(AuditEvent.action == "tip.closure_refused")
            .order_by(AuditEvent.seq.desc())
            .limit(limit)
        )
    )


def sample_closure(
    session: Session, actor: StaffUser, tip: Tip, reason: str, policy: ReviewPolicy | None
) -> ClosureReview | None:
    """Put a closure (any closing status) on the review list when the sample picks it."""
    if policy is None or not policy.sampled(tip.public_ref):
        return None
    review = ClosureReview(tip_id=tip.id, kind=ReviewKind.SAMPLE, closer_id=actor.id, reason=reason)
    session.add(review)
    session.flush()
    audit.record(session, actor, "tip.closure_sampled", "tip", tip.public_ref, review_id=review.id)
    return review


def mark_closed(tip: Tip, actor: StaffUser, now: datetime | None = None) -> None:
    if tip.closed_at is None:
        tip.closed_at = now or utcnow()
        tip.closed_by_id = actor.id


def _decide(
    session: Session, supervisor: StaffUser, review_id: int, kind: ReviewKind
) -> ClosureReview:
    require_supervisor(supervisor)
    review = session.get(ClosureReview, review_id)
    if review is None or review.kind is not kind:
        raise TransitionRefused("There is no such review.")
    if review.state is not ReviewState.PENDING:
        raise TransitionRefused("This review has already been decided.")
    return review


def confirm_held(
    session: Session,
    supervisor: StaffUser,
    review_id: int,
    due_minutes: Mapping[str, int] | None = None,
) -> Tip:
    """A supervisor other than the proposer confirms a held change: only now does the tip
    close (or its priority drop)."""
    review = _decide(session, supervisor, review_id, ReviewKind.CONFIRMATION)
    if review.closer_id == supervisor.id:
        raise NotAllowed("You proposed this change: another supervisor must confirm it.")
    tip = review.tip
    now = utcnow()
    if review.target_priority is not None:
        priority = TipPriority(review.target_priority)
        previous_priority = tip.priority
        review.state = ReviewState.CONFIRMED
        review.decided_by_id, review.decided_at = supervisor.id, now
        tip.priority, tip.priority_rank = priority, priority.rank
        tip.due_at = due_time(priority, tip.received_at, due_minutes)
        session.flush()
        audit.record(
            session,
            supervisor,
            "tip.priority_lowering_confirmed",
            "tip",
            tip.public_ref,
            review_id=review.id,
            proposer_id=review.closer_id,
            **{"from": previous_priority.value, "to": priority.value},
        )
        return tip
    if not tip.status.is_open:
        raise TransitionRefused("This tip is already closed.")
    target = TipStatus(review.target_status or TipStatus.NO_ACTION.value)
    previous = tip.status
    review.state = ReviewState.CONFIRMED
    review.decided_by_id, review.decided_at = supervisor.id, now
    if target is TipStatus.DUPLICATE:
        tip.duplicate_of_id = review.duplicate_of_id
    tip.status = target
    tip.status_reason = review.reason
    tip.closed_at, tip.closed_by_id = now, review.closer_id
    session.flush()
    action = "tip.no_action_confirmed" if target is TipStatus.NO_ACTION else "tip.closure_confirmed"
    audit.record(
        session,
        supervisor,
        action,
        "tip",
        tip.public_ref,
        review_id=review.id,
        closer_id=review.closer_id,
        **{"from": previous.value, "to": target.value},
    )
    return tip


def confirm_no_action(session: Session, supervisor: StaffUser, review_id: int) -> Tip:
    """The name the held "no action" closure had first; see ``confirm_held``."""
    return confirm_held(session, supervisor, review_id)


def reject_no_action(session: Session, supervisor: StaffUser, review_id: int, reason: str) -> Tip:
    """A supervisor refuses the proposed closure; the tip stays open with its holder."""
    review = _decide(session, supervisor, review_id, ReviewKind.CONFIRMATION)
    reason = clean_reason(reason)
    if not reason:
        raise TransitionRefused("Say why the tip must stay open.")
    review.state = ReviewState.REJECTED
    review.decided_by_id, review.decided_at = supervisor.id, utcnow()
    review.decision_reason = reason
    session.flush()
    audit.record(
        session,
        supervisor,
        "tip.no_action_rejected",
        "tip",
        review.tip.public_ref,
        review_id=review.id,
        reason=reason,
    )
    return review.tip


def mark_reviewed(session: Session, supervisor: StaffUser, review_id: int) -> ClosureReview:
    """A supervisor looked at a sampled closure and agrees with it."""
    review = _decide(session, supervisor, review_id, ReviewKind.SAMPLE)
    if review.closer_id == supervisor.id:
        raise NotAllowed("You closed this tip: another supervisor must review it.")
    review.state = ReviewState.REVIEWED
    review.decided_by_id, review.decided_at = supervisor.id, utcnow()
    session.flush()
    audit.record(
        session,
        supervisor,
        "tip.closure_reviewed",
        "tip",
        review.tip.public_ref,
        review_id=review.id,
    )
    return review


def reopen_tip(
    session: Session,
    supervisor: StaffUser,
    tip: Tip,
    reason: str,
    now: datetime | None = None,
    due_minutes: Mapping[str, int] | None = None,
    review_id: int | None = None,
) -> Tip:
    """A supervisor sends a closed tip back to the queue, unclaimed, with a fresh due time."""
    require_supervisor(supervisor)
    reason = clean_reason(reason)
    if not reason:
        raise TransitionRefused("Say why the tip is reopened.")
    if tip.status.is_open:
        raise TransitionRefused("This tip is not closed.")
    if tip.purged_at is not None:
        raise TransitionRefused("This tip's contents were removed by retention; it stays closed.")
    now = now or utcnow()
    if review_id is not None:
        review = _decide(session, supervisor, review_id, ReviewKind.SAMPLE)
        if review.tip_id != tip.id:
            raise TransitionRefused("There is no such review.")
        review.state = ReviewState.REOPENED
        review.decided_by_id, review.decided_at = supervisor.id, now
        review.decision_reason = reason
    previous = tip.status
    tip.status = TipStatus.NEW
    tip.status_reason = reason
    tip.claimed_by_id = None
    tip.claimed_at = None
    tip.closed_at = None
    tip.closed_by_id = None
    tip.due_at = due_time(tip.priority, now, due_minutes)
    session.flush()
    audit.record(
        session,
        supervisor,
        "tip.reopened",
        "tip",
        tip.public_ref,
        reason=reason,
        review_id=review_id,
        **{"from": previous.value, "to": TipStatus.NEW.value},
    )
    return tip


def pending_reviews(
    session: Session, supervisor: StaffUser, limit: int = 100
) -> list[ClosureReview]:
    """Urgent closures to confirm and sampled closures to look over, oldest first."""
    require_supervisor(supervisor)
    return list(
        session.scalars(
            select(ClosureReview)
            .where(ClosureReview.state == ReviewState.PENDING)
            .options(selectinload(ClosureReview.tip), selectinload(ClosureReview.closer))
            .order_by(ClosureReview.created_at, ClosureReview.id)
            .limit(limit)
        )
    )


def review_by_id(session: Session, review_id: int) -> ClosureReview | None:
    return session.get(ClosureReview, review_id)
