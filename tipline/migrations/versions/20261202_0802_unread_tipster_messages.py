"""unread tipster messages, dropped calls' tips, staff text kept across a timeout

A tipster's answer or photo is unread until a detective or supervisor who may see the tip
opens it. Each message records when and by whom it was read; the tip carries the oldest
unread message's time and due time, under partial indexes that hold only tips with
something unread (the "New messages" view, its count, and the escalation sweep).

A call-taker's tip from a call that dropped is kept and marked ``tip.call_dropped``.

Plain ADD COLUMN on ``tip`` (no table rebuild on SQLite), so its triggers stay.

Revision ID: 0802
Revises: 0805
Create Date: 2026-12-02 05:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0802"
down_revision: str | None = "0807"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNREAD = sa.text("unread_since IS NOT NULL")


def upgrade() -> None:
    # Text a staff member was sending when their session timed out, sealed, short-lived.
    op.create_table(
        "staff_draft",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["staff_user.id"], name="fk_staff_draft_user_id_staff_user"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_staff_draft"),
    )
    op.create_index("ix_staff_draft_user_id", "staff_draft", ["user_id"], unique=False)
    # A call-taker's tip kept from a call that dropped before it was finished.
    op.add_column(
        "tip",
        sa.Column("call_dropped", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.add_column("tip", sa.Column("unread_since", sa.DateTime(timezone=True), nullable=True))
    op.add_column("tip", sa.Column("unread_due_at", sa.DateTime(timezone=True), nullable=True))
    # tip_message has no triggers, so SQLite may rebuild it to add the reference.
    with op.batch_alter_table("tip_message") as batch_op:
        batch_op.add_column(sa.Column("read_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("read_by_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            "fk_tip_message_read_by_id_staff_user", "staff_user", ["read_by_id"], ["id"]
        )
    op.create_index(
        "ix_tip_unread",
        "tip",
        ["priority_rank", "due_at", "id", "claimed_by_id"],
        unique=False,
        sqlite_where=UNREAD,
        postgresql_where=UNREAD,
    )
    op.create_index(
        "ix_tip_unread_due",
        "tip",
        ["unread_due_at", "id"],
        unique=False,
        sqlite_where=UNREAD,
        postgresql_where=UNREAD,
    )


def downgrade() -> None:
    op.drop_index("ix_tip_unread_due", table_name="tip")
    op.drop_index("ix_tip_unread", table_name="tip")
    # tip_message has no triggers, so SQLite may rebuild it to drop the referencing column.
    with op.batch_alter_table("tip_message") as batch_op:
        batch_op.drop_constraint("fk_tip_message_read_by_id_staff_user", type_="foreignkey")
        batch_op.drop_column("read_by_id")
        batch_op.drop_column("read_at")
    op.drop_column("tip", "unread_due_at")
    op.drop_column("tip", "unread_since")
    op.drop_column("tip", "call_dropped")
    op.drop_index("ix_staff_draft_user_id", table_name="staff_draft")
    op.drop_table("staff_draft")
