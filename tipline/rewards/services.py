"""Outcomes that make a tip eligible, and the two-person reward decision.

Every function takes a session, the acting staff member and plain values, writes its audit
event in the same transaction, flushes and never commits. Refusals are ``RewardRefused`` (a
plain sentence) or ``NotAllowed`` (the role may not do this).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.orm import Session, selectinload

from tipline import audit
from tipline.audit import NotAllowed
from tipline.auth.models import TIP_READERS, Role, StaffUser
from tipline.db import utcnow
from tipline.rewards.models import (
    LIVE_STATUSES,
    EligibilityRequest,
    OutcomeKind,
    Reward,
    RewardStatus,
    TipOutcome,
)
from tipline.tips.models import SHORT_REF_LENGTH, Tip
from tipline.tips.receipts import normalise_ref
from tipline.triage import services as triage
from tipline.triage.access import tip_visibility_clause, tips_starting

#: Who proposes rewards and, as the second person, approves or declines them.
COORDINATORS = frozenset({Role.COORDINATOR})
#: Who records what a tip led to.
OUTCOME_RECORDERS = TIP_READERS
#: Who reads the ledger.
LEDGER_READERS = frozenset({Role.COORDINATOR, Role.SUPERVISOR})
#: Who records payments.
PAYOUT_DESK = frozenset({Role.PAYOUT_DESK})


class RewardRefused(ValueError):
    """The change is not allowed; the message says why in a plain sentence."""


class SelfApproval(RewardRefused):
    pass


def require_role(actor: StaffUser, roles: frozenset[Role]) -> None:
    if actor.role not in roles or not actor.active:
        raise NotAllowed("Your role does not allow this.")


@dataclass(frozen=True)
class RewardRules:
    """The programme's limits, from the REWARD_* settings."""

    min_amount: int = 100
    max_amount: int = 2500
    currency: str = "USD"
    show_amount: bool = True
    code_valid_days: int = 60

    @classmethod
    def from_config(cls, config: Any) -> RewardRules:
        return cls(
            min_amount=int(config["REWARD_MIN_AMOUNT"]),
            max_amount=int(config["REWARD_MAX_AMOUNT"]),
            currency=str(config["REWARD_CURRENCY"]),
            show_amount=bool(config["REWARD_SHOW_AMOUNT"]),
            code_valid_days=int(config["REWARD_CODE_VALID_DAYS"]),
        )


def _clean(text: str, limit: int = 2000) -> str:
    return " ".join((text or "").split())[:limit]


# --- Tips, as staff load them -------------------------------------------------------------


def staff_tip(session: Session, actor: StaffUser, public_ref: str) -> Tip | None:
    """A tip a detective or supervisor may see, for recording its outcome: the triage lookup
    (``triage.access.visible_tip``), the one place this domain loads a tip for a tip reader."""
    return triage.find_tip(session, actor, public_ref)


def _tip_by_ref(session: Session, public_ref: str) -> Tip | None:
    """A tip by reference for a coordinator, who never reads more than facts and outcome."""
    return session.scalar(select(Tip).where(Tip.public_ref == public_ref))


# --- Outcomes and eligibility ----------------------------------------------------------------


def record_outcome(
    session: Session, actor: StaffUser, tip: Tip, kind: OutcomeKind, case_reference: str
) -> TipOutcome:
    """Record that ``tip`` led to ``kind`` under ``case_reference``; the tip becomes eligible."""
    require_role(actor, OUTCOME_RECORDERS)
    reference = _clean(case_reference, 64)
    if not reference:
        raise RewardRefused("Give the case reference of the arrest, charge, recovery or location.")
    outcome = TipOutcome(
        tip_id=tip.id, kind=kind, case_reference=reference, recorded_by_id=actor.id
    )
    session.add(outcome)
    session.flush()
    audit.record(
        session,
        actor,
        "reward.outcome_recorded",
        "tip",
        tip.public_ref,
        kind=kind.value,
        case_reference=reference,
    )
    return outcome


def outcomes_for(session: Session, tip: Tip) -> list[TipOutcome]:
    return list(
        session.scalars(
            select(TipOutcome)
            .where(TipOutcome.tip_id == tip.id)
            .options(selectinload(TipOutcome.recorded_by))
            .order_by(TipOutcome.id)
        )
    )


def is_eligible(session: Session, tip: Tip) -> bool:
    return bool(session.scalar(select(exists().where(TipOutcome.tip_id == tip.id))))


def request_eligibility(
    session: Session, coordinator: StaffUser, public_ref: str, reason: str
) -> EligibilityRequest:
    """Ask detectives whether the tip ``public_ref`` led to an outcome. The reference may be
    typed as people read it (its first characters), like everywhere a reference is typed."""
    require_role(coordinator, COORDINATORS)
    found = tips_starting(session, public_ref)
    if len(found) > 1:
        raise RewardRefused(
            f"More than one tip starts with “{normalise_ref(public_ref)}”. "
            "Type more of the reference."
        )
    if not found:
        raise RewardRefused("There is no tip with that reference. Check it and try again.")
    tip = found[0]
    text = _clean(reason)
    if not text:
        raise RewardRefused("Say why you are asking, for example who reported the arrest.")
    request = EligibilityRequest(tip_id=tip.id, reason=text, requested_by_id=coordinator.id)
    session.add(request)
    session.flush()
    audit.record(
        session, coordinator, "reward.eligibility_requested", "tip", tip.public_ref, reason=text
    )
    return request


def open_requests(session: Session, viewer: StaffUser) -> list[EligibilityRequest]:
    """Eligibility requests on tips that have no outcome yet (for a detective: tips they may
    see; for a coordinator: all)."""
    query = (
        select(EligibilityRequest)
        .join(Tip, Tip.id == EligibilityRequest.tip_id)
        .where(~exists().where(TipOutcome.tip_id == EligibilityRequest.tip_id))
        .options(
            selectinload(EligibilityRequest.tip), selectinload(EligibilityRequest.requested_by)
        )
        .order_by(EligibilityRequest.requested_at)
    )
    if viewer.role in TIP_READERS:
        query = query.where(tip_visibility_clause(viewer))
    else:
        require_role(viewer, COORDINATORS)
    return list(session.scalars(query))


def requests_for(session: Session, tip: Tip) -> list[EligibilityRequest]:
    return list(
        session.scalars(
            select(EligibilityRequest)
            .where(EligibilityRequest.tip_id == tip.id)
            .order_by(EligibilityRequest.id)
        )
    )


# --- What a coordinator sees ---------------------------------------------------------------


@dataclass(frozen=True)
class EligibleTip:
    """The facts of a tip and its outcomes: never the tipster's contact details, photos or
    messages."""

    public_ref: str
    received_at: datetime
    notice_name: str | None
    seen_when: str
    seen_where: str
    narrative: str
    outcomes: list[TipOutcome]
    rewards: list[Reward]

    @property
    def short_ref(self) -> str:
        """The reference as people read it, the same length as ``Tip.short_ref``."""
        return self.public_ref[:SHORT_REF_LENGTH]


def eligible_tips(session: Session, coordinator: StaffUser) -> list[Tip]:
    """Tips with an outcome, newest outcome first."""
    require_role(coordinator, COORDINATORS | LEDGER_READERS)
    newest = (
        select(TipOutcome.tip_id, TipOutcome.recorded_at)
        .order_by(TipOutcome.recorded_at.desc(), TipOutcome.id.desc())
        .limit(500)
    )
    seen: list[int] = []
    for tip_id, _at in session.execute(newest):
        if tip_id not in seen:
            seen.append(tip_id)
    if not seen:
        return []
    tips = {
        t.id: t
        for t in session.scalars(
            select(Tip).where(Tip.id.in_(seen)).options(selectinload(Tip.notice))
        )
    }
    return [tips[i] for i in seen]


def eligible_tip(session: Session, coordinator: StaffUser, public_ref: str) -> EligibleTip | None:
    """An eligible tip's facts, outcomes and rewards for a coordinator (None if the tip does
    not exist or has no outcome). Reading it is audited."""
    require_role(coordinator, COORDINATORS)
    tip = _tip_by_ref(session, public_ref)
    if tip is None:
        return None
    outcomes = outcomes_for(session, tip)
    if not outcomes:
        return None
    audit.record(session, coordinator, "reward.tip_viewed", "tip", tip.public_ref)
    return EligibleTip(
        public_ref=tip.public_ref,
        received_at=tip.received_at,
        notice_name=tip.notice.subject_name if tip.notice else None,
        seen_when=tip.seen_when,
        seen_where=tip.seen_where,
        narrative=tip.narrative,
        outcomes=outcomes,
        rewards=rewards_for(session, tip.id),
    )


def rewards_for(session: Session, tip_id: int) -> list[Reward]:
    return list(
        session.scalars(
            select(Reward)
            .where(Reward.tip_id == tip_id)
            .options(selectinload(Reward.proposed_by), selectinload(Reward.decided_by))
            .order_by(Reward.id)
        )
    )


def get_reward(session: Session, reward_id: int) -> Reward | None:
    return session.get(Reward, reward_id)


def rewards_in(session: Session, status: RewardStatus) -> list[Reward]:
    return list(
        session.scalars(
            select(Reward)
            .where(Reward.status == status)
            .options(selectinload(Reward.tip), selectinload(Reward.proposed_by))
            .order_by(Reward.id)
        )
    )


# --- The two-person decision ---------------------------------------------------------------


def propose_reward(
    session: Session,
    coordinator: StaffUser,
    public_ref: str,
    amount: int,
    reason: str,
    rules: RewardRules,
) -> Reward:
    """Propose ``amount`` for an eligible tip, within the programme's limits, with a reason."""
    require_role(coordinator, COORDINATORS)
    tip = _tip_by_ref(session, public_ref)
    if tip is None or not is_eligible(session, tip):
        raise RewardRefused("Only a tip with a recorded outcome can have a reward.")
    if not rules.min_amount <= amount <= rules.max_amount:
        raise RewardRefused(
            f"The amount must be between {rules.min_amount:,} and {rules.max_amount:,} "
            f"{rules.currency}."
        )
    text = _clean(reason)
    if not text:
        raise RewardRefused("Give the reason for this amount.")
    live = session.scalar(
        select(Reward.id).where(Reward.tip_id == tip.id, Reward.status.in_(LIVE_STATUSES))
    )
    if live is not None:
        raise RewardRefused("This tip already has a reward that is proposed, approved or paid.")
    reward = Reward(
        tip_id=tip.id,
        notice_id=tip.notice_id,
        status=RewardStatus.PROPOSED,
        amount=amount,
        currency=rules.currency,
        reason=text,
        proposed_by_id=coordinator.id,
    )
    session.add(reward)
    session.flush()
    audit.record(
        session,
        coordinator,
        "reward.proposed",
        "reward",
        reward.id,
        tip=tip.public_ref,
        amount=amount,
        currency=rules.currency,
        reason=text,
    )
    return reward


def _decidable(session: Session, coordinator: StaffUser, reward_id: int) -> Reward:
    require_role(coordinator, COORDINATORS)
    reward = session.scalar(select(Reward).where(Reward.id == reward_id).with_for_update())
    if reward is None or reward.status is not RewardStatus.PROPOSED:
        raise RewardRefused("This reward is not waiting for a decision any more.")
    if reward.proposed_by_id == coordinator.id:
        raise SelfApproval("A second coordinator must decide: you proposed this reward.")
    return reward


def approve_reward(
    session: Session,
    coordinator: StaffUser,
    reward_id: int,
    note: str,
    rules: RewardRules,
    now: datetime | None = None,
) -> Reward:
    """Approve a reward another coordinator proposed; its payout code will be valid for
    ``rules.code_valid_days`` days from now."""
    reward = _decidable(session, coordinator, reward_id)
    now = now or utcnow()
    reward.status = RewardStatus.APPROVED
    reward.decided_by_id = coordinator.id
    reward.decided_at = now
    reward.decision_note = _clean(note)
    reward.expires_at = now + timedelta(days=rules.code_valid_days)
    session.flush()
    audit.record(
        session,
        coordinator,
        "reward.approved",
        "reward",
        reward.id,
        amount=reward.amount,
        currency=reward.currency,
        expires_at=reward.expires_at.isoformat(),
        note=reward.decision_note,
    )
    return reward


def decline_reward(session: Session, coordinator: StaffUser, reward_id: int, note: str) -> Reward:
    """Decline a reward another coordinator proposed, with the reason."""
    reward = _decidable(session, coordinator, reward_id)
    text = _clean(note)
    if not text:
        raise RewardRefused("Give the reason for declining.")
    reward.status = RewardStatus.DECLINED
    reward.decided_by_id = coordinator.id
    reward.decided_at = utcnow()
    reward.decision_note = text
    session.flush()
    audit.record(
        session,
        coordinator,
        "reward.declined",
        "reward",
        reward.id,
        amount=reward.amount,
        currency=reward.currency,
        note=text,
    )
    return reward
