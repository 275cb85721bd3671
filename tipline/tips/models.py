"""Tips from the public (or typed in by a call-taker on a caller's behalf)."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Enum, ForeignKey, Index, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tipline.audit.guards import undeletable
from tipline.auth.models import StaffUser
from tipline.db import Base, utcnow
from tipline.notices.models import Notice


class TipStatus(enum.StrEnum):
    NEW = "new"
    IN_REVIEW = "in_review"
    CLOSED = "closed"

    @property
    def public_label(self) -> str:
        """What the tipster sees on the receipt page."""
        return {"new": "Received", "in_review": "Being worked", "closed": "Closed"}[self.value]


@undeletable  # no route, command or service deletes a tip; retention empties it
class Tip(Base):
    __tablename__ = "tip"
    __table_args__ = (Index("ix_tip_queue", "status", "there_now", "received_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # Unguessable reference used in staff URLs; never derived from the id.
    public_ref: Mapped[str] = mapped_column(String(32), unique=True)
    # Keyed hash (HMAC-SHA256) of the receipt code; the code itself is never stored.
    receipt_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    notice_id: Mapped[int | None] = mapped_column(ForeignKey("notice.id"), index=True)
    seen_when: Mapped[str] = mapped_column(String(200), default="")
    seen_where: Mapped[str] = mapped_column(Text, default="")
    narrative: Mapped[str] = mapped_column(Text)
    there_now: Mapped[bool] = mapped_column(default=False)
    status: Mapped[TipStatus] = mapped_column(
        Enum(
            TipStatus, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e]
        ),
        default=TipStatus.NEW,
    )
    # Set when a call-taker typed the tip in for a caller.
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    notice: Mapped[Notice | None] = relationship()
    operator: Mapped[StaffUser | None] = relationship()

    def __repr__(self) -> str:
        return f"<Tip {self.public_ref} {self.status}>"
