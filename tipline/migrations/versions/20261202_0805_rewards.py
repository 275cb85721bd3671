"""Crime Stoppers rewards: tip outcomes, eligibility requests, rewards, corrections; the
maximum reward a notice states.

Revision ID: 0805
Revises: 0605
Create Date: 2026-12-02 04:39:53.889355
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0805"
down_revision: str | None = "0605"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "reward",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tip_id", sa.Integer(), nullable=False),
        sa.Column("notice_id", sa.Integer(), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "proposed",
                "approved",
                "declined",
                "paid",
                "expired",
                name="rewardstatus",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("amount", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("proposed_by_id", sa.Integer(), nullable=False),
        sa.Column("proposed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("code_hash", sa.LargeBinary(length=32), nullable=True),
        sa.Column("code_issued_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("paid_by_id", sa.Integer(), nullable=True),
        sa.Column("expired_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["decided_by_id"], ["staff_user.id"], name=op.f("fk_reward_decided_by_id_staff_user")
        ),
        sa.ForeignKeyConstraint(
            ["notice_id"], ["notice.id"], name=op.f("fk_reward_notice_id_notice")
        ),
        sa.ForeignKeyConstraint(
            ["paid_by_id"], ["staff_user.id"], name=op.f("fk_reward_paid_by_id_staff_user")
        ),
        sa.ForeignKeyConstraint(
            ["proposed_by_id"], ["staff_user.id"], name=op.f("fk_reward_proposed_by_id_staff_user")
        ),
        sa.ForeignKeyConstraint(["tip_id"], ["tip.id"], name=op.f("fk_reward_tip_id_tip")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reward")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_reward_code_hash")),
    )
    op.create_index(op.f("ix_reward_notice_id"), "reward", ["notice_id"], unique=False)
    op.create_index("ix_reward_status_expires", "reward", ["status", "expires_at"], unique=False)
    op.create_index(op.f("ix_reward_tip_id"), "reward", ["tip_id"], unique=False)
    op.create_table(
        "reward_eligibility_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tip_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("requested_by_id", sa.Integer(), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["requested_by_id"],
            ["staff_user.id"],
            name=op.f("fk_reward_eligibility_request_requested_by_id_staff_user"),
        ),
        sa.ForeignKeyConstraint(
            ["tip_id"], ["tip.id"], name=op.f("fk_reward_eligibility_request_tip_id_tip")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reward_eligibility_request")),
    )
    op.create_index(
        op.f("ix_reward_eligibility_request_tip_id"),
        "reward_eligibility_request",
        ["tip_id"],
        unique=False,
    )
    op.create_table(
        "tip_outcome",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tip_id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "arrest",
                "charge",
                "recovery",
                "location",
                name="outcomekind",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("case_reference", sa.String(length=64), nullable=False),
        sa.Column("recorded_by_id", sa.Integer(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["recorded_by_id"],
            ["staff_user.id"],
            name=op.f("fk_tip_outcome_recorded_by_id_staff_user"),
        ),
        sa.ForeignKeyConstraint(["tip_id"], ["tip.id"], name=op.f("fk_tip_outcome_tip_id_tip")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tip_outcome")),
    )
    op.create_index(op.f("ix_tip_outcome_tip_id"), "tip_outcome", ["tip_id"], unique=False)
    op.create_table(
        "reward_correction",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reward_id", sa.Integer(), nullable=False),
        sa.Column("amount_delta", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("recorded_by_id", sa.Integer(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["recorded_by_id"],
            ["staff_user.id"],
            name=op.f("fk_reward_correction_recorded_by_id_staff_user"),
        ),
        sa.ForeignKeyConstraint(
            ["reward_id"], ["reward.id"], name=op.f("fk_reward_correction_reward_id_reward")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reward_correction")),
    )
    op.create_index(
        op.f("ix_reward_correction_reward_id"), "reward_correction", ["reward_id"], unique=False
    )
    op.add_column("notice", sa.Column("max_reward", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("notice", schema=None) as batch_op:
        batch_op.drop_column("max_reward")
    op.drop_index(op.f("ix_reward_correction_reward_id"), table_name="reward_correction")
    op.drop_table("reward_correction")
    op.drop_index(op.f("ix_tip_outcome_tip_id"), table_name="tip_outcome")
    op.drop_table("tip_outcome")
    op.drop_index(
        op.f("ix_reward_eligibility_request_tip_id"), table_name="reward_eligibility_request"
    )
    op.drop_table("reward_eligibility_request")
    op.drop_index(op.f("ix_reward_tip_id"), table_name="reward")
    op.drop_index("ix_reward_status_expires", table_name="reward")
    op.drop_index(op.f("ix_reward_notice_id"), table_name="reward")
    op.drop_table("reward")
