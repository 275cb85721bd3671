"""The ledger: rewards by month and by notice with totals, its CSV export, corrections to
paid rewards (new entries, never edits), and the cross-check `tipline audit verify` runs
between reward rows and their audit events."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from tipline import audit
from tipline.audit import verify
from tipline.audit.models import AuditEvent
from tipline.auth.models import StaffUser
from tipline.rewards.models import Reward, RewardCorrection, RewardStatus
from tipline.rewards.services import (
    COORDINATORS,
    LEDGER_READERS,
    RewardRefused,
    require_role,
)

#: The statuses the ledger reports, in column order, and the date each is counted under.
LEDGER_STATUSES = (
    RewardStatus.APPROVED,
    RewardStatus.PAID,
    RewardStatus.DECLINED,
    RewardStatus.EXPIRED,
)


def _counted_at(reward: Reward) -> datetime | None:
    return {
        RewardStatus.APPROVED: reward.decided_at,
        RewardStatus.DECLINED: reward.decided_at,
        RewardStatus.PAID: reward.paid_at,
        RewardStatus.EXPIRED: reward.expired_at,
    }.get(reward.status)


@dataclass
class Line:
    """Counts and amounts per status for one month or one notice."""

    label: str
    count: dict[RewardStatus, int] = field(default_factory=lambda: defaultdict(int))
    amount: dict[RewardStatus, int] = field(default_factory=lambda: defaultdict(int))

    def add(self, status: RewardStatus, amount: int) -> None:
        self.count[status] += 1
        self.amount[status] += amount


@dataclass
class Ledger:
    by_month: list[Line]
    by_notice: list[Line]
    total: Line
    corrections: list[RewardCorrection]
    corrections_total: int
    currency: str


def _rewards(session: Session) -> list[Reward]:
    return list(
        session.scalars(
            select(Reward)
            .where(Reward.status.in_(LEDGER_STATUSES))
            .options(selectinload(Reward.notice), selectinload(Reward.tip))
            .order_by(Reward.id)
        )
    )


def ledger(session: Session, viewer: StaffUser, currency: str) -> Ledger:
    """Approved (not yet paid), paid, declined and expired rewards by month of the decision,
    payment or expiry, and by notice, with totals; corrections listed and totalled."""
    require_role(viewer, LEDGER_READERS)
    months: dict[str, Line] = {}
    notices: dict[str, Line] = {}
    total = Line("Total")
    for reward in _rewards(session):
        at = _counted_at(reward)
        month = at.strftime("%Y-%m") if at else "unknown"
        notice = reward.notice.subject_name if reward.notice else "No notice"
        for lines, label in ((months, month), (notices, notice)):
            lines.setdefault(label, Line(label)).add(reward.status, reward.amount)
        total.add(reward.status, reward.amount)
    corrections = list(
        session.scalars(
            select(RewardCorrection)
            .options(selectinload(RewardCorrection.recorded_by))
            .order_by(RewardCorrection.id)
        )
    )
    return Ledger(
        by_month=[months[k] for k in sorted(months)],
        by_notice=[notices[k] for k in sorted(notices)],
        total=total,
        corrections=corrections,
        corrections_total=sum(c.amount_delta for c in corrections),
        currency=currency,
    )


CSV_COLUMNS = (
    "reward_id",
    "tip_reference",
    "notice",
    "status",
    "amount",
    "currency",
    "proposed_at",
    "decided_at",
    "paid_at",
    "expired_at",
    "expires_at",
    "corrections",
)


def ledger_csv(session: Session, viewer: StaffUser) -> str:
    """One row per reward in the ledger, for the programme's board and auditors (audited)."""
    require_role(viewer, LEDGER_READERS)
    deltas: dict[int, int] = defaultdict(int)
    for correction in session.scalars(select(RewardCorrection)):
        deltas[correction.reward_id] += correction.amount_delta
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    rows = 0

    def when(value: datetime | None) -> str:
        return value.isoformat() if value else ""

    for reward in _rewards(session):
        notice = reward.notice.subject_name if reward.notice else ""
        writer.writerow(
            [
                reward.id,
                reward.tip.public_ref,
                # A spreadsheet must not run a notice name as a formula.
                ("'" + notice) if notice[:1] in ("=", "+", "-", "@") else notice,
                reward.status.value,
                reward.amount,
                reward.currency,
                when(reward.proposed_at),
                when(reward.decided_at),
                when(reward.paid_at),
                when(reward.expired_at),
                when(reward.expires_at),
                deltas.get(reward.id, 0),
            ]
        )
        rows += 1
    audit.record(session, viewer, "reward.ledger_exported", "reward_ledger", "csv", rows=rows)
    return out.getvalue()


def record_correction(
    session: Session, coordinator: StaffUser, reward_id: int, amount_delta: int, reason: str
) -> RewardCorrection:
    """Correct a paid reward's amount in the ledger with a new entry; the reward row itself
    never changes after payment."""
    require_role(coordinator, COORDINATORS)
    reward = session.get(Reward, reward_id)
    if reward is None or reward.status is not RewardStatus.PAID:
        raise RewardRefused("Only a paid reward can be corrected; change others by decision.")
    if amount_delta == 0:
        raise RewardRefused("A correction changes the amount: give a non-zero difference.")
    text = " ".join(reason.split())[:2000]
    if not text:
        raise RewardRefused("Give the reason for the correction.")
    correction = RewardCorrection(
        reward_id=reward.id,
        amount_delta=amount_delta,
        reason=text,
        recorded_by_id=coordinator.id,
    )
    session.add(correction)
    session.flush()
    audit.record(
        session,
        coordinator,
        "reward.corrected",
        "reward",
        reward.id,
        correction=correction.id,
        amount_delta=amount_delta,
        reason=text,
    )
    return correction


# --- The audit cross-check ------------------------------------------------------------------

#: The reward events that carry the amount and the status they leave the reward in.
_STATUS_OF_EVENT = {
    "reward.proposed": RewardStatus.PROPOSED,
    "reward.approved": RewardStatus.APPROVED,
    "reward.declined": RewardStatus.DECLINED,
    "reward.paid": RewardStatus.PAID,
    "reward.expired": RewardStatus.EXPIRED,
}


def rewards_agree_with_audit(session: Session, report: verify.Report) -> None:
    """The ``tipline audit verify`` invariant (registered from ``tipline.hooks``)."""
    if report.problem is None:
        found = check_against_audit(session)
        if found is not None:
            report.problem = verify.Finding(f"rewards: {found}")


def check_against_audit(session: Session) -> str | None:
    """The first reward row that disagrees with its audit events (amount, currency or
    status of its latest decision event), as a sentence; None when all agree. The chain
    proves the events unchanged, so a row edited in the database is caught here."""
    latest: dict[str, AuditEvent] = {}
    events = session.scalars(
        select(AuditEvent)
        .where(AuditEvent.object_type == "reward", AuditEvent.action.in_(_STATUS_OF_EVENT))
        .order_by(AuditEvent.seq)
    )
    for found in events:
        latest[found.object_id] = found
    rows = session.execute(
        select(Reward.id, Reward.status, Reward.amount, Reward.currency).order_by(Reward.id)
    )
    for row in rows:
        event: AuditEvent | None = latest.pop(str(row.id), None)
        if event is None:
            return f"reward {row.id} has no audit event: it was not made by the application."
        expected = _STATUS_OF_EVENT[event.action]
        if row.status is not expected:
            return (
                f"reward {row.id} is {row.status.value} but its audit trail ends in "
                f"{event.action} (sequence {event.seq}): the row was edited."
            )
        details = event.details or {}
        if details.get("amount") != row.amount or details.get("currency") != row.currency:
            return (
                f"reward {row.id} says {row.amount} {row.currency} but its {event.action} "
                f"event (sequence {event.seq}) says {details.get('amount')} "
                f"{details.get('currency')}: the row was edited."
            )
    if latest:
        missing = sorted(latest, key=int)[0]
        return f"reward {missing} is in the audit log but its row is missing: it was deleted."
    return None
