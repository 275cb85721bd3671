"""Claiming tips exactly once, releasing them and reassigning them. Each function writes its
audit event in the same transaction, flushes and never commits."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from tipline import audit
from tipline.auth.models import StaffUser
from tipline.db import utcnow
from tipline.tips.models import OPEN_STATUSES, Tip, TipStatus
from tipline.triage import access
from tipline.triage.access import AlreadyClaimed, TipNotFound, TransitionRefused

_QUEUE_ORDER = (Tip.priority_rank, Tip.due_at, Tip.id)


def claim_next_tip(session: Session, detective: StaffUser) -> Tip | None:
    """Claim the most urgent, earliest-due unclaimed tip for ``detective``; None if none left.

    Exactly once under concurrency. PostgreSQL: ``FOR UPDATE SKIP LOCKED`` lets concurrent
    claimers pass each other's locked rows. SQLite, where SQLAlchemy drops SKIP LOCKED: one
    ``UPDATE ... WHERE claimed_by_id IS NULL ... RETURNING`` statement; SQLite runs one writer
    at a time, so the guard sees every earlier claim. On SQLite call this at the start of a
    transaction (a read snapshot taken earlier cannot be upgraded to a write once another
    claim has committed).
    """
    access.require_reader(detective)
    now = utcnow()
    unclaimed = (
        Tip.status == TipStatus.NEW,
        Tip.claimed_by_id.is_(None),
        access.tip_visibility_clause(detective),
    )
    values = {
        "claimed_by_id": detective.id,
        "claimed_at": now,
        "status": TipStatus.IN_REVIEW,
        "updated_at": now,
    }
    if session.get_bind().dialect.name == "postgresql":
        tip_id = session.scalar(
            select(Tip.id)
            .where(*unclaimed)
            .order_by(*_QUEUE_ORDER)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        if tip_id is None:
            return None
        session.execute(
            update(Tip).where(Tip.id == tip_id).values(**values),
            execution_options={"synchronize_session": False},
        )
    else:
        pick = select(Tip.id).where(*unclaimed).order_by(*_QUEUE_ORDER).limit(1)
        tip_id = session.scalar(
            update(Tip)
            .where(Tip.id == pick.scalar_subquery(), *unclaimed)
            .values(**values)
            .returning(Tip.id),
            execution_options={"synchronize_session": False},
        )
        if tip_id is None:
            return None
    tip = session.get(Tip, tip_id, populate_existing=True)
    assert tip is not None
    audit.record(session, detective, "tip.claimed", "tip", tip.public_ref, next_tip=True)
    return tip


def claim_tip(session: Session, detective: StaffUser, tip: Tip) -> Tip:
    """Claim this tip (from its page). Refused when someone already holds it; TipNotFound
    when ``detective`` may not see it (never "already claimed", which would tell it exists)."""
    access.require_reader(detective)
    if not access.can_see_tip(session, detective, tip):
        raise TipNotFound("There is no tip with that reference.")
    if not tip.status.is_open:
        raise TransitionRefused("This tip is closed and cannot be claimed.")
    now = utcnow()
    new_status = TipStatus.IN_REVIEW if tip.status is TipStatus.NEW else tip.status
    claimed = session.scalar(
        update(Tip)
        .where(
            Tip.id == tip.id,
            Tip.claimed_by_id.is_(None),
            Tip.status.in_(OPEN_STATUSES),
            access.tip_visibility_clause(detective),
        )
        .values(claimed_by_id=detective.id, claimed_at=now, status=new_status, updated_at=now)
        .returning(Tip.id),
        execution_options={"synchronize_session": False},
    )
    session.refresh(tip)
    if claimed is None:
        raise AlreadyClaimed("Someone else has already claimed this tip.")
    audit.record(session, detective, "tip.claimed", "tip", tip.public_ref)
    return tip


def release_tip(session: Session, actor: StaffUser, tip: Tip, reason: str) -> None:
    """Give a claimed tip back to the queue, saying why. A new tip's review restarts."""
    access.require_holder(actor, tip)
    reason = access.clean_reason(reason)
    if not reason:
        raise TransitionRefused("Say why you are releasing this tip.")
    if tip.claimed_by_id is None:
        raise TransitionRefused("This tip is not claimed.")
    if not tip.status.is_open:
        raise TransitionRefused("This tip is closed; reopening it is a supervisor's review.")
    previous = tip.claimed_by_id
    tip.claimed_by_id = None
    tip.claimed_at = None
    if tip.status is TipStatus.IN_REVIEW:
        tip.status = TipStatus.NEW
    session.flush()
    audit.record(
        session, actor, "tip.released", "tip", tip.public_ref, reason=reason, from_id=previous
    )


def reassign_tip(
    session: Session, supervisor: StaffUser, tip: Tip, to: StaffUser, reason: str
) -> None:
    """A supervisor hands a tip to another detective (or supervisor), saying why. Refused
    when the new holder may not see the tip (another unit's), so it cannot sit in limbo."""
    access.require_supervisor(supervisor)
    if to.role not in access.TIP_READERS or not to.active:
        raise TransitionRefused("A tip can only be given to an active detective or supervisor.")
    if not access.can_see_tip(session, to, tip):
        raise TransitionRefused(
            f"{to.username} cannot see this tip: it is on a notice of another unit. "
            "Choose someone in the notice's unit, a detective without a unit or a supervisor."
        )
    reason = access.clean_reason(reason)
    if not reason:
        raise TransitionRefused("Say why you are reassigning this tip.")
    if not tip.status.is_open:
        raise TransitionRefused("This tip is closed and cannot be reassigned.")
    previous = tip.claimed_by_id
    tip.claimed_by_id = to.id
    tip.claimed_at = utcnow()
    if tip.status is TipStatus.NEW:
        tip.status = TipStatus.IN_REVIEW
    session.flush()
    audit.record(
        session,
        supervisor,
        "tip.reassigned",
        "tip",
        tip.public_ref,
        reason=reason,
        from_id=previous,
        to_id=to.id,
    )
