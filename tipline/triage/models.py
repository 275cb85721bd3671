"""What detectives add to a tip: internal notes, tags, links between tips, and who follows a
notice. None of it is reachable from ``Tip`` (no relationship points here), so a public page
handed a tip cannot wander into notes."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Enum, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tipline.auth.models import StaffUser
from tipline.db import Base, utcnow
from tipline.notices.models import Notice
from tipline.tips.models import Tip


def _values(e: type[enum.Enum]) -> list[str]:
    return [m.value for m in e]


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
    kind: Mapped[LinkKind] = mapped_column(
        Enum(LinkKind, native_enum=False, length=20, values_callable=_values)
    )
    created_by_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    tip: Mapped[Tip] = relationship(foreign_keys=[tip_id])
    other: Mapped[Tip] = relationship(foreign_keys=[other_id])


class NoticeFollow(Base):
    """A detective asked to be e-mailed (a link only) when a tip arrives on a notice."""

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

    staff: Mapped[StaffUser] = relationship()
    notice: Mapped[Notice] = relationship()
