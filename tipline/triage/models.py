"""What detectives add to a tip: internal notes, tags, links between tips, and who follows a
notice. None of it is reachable from ``Tip`` (no relationship points here), so a public page
handed a tip cannot wander into notes."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tipline.auth.models import StaffUser
from tipline.db import Base, enum_column, utcnow
from tipline.notices.models import Notice
from tipline.tips.models import Tip


class TipNote(Base):
    """An internal note. Never shown to the tipster."""

    __tablename__ = "tip_note"

    id: Mapped[int] = mapped_column(primary_key=True)
    tip_id: Mapped[int] = mapped_column(ForeignKey("tip.id"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    author: Mapped[StaffUser] = relationship()


class TipTag(Base):
    __tablename__ = "tip_tag"

    tip_id: Mapped[int] = mapped_column(ForeignKey("tip.id"), primary_key=True)
    tag: Mapped[str] = mapped_column(String(40), primary_key=True, index=True)


class LinkKind(enum.StrEnum):
    DUPLICATE = "duplicate"
    RELATED = "related"


class TipLink(Base):
    """``tip`` is a duplicate of, or related to, ``other``. Stored once, read both ways."""

    __tablename__ = "tip_link"
    __table_args__ = (UniqueConstraint("tip_id", "other_id", name="uq_tip_link_pair"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tip_id: Mapped[int] = mapped_column(ForeignKey("tip.id"), index=True)
    other_id: Mapped[int] = mapped_column(ForeignKey("tip.id"), index=True)
    kind: Mapped[LinkKind] = mapped_column(enum_column(LinkKind))
    created_by_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    tip: Mapped[Tip] = relationship(foreign_keys=[tip_id])
    other: Mapped[Tip] = relationship(foreign_keys=[other_id])


class NoticeFollow(Base):
    """A detective asked to be e-mailed (a link only) when a tip arrives on a notice. Nothing
    is sent to the address until it is confirmed from the link mailed to it
    (``triage.follows``); an unconfirmed follow lapses at ``confirm_expires_at``."""

    __tablename__ = "notice_follow"
    __table_args__ = (
        UniqueConstraint("staff_id", "notice_id", name="uq_notice_follow_pair"),
        Index("ix_notice_follow_notice", "notice_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id"))
    notice_id: Mapped[int] = mapped_column(ForeignKey("notice.id"))
    email: Mapped[str] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    confirmed_at: Mapped[datetime | None]
    # SHA-256 of the confirmation link's token while one is outstanding (used once).
    confirm_token_hash: Mapped[bytes | None] = mapped_column(
        LargeBinary(32), index=True, unique=True
    )
    confirm_expires_at: Mapped[datetime | None]

    staff: Mapped[StaffUser] = relationship()
    notice: Mapped[Notice] = relationship()


# --- Escalations and reviewed closures ---------------------------------------------------------


class EscalationKind(enum.StrEnum):
    #: Nobody claimed the tip by its due time.
    UNCLAIMED = "unclaimed"
    #: Claimed, but nothing was done with it by its due time.
    UNTOUCHED = "untouched"
    #: A message from the tipster nobody opened by its due time (closed tips included).
    UNREAD = "unread"

    @property
    def label(self) -> str:
        return {
            "unclaimed": "Not claimed",
            "untouched": "Claimed, not worked",
            "unread": "Tipster's message unread",
        }[self.value]


class Escalation(Base):
    """A tip that breached its due time, brought to the supervisors. One row per breach: the
    unique constraint makes a second sweep (or a concurrent one) insert nothing."""

    __tablename__ = "escalation"
    __table_args__ = (
        UniqueConstraint("tip_id", "due_at", "kind", name="uq_escalation_breach"),
        Index("ix_escalation_open", "acknowledged_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    tip_id: Mapped[int] = mapped_column(ForeignKey("tip.id"), index=True)
    kind: Mapped[EscalationKind] = mapped_column(enum_column(EscalationKind))
    #: The due time that was breached.
    due_at: Mapped[datetime]
    #: Who held the tip when it breached (None when unclaimed).
    holder_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    acknowledged_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    acknowledged_at: Mapped[datetime | None]

    tip: Mapped[Tip] = relationship()
    holder: Mapped[StaffUser | None] = relationship(foreign_keys=[holder_id])
    acknowledged_by: Mapped[StaffUser | None] = relationship(foreign_keys=[acknowledged_by_id])


class ReviewKind(enum.StrEnum):
    #: A closure of a tip that was ever urgent, or the lowering of an urgent tip's priority:
    #: it takes effect only when a supervisor other than the proposer confirms.
    CONFIRMATION = "confirmation"
    #: A sampled closure, for a supervisor to look over after the fact.
    SAMPLE = "sample"


class ReviewState(enum.StrEnum):
    PENDING = "pending"
    CONFIRMED = "confirmed"
    REJECTED = "rejected"
    REVIEWED = "reviewed"
    REOPENED = "reopened"


class ClosureReview(Base):
    """A "no action" closure waiting for, or given, a supervisor's look."""

    __tablename__ = "closure_review"
    __table_args__ = (Index("ix_closure_review_state", "state", "kind", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tip_id: Mapped[int] = mapped_column(ForeignKey("tip.id"), index=True)
    kind: Mapped[ReviewKind] = mapped_column(enum_column(ReviewKind))
    state: Mapped[ReviewState] = mapped_column(
        enum_column(ReviewState),
        default=ReviewState.PENDING,
    )
    #: Who closed (or proposed closing) the tip, and why.
    closer_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id"))
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    decided_at: Mapped[datetime | None]
    decision_reason: Mapped[str] = mapped_column(Text, default="")
    #: What the held change is: a closing status (None before revision 0808 meant
    #: "no action"), or a lower priority; and for "duplicate", the original.
    target_status: Mapped[str | None] = mapped_column(String(20))
    target_priority: Mapped[str | None] = mapped_column(String(20))
    duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("tip.id"))

    tip: Mapped[Tip] = relationship(foreign_keys=[tip_id])
    closer: Mapped[StaffUser] = relationship(foreign_keys=[closer_id])
    decided_by: Mapped[StaffUser | None] = relationship(foreign_keys=[decided_by_id])
