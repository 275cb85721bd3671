"""chained audit log, verification results, append-only triggers

Adds the hash chain to audit_event (seq, prev_hash, row_hash), chaining any rows already there
with the application's audit key; the audit_verification table; and triggers that refuse
UPDATE/DELETE (and on PostgreSQL TRUNCATE) of audit rows, and DELETE/TRUNCATE of tips.

Revision ID: 0601
Revises: 0001
Create Date: 2026-11-29 07:33:57.323939
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from tipline.migrations.frozen import audit_hash_v1, protect_v1

revision: str = "0601"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_verification",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("events_checked", sa.Integer(), nullable=False),
        sa.Column("checkpoints_checked", sa.Integer(), nullable=False),
        sa.Column("tips_counted", sa.Integer(), nullable=False),
        sa.Column("received_events_counted", sa.Integer(), nullable=False),
        sa.Column("first_bad_id", sa.Integer(), nullable=True),
        sa.Column("first_bad_seq", sa.BigInteger(), nullable=True),
        sa.Column("problem", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_verification")),
    )
    with op.batch_alter_table("audit_verification", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_audit_verification_checked_at"), ["checked_at"], unique=False
        )

    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.add_column(sa.Column("seq", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("prev_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("row_hash", sa.String(length=64), nullable=True))
    _chain_existing_rows()
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.alter_column("seq", existing_type=sa.BigInteger(), nullable=False)
        batch_op.alter_column("prev_hash", existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column("row_hash", existing_type=sa.String(length=64), nullable=False)
        batch_op.create_unique_constraint(batch_op.f("uq_audit_event_seq"), ["seq"])

    # After the batch operations above: rebuilding a SQLite table drops its triggers.
    protect_v1.create(op.execute, op.get_bind().dialect.name)


def _chain_existing_rows() -> None:
    """Number and hash rows written before the chain existed, oldest (lowest id) first."""
    audit = sa.table(
        "audit_event",
        sa.column("id", sa.Integer()),
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
    bind = op.get_bind()
    rows = bind.execute(sa.select(audit).order_by(audit.c.id)).all()
    if not rows:
        return
    config = op.get_context().config
    key = config.attributes.get("audit_key") if config else None
    if key is None:
        raise RuntimeError(
            "audit_event has rows to chain: run this upgrade through `tipline db upgrade` so "
            "it uses the application's audit key."
        )
    prev = audit_hash_v1.GENESIS
    for seq, row in enumerate(rows, start=1):
        details = audit_hash_v1.normalise_details(row.details or {})
        fields = {
            "seq": seq,
            "occurred_at": row.occurred_at,
            "actor_id": row.actor_id,
            "actor_label": row.actor_label,
            "action": row.action,
            "object_type": row.object_type,
            "object_id": row.object_id,
            "details": details,
        }
        digest = audit_hash_v1.row_hash_v1(key, fields, prev)
        bind.execute(
            sa.update(audit)
            .where(audit.c.id == row.id)
            .values(seq=seq, prev_hash=prev, row_hash=digest, details=details)
        )
        prev = digest


def downgrade() -> None:
    protect_v1.drop(op.execute, op.get_bind().dialect.name)

    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_audit_event_seq"), type_="unique")
        batch_op.drop_column("row_hash")
        batch_op.drop_column("prev_hash")
        batch_op.drop_column("seq")

    with op.batch_alter_table("audit_verification", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_verification_checked_at"))

    op.drop_table("audit_verification")
