"""The audit log: one row per action on a tip, a notice or an account, in a hash chain."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tipline.audit.guards import append_only
from tipline.db import Base, utcnow


@append_only
class AuditEvent(Base):
    """An append-only row. ``seq`` numbers the chain 1, 2, 3, ... with no gaps; ``row_hash`` is
    the keyed hash of this row's fields and ``prev_hash`` (see ``tipline.audit.chain``)."""

    __tablename__ = "audit_event"
    __table_args__ = (Index("ix_audit_event_object", "object_type", "object_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, unique=True)
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Staff actor when there is one; otherwise actor_label says who ("public", "system").
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    actor_label: Mapped[str] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(64))
    object_type: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[str] = mapped_column(String(64))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    row_hash: Mapped[str] = mapped_column(String(64))

    def __repr__(self) -> str:
        return f"<AuditEvent #{self.seq} {self.action} {self.object_type}:{self.object_id}>"


class AuditVerification(Base):
    """The result of one run of `tipline audit verify`, for the supervisor page.

    Deliberately outside the chain: it reports on the chain and may be pruned."""

    __tablename__ = "audit_verification"

    id: Mapped[int] = mapped_column(primary_key=True)
    checked_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    ok: Mapped[bool]
    events_checked: Mapped[int]
    checkpoints_checked: Mapped[int]
    tips_counted: Mapped[int]
    received_events_counted: Mapped[int]
    first_bad_id: Mapped[int | None]
    first_bad_seq: Mapped[int | None] = mapped_column(BigInteger)
    problem: Mapped[str] = mapped_column(Text, default="")
    #: Ed25519 signature (base64) over the result, by the checkpoint signing key, which the
    #: database never holds: a row the application role inserts cannot carry a valid one.
    signature: Mapped[str | None] = mapped_column(Text)
