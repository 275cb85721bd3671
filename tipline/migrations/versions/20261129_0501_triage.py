"""triage: priority, claims, outcomes, notes, tags, links, follows, full-text

Revision ID: 0501
Revises: 0401
Create Date: 2026-11-29 07:32:18.693836
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from tipline.migrations.frozen import fulltext_v1, protect_v1

revision: str = "0501"
down_revision: str | None = "0401"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "notice_follow",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("notice_id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["notice_id"], ["notice.id"], name=op.f("fk_notice_follow_notice_id_notice")
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["staff_user.id"], name=op.f("fk_notice_follow_staff_id_staff_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notice_follow")),
        sa.UniqueConstraint("staff_id", "notice_id", name="uq_notice_follow_pair"),
    )
    with op.batch_alter_table("notice_follow", schema=None) as batch_op:
        batch_op.create_index("ix_notice_follow_notice", ["notice_id"], unique=False)

    op.create_table(
        "tip_link",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tip_id", sa.Integer(), nullable=False),
        sa.Column("other_id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("duplicate", "related", name="linkkind", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("created_by_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["staff_user.id"], name=op.f("fk_tip_link_created_by_id_staff_user")
        ),
        sa.ForeignKeyConstraint(["other_id"], ["tip.id"], name=op.f("fk_tip_link_other_id_tip")),
        sa.ForeignKeyConstraint(["tip_id"], ["tip.id"], name=op.f("fk_tip_link_tip_id_tip")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tip_link")),
        sa.UniqueConstraint("tip_id", "other_id", name="uq_tip_link_pair"),
    )
    with op.batch_alter_table("tip_link", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_tip_link_other_id"), ["other_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_tip_link_tip_id"), ["tip_id"], unique=False)

    op.create_table(
        "tip_note",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tip_id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"], ["staff_user.id"], name=op.f("fk_tip_note_author_id_staff_user")
        ),
        sa.ForeignKeyConstraint(["tip_id"], ["tip.id"], name=op.f("fk_tip_note_tip_id_tip")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tip_note")),
    )
    with op.batch_alter_table("tip_note", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_tip_note_tip_id"), ["tip_id"], unique=False)

    op.create_table(
        "tip_tag",
        sa.Column("tip_id", sa.Integer(), nullable=False),
        sa.Column("tag", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(["tip_id"], ["tip.id"], name=op.f("fk_tip_tag_tip_id_tip")),
        sa.PrimaryKeyConstraint("tip_id", "tag", name=op.f("pk_tip_tag")),
    )
    with op.batch_alter_table("tip_tag", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_tip_tag_tag"), ["tag"], unique=False)

    with op.batch_alter_table("tip", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "priority",
                sa.Enum(
                    "urgent",
                    "high",
                    "normal",
                    "low",
                    name="tippriority",
                    native_enum=False,
                    length=20,
                ),
                nullable=False,
                server_default="normal",
            )
        )
        batch_op.add_column(
            sa.Column("priority_rank", sa.Integer(), nullable=False, server_default="2")
        )
        batch_op.add_column(
            sa.Column(
                "due_at",
                sa.DateTime(timezone=True),
                nullable=False,
                server_default=sa.func.current_timestamp(),
            )
        )
        batch_op.add_column(sa.Column("claimed_by_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("status_reason", sa.Text(), nullable=False, server_default="")
        )
        batch_op.add_column(sa.Column("duplicate_of_id", sa.Integer(), nullable=True))
        batch_op.create_index(
            "ix_tip_triage_claimed",
            ["claimed_by_id", "priority_rank", "due_at", "id"],
            unique=False,
        )
        batch_op.create_index("ix_tip_triage_due", ["due_at", "id"], unique=False)
        batch_op.create_index(
            "ix_tip_triage_notice", ["notice_id", "priority_rank", "due_at", "id"], unique=False
        )
        batch_op.create_index(
            "ix_tip_triage_notice_status",
            ["notice_id", "status", "priority_rank", "due_at", "id"],
            unique=False,
        )
        batch_op.create_index(
            "ix_tip_triage_order", ["priority_rank", "due_at", "id"], unique=False
        )
        batch_op.create_index(
            "ix_tip_triage_status", ["status", "priority_rank", "due_at", "id"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_tip_duplicate_of_id_tip"), "tip", ["duplicate_of_id"], ["id"]
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_tip_claimed_by_id_staff_user"), "staff_user", ["claimed_by_id"], ["id"]
        )

    # Tips received before triage existed: "there now" is urgent, the rest normal; due at once.
    op.execute("UPDATE tip SET due_at = received_at")
    op.execute("UPDATE tip SET priority = 'urgent', priority_rank = 0 WHERE there_now")
    # Full text last: on SQLite a batch "move and copy" of tip would drop the triggers.
    fulltext_v1.create(op, ("narrative", "seen_where"))
    # The batch rebuild of tip on SQLite also dropped the audit protection triggers (revision 0601).
    protect_v1.create(op.execute, op.get_bind().dialect.name)


def downgrade() -> None:
    fulltext_v1.drop(op)
    with op.batch_alter_table("tip", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_tip_claimed_by_id_staff_user"), type_="foreignkey")
        batch_op.drop_constraint(batch_op.f("fk_tip_duplicate_of_id_tip"), type_="foreignkey")
        batch_op.drop_index("ix_tip_triage_status")
        batch_op.drop_index("ix_tip_triage_order")
        batch_op.drop_index("ix_tip_triage_notice_status")
        batch_op.drop_index("ix_tip_triage_notice")
        batch_op.drop_index("ix_tip_triage_due")
        batch_op.drop_index("ix_tip_triage_claimed")
        batch_op.drop_column("duplicate_of_id")
        batch_op.drop_column("status_reason")
        batch_op.drop_column("claimed_at")
        batch_op.drop_column("claimed_by_id")
        batch_op.drop_column("due_at")
        batch_op.drop_column("priority_rank")
        batch_op.drop_column("priority")

    with op.batch_alter_table("tip_tag", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tip_tag_tag"))

    op.drop_table("tip_tag")
    with op.batch_alter_table("tip_note", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tip_note_tip_id"))

    op.drop_table("tip_note")
    with op.batch_alter_table("tip_link", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tip_link_tip_id"))
        batch_op.drop_index(batch_op.f("ix_tip_link_other_id"))

    op.drop_table("tip_link")
    with op.batch_alter_table("notice_follow", schema=None) as batch_op:
        batch_op.drop_index("ix_notice_follow_notice")

    op.drop_table("notice_follow")
    protect_v1.create(op.execute, op.get_bind().dialect.name)
