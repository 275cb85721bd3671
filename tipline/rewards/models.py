"""Crime Stoppers rewards: what a tip led to, the reward decided for it, and corrections.

The tip's id is the only link between a reward and a tipster. A payout code is stored only as
a keyed hash; whoever presents it is never recorded.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, LargeBinary, String, Text, event, inspect
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tipline.audit.guards import ProtectedRowError, append_only
from tipline.auth.models import StaffUser
from tipline.db import Base, enum_column, utcnow
from tipline.notices.models import Notice
from tipline.tips.models import Tip


class OutcomeKind(enum.StrEnum):
    ARREST = "arrest"
    CHARGE = "charge"
    RECOVERY = "recovery"
    LOCATION = "location"

    @property
    def label(self) -> str:
        return {
            "arrest": "Arrest",
            "charge": "Charge filed",
            "recovery": "Property or evidence recovered",
            "location": "Person located",
        }[self.value]


class TipOutcome(Base):
    """A detective's or supervisor's record that a tip led to something; it makes the tip
    eligible for a reward."""

    __tablename__ = "tip_outcome"

    id: Mapped[int] = mapped_column(primary_key=True)
    tip_id: Mapped[int] = mapped_column(ForeignKey("tip.id"), index=True)
    kind: Mapped[OutcomeKind] = mapped_column(enum_column(OutcomeKind))
    case_reference: Mapped[str] = mapped_column(String(64))
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id"))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)

    tip: Mapped[Tip] = relationship()
    recorded_by: Mapped[StaffUser] = relationship()


class EligibilityRequest(Base):
    """A coordinator's request that detectives say whether a tip led to an outcome."""

    __tablename__ = "reward_eligibility_request"

    id: Mapped[int] = mapped_column(primary_key=True)
    tip_id: Mapped[int] = mapped_column(ForeignKey("tip.id"), index=True)
    reason: Mapped[str] = mapped_column(Text)
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id"))
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)

    tip: Mapped[Tip] = relationship()
    requested_by: Mapped[StaffUser] = relationship()


class RewardStatus(enum.StrEnum):
    PROPOSED = "proposed"
    APPROVED = "approved"
    DECLINED = "declined"
    PAID = "paid"
    EXPIRED = "expired"

    @property
    def label(self) -> str:
        return self.value.capitalize()


#: A tip has at most one reward in these statuses (a declined one may be proposed again).
LIVE_STATUSES = (RewardStatus.PROPOSED, RewardStatus.APPROVED, RewardStatus.PAID)


class Reward(Base):
    """One reward decision for one tip: proposed, then approved or declined by a second
    coordinator; an approved reward is paid once with its payout code, or expires."""

    __tablename__ = "reward"
    __table_args__ = (Index("ix_reward_status_expires", "status", "expires_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tip_id: Mapped[int] = mapped_column(ForeignKey("tip.id"), index=True)
    notice_id: Mapped[int | None] = mapped_column(ForeignKey("notice.id"), index=True)
    status: Mapped[RewardStatus] = mapped_column(
        enum_column(RewardStatus),
        default=RewardStatus.PROPOSED,
    )
    # Whole units of ``currency`` (Crime Stoppers rewards are whole amounts).
    amount: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3))
    reason: Mapped[str] = mapped_column(Text)
    proposed_by_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id"))
    proposed_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    decided_at: Mapped[datetime | None]
    decision_note: Mapped[str] = mapped_column(Text, default="")
    # Approved rewards: the code must be used before this; unclaimed, the reward expires.
    expires_at: Mapped[datetime | None]
    # Keyed hash (HMAC-SHA256) of the payout code once shown to the tipster; never the code.
    code_hash: Mapped[bytes | None] = mapped_column(LargeBinary(32), unique=True)
    code_issued_at: Mapped[datetime | None]
    paid_at: Mapped[datetime | None]
    paid_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    expired_at: Mapped[datetime | None]

    tip: Mapped[Tip] = relationship()
    notice: Mapped[Notice | None] = relationship()
    proposed_by: Mapped[StaffUser] = relationship(foreign_keys=[proposed_by_id])
    decided_by: Mapped[StaffUser | None] = relationship(foreign_keys=[decided_by_id])
    paid_by: Mapped[StaffUser | None] = relationship(foreign_keys=[paid_by_id])


@event.listens_for(Reward, "before_update")
def _paid_rewards_never_change(_mapper: Any, _conn: Any, target: Reward) -> None:
    """A paid reward is final: corrections are new ``RewardCorrection`` entries."""
    before = inspect(target).attrs.status.history.deleted
    if RewardStatus.PAID in before or (not before and target.status is RewardStatus.PAID):
        raise ProtectedRowError("A paid reward never changes: record a correction instead.")


@append_only
class RewardCorrection(Base):
    """A correction to a paid reward's amount in the ledger: a new entry, never an edit."""

    __tablename__ = "reward_correction"

    id: Mapped[int] = mapped_column(primary_key=True)
    reward_id: Mapped[int] = mapped_column(ForeignKey("reward.id"), index=True)
    amount_delta: Mapped[int]
    reason: Mapped[str] = mapped_column(Text)
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id"))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)

    reward: Mapped[Reward] = relationship()
    recorded_by: Mapped[StaffUser] = relationship()
