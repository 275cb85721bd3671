"""escalations, reviewed closures, retention

The escalation and closure_review tables; tip.closed_at, closed_by_id and purged_at.
Tips closed before this revision get closed_at = updated_at, so retention can age them. On
SQLite the batch rebuild of ``tip`` drops its triggers: the full-text index and the
protection triggers are made again at the end.

Revision ID: 0602
Revises: 0501
Create Date: 2026-11-29 08:47:18.632972
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from tipline.migrations.frozen import fulltext_v1, protect_v1

#: The searched columns at this revision.
SEARCH_COLUMNS = ("narrative", "seen_where")

revision: str = "0602"
down_revision: str | None = "0501"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "closure_review",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tip_id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("confirmation", "sample", name="reviewkind", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column(
            "state",
            sa.Enum(
                "pending",
                "confirmed",
                "rejected",
                "reviewed",
                "reopened",
                name="reviewstate",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("closer_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["closer_id"], ["staff_user.id"], name=op.f("fk_closure_review_closer_id_staff_user")
        ),
        sa.ForeignKeyConstraint(
            ["decided_by_id"],
            ["staff_user.id"],
            name=op.f("fk_closure_review_decided_by_id_staff_user"),
        ),
        sa.ForeignKeyConstraint(["tip_id"], ["tip.id"], name=op.f("fk_closure_review_tip_id_tip")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_closure_review")),
    )
    with op.batch_alter_table("closure_review", schema=None) as batch_op:
        batch_op.create_index(
            "ix_closure_review_state", ["state", "kind", "created_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_closure_review_tip_id"), ["tip_id"], unique=False)

    op.create_table(
        "escalation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tip_id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("unclaimed", "untouched", name="escalationkind", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("holder_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_by_id", sa.Integer(), nullable=True),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["acknowledged_by_id"],
            ["staff_user.id"],
            name=op.f("fk_escalation_acknowledged_by_id_staff_user"),
        ),
        sa.ForeignKeyConstraint(
            ["holder_id"], ["staff_user.id"], name=op.f("fk_escalation_holder_id_staff_user")
        ),
        sa.ForeignKeyConstraint(["tip_id"], ["tip.id"], name=op.f("fk_escalation_tip_id_tip")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_escalation")),
        sa.UniqueConstraint("tip_id", "due_at", "kind", name="uq_escalation_breach"),
    )
    with op.batch_alter_table("escalation", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_escalation_holder_id"), ["holder_id"], unique=False)
        batch_op.create_index("ix_escalation_open", ["acknowledged_at", "created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_escalation_tip_id"), ["tip_id"], unique=False)

    fulltext_v1.drop(op)
    with op.batch_alter_table("tip", schema=None) as batch_op:
        batch_op.add_column(sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("closed_by_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("purged_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f("ix_tip_closed_by_id"), ["closed_by_id"], unique=False)
        batch_op.create_index("ix_tip_retention", ["purged_at", "closed_at"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_tip_closed_by_id_staff_user"), "staff_user", ["closed_by_id"], ["id"]
        )

    op.execute(
        "UPDATE tip SET closed_at = updated_at "
        "WHERE status IN ('no_action', 'duplicate', 'closed') AND closed_at IS NULL"
    )
    fulltext_v1.create(op, SEARCH_COLUMNS)
    protect_v1.create(op.execute, op.get_bind().dialect.name)


def downgrade() -> None:
    fulltext_v1.drop(op)
    with op.batch_alter_table("tip", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_tip_closed_by_id_staff_user"), type_="foreignkey")
        batch_op.drop_index("ix_tip_retention")
        batch_op.drop_index(batch_op.f("ix_tip_closed_by_id"))
        batch_op.drop_column("purged_at")
        batch_op.drop_column("closed_by_id")
        batch_op.drop_column("closed_at")

    with op.batch_alter_table("escalation", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_escalation_tip_id"))
        batch_op.drop_index("ix_escalation_open")
        batch_op.drop_index(batch_op.f("ix_escalation_holder_id"))

    op.drop_table("escalation")
    with op.batch_alter_table("closure_review", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_closure_review_tip_id"))
        batch_op.drop_index("ix_closure_review_state")

    op.drop_table("closure_review")
    fulltext_v1.create(op, SEARCH_COLUMNS)
    protect_v1.create(op.execute, op.get_bind().dialect.name)
