"""The audit log: one row per action on a tip, a notice or an account, in a hash chain."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    ForeignKey,
    Index,
    LargeBinary,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    text,
)
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


@append_only
class AuditTreeNode(Base):
    """One complete subtree of the Merkle tree over the audit events (``tipline.audit.tree``).

    ``level`` 0 holds the leaf hash of the event with ``seq = index + 1``; level k, index i is
    the hash of leaves i * 2**k to (i + 1) * 2**k - 1. Written with the event, never changed.
    """

    __tablename__ = "audit_tree_node"
    __table_args__ = (
        Index(
            "ix_audit_tree_node_leaf_hash",
            "hash",
            sqlite_where=text("level = 0"),
            postgresql_where=text("level = 0"),
        ),
    )

    level: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    index: Mapped[int] = mapped_column("idx", BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))


@append_only
class AuditTreeHead(Base):
    """A signed tree head: the tree's size and root at ``signed_at``, as a signed note
    (``tipline.audit.heads``). Kept for the public history and `tipline audit verify`."""

    __tablename__ = "audit_tree_head"

    id: Mapped[int] = mapped_column(primary_key=True)
    tree_size: Mapped[int] = mapped_column(BigInteger, index=True)
    root_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    signed_at: Mapped[datetime] = mapped_column(default=utcnow)
    key_id: Mapped[str] = mapped_column(String(16))
    signature: Mapped[bytes] = mapped_column(LargeBinary(64))
    note: Mapped[str] = mapped_column(Text)


class AuditCosignature(Base):
    """A witness's co-signature of a signed tree head, checked against a configured key."""

    __tablename__ = "audit_cosignature"
    __table_args__ = (UniqueConstraint("head_id", "witness"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    head_id: Mapped[int] = mapped_column(ForeignKey("audit_tree_head.id"), index=True)
    witness: Mapped[str] = mapped_column(String(200))
    signed_time: Mapped[int] = mapped_column(BigInteger)
    line: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
