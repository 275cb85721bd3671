"""audit transparency log: Merkle tree nodes, signed tree heads, witness co-signatures

Adds audit_tree_node (the complete subtrees of the RFC 9162 tree over the audit events, level
0 being one leaf hash per event), audit_tree_head (signed tree heads) and audit_cosignature
(witnesses' co-signatures of them); triggers refuse UPDATE and DELETE of nodes and heads.
Existing events become the tree's first leaves. The leaf encoding is frozen here as it was
when this revision was written (version 1 of ``tipline.audit.tree.leaf_data``).

Revision ID: 0806
Revises: 0802
Create Date: 2026-12-02 05:00:00
"""

import hashlib
import json
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0806"
down_revision: str | None = "0802"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPEND_ONLY = ("audit_tree_node", "audit_tree_head")
MESSAGE = "the application never changes or removes these rows"


def upgrade() -> None:
    op.create_table(
        "audit_tree_node",
        sa.Column("level", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("idx", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("hash", sa.LargeBinary(length=32), nullable=False),
        sa.PrimaryKeyConstraint("level", "idx", name=op.f("pk_audit_tree_node")),
    )
    op.create_index(
        "ix_audit_tree_node_leaf_hash",
        "audit_tree_node",
        ["hash"],
        unique=False,
        sqlite_where=sa.text("level = 0"),
        postgresql_where=sa.text("level = 0"),
    )
    op.create_table(
        "audit_tree_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tree_size", sa.BigInteger(), nullable=False),
        sa.Column("root_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("signature", sa.LargeBinary(length=64), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_tree_head")),
    )
    op.create_index(
        op.f("ix_audit_tree_head_tree_size"), "audit_tree_head", ["tree_size"], unique=False
    )
    op.create_table(
        "audit_cosignature",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("head_id", sa.Integer(), nullable=False),
        sa.Column("witness", sa.String(length=200), nullable=False),
        sa.Column("signed_time", sa.BigInteger(), nullable=False),
        sa.Column("line", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["head_id"],
            ["audit_tree_head.id"],
            name=op.f("fk_audit_cosignature_head_id_audit_tree_head"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_cosignature")),
        sa.UniqueConstraint("head_id", "witness", name=op.f("uq_audit_cosignature_head_id")),
    )
    op.create_index(
        op.f("ix_audit_cosignature_head_id"), "audit_cosignature", ["head_id"], unique=False
    )
    _backfill()
    _create_triggers(op.get_bind().dialect.name)


def _create_triggers(dialect: str) -> None:
    for table in APPEND_ONLY:
        if dialect == "postgresql":
            # tipline_refuse_change() is revision 0601's.
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION tipline_refuse_change()"
            )
            op.execute(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION tipline_refuse_change()"
            )
        else:
            for verb in ("update", "delete"):
                name = f"{table}_no_{verb}"
                op.execute(
                    f"CREATE TRIGGER IF NOT EXISTS {name} BEFORE {verb.upper()} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, '{name}: {MESSAGE}'); END"
                )


def _canonical_json(value: object) -> bytes:
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def _leaf_hash(row: sa.Row) -> bytes:
    moment = row.occurred_at
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    data = _canonical_json(
        {
            "leaf": 1,
            "seq": row.seq,
            "occurred_at": moment.astimezone(UTC).isoformat(timespec="microseconds"),
            "actor_id": row.actor_id,
            "actor_label": row.actor_label,
            "action": row.action,
            "object_type": row.object_type,
            "object_id": row.object_id,
            "details": row.details,
            "prev_hash": row.prev_hash,
            "row_hash": row.row_hash,
        }
    )
    return hashlib.sha256(b"\x00" + data).digest()


def _backfill() -> None:
    """Every existing event becomes a leaf, in sequence order, with its complete subtrees."""
    audit = sa.table(
        "audit_event",
        sa.column("seq", sa.BigInteger()),
        sa.column("occurred_at", sa.DateTime(timezone=True)),
        sa.column("actor_id", sa.Integer()),
        sa.column("actor_label", sa.String()),
        sa.column("action", sa.String()),
        sa.column("object_type", sa.String()),
        sa.column("object_id", sa.String()),
        sa.column("details", sa.JSON()),
        sa.column("prev_hash", sa.String()),
        sa.column("row_hash", sa.String()),
    )
    nodes = sa.table(
        "audit_tree_node",
        sa.column("level", sa.SmallInteger()),
        sa.column("idx", sa.BigInteger()),
        sa.column("hash", sa.LargeBinary()),
    )
    bind = op.get_bind()
    current = [_leaf_hash(row) for row in bind.execute(sa.select(audit).order_by(audit.c.seq))]
    level = 0
    while current:
        for start in range(0, len(current), 5000):
            bind.execute(
                nodes.insert(),
                [
                    {"level": level, "idx": i, "hash": h}
                    for i, h in enumerate(current[start : start + 5000], start=start)
                ],
            )
        current = [
            hashlib.sha256(b"\x01" + current[i] + current[i + 1]).digest()
            for i in range(0, len(current) - 1, 2)
        ]
        level += 1


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for table in APPEND_ONLY:
        if dialect == "postgresql":
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
        else:
            for verb in ("update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{verb}")
    op.drop_index(op.f("ix_audit_cosignature_head_id"), table_name="audit_cosignature")
    op.drop_table("audit_cosignature")
    op.drop_index(op.f("ix_audit_tree_head_tree_size"), table_name="audit_tree_head")
    op.drop_table("audit_tree_head")
    op.drop_index("ix_audit_tree_node_leaf_hash", table_name="audit_tree_node")
    op.drop_table("audit_tree_node")
