"""initial schema: notices, tips, staff, audit

Revision ID: 0001
Revises:
Create Date: 2026-11-29 07:21:38.408650
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "notice",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=120), nullable=False),
        sa.Column("subject_name", sa.String(length=200), nullable=False),
        sa.Column("aliases", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("caution", sa.Text(), nullable=False),
        sa.Column("reward_text", sa.Text(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "draft", "published", "resolved", name="noticestatus", native_enum=False, length=20
            ),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notice")),
        sa.UniqueConstraint("slug", name=op.f("uq_notice_slug")),
    )
    with op.batch_alter_table("notice", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_notice_status"), ["status"], unique=False)

    op.create_table(
        "staff_user",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column(
            "role",
            sa.Enum(
                "detective",
                "supervisor",
                "pio",
                "admin",
                "call-taker",
                name="role",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_user")),
        sa.UniqueConstraint("username", name=op.f("uq_staff_user_username")),
    )
    op.create_table(
        "audit_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor_label", sa.String(length=80), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("object_type", sa.String(length=32), nullable=False),
        sa.Column("object_id", sa.String(length=64), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["staff_user.id"], name=op.f("fk_audit_event_actor_id_staff_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_event")),
    )
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.create_index("ix_audit_event_object", ["object_type", "object_id"], unique=False)

    op.create_table(
        "charge",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("notice_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("citation", sa.String(length=120), nullable=False),
        sa.Column("description", sa.String(length=300), nullable=False),
        sa.Column(
            "severity",
            sa.Enum("felony", "misdemeanor", name="severity", native_enum=False, length=20),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["notice_id"], ["notice.id"], name=op.f("fk_charge_notice_id_notice")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_charge")),
    )
    with op.batch_alter_table("charge", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_charge_notice_id"), ["notice_id"], unique=False)

    op.create_table(
        "contact_line",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("notice_id", sa.Integer(), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=120), nullable=False),
        sa.Column("phone", sa.String(length=40), nullable=False),
        sa.Column("note", sa.String(length=300), nullable=False),
        sa.ForeignKeyConstraint(
            ["notice_id"], ["notice.id"], name=op.f("fk_contact_line_notice_id_notice")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contact_line")),
    )
    with op.batch_alter_table("contact_line", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_contact_line_notice_id"), ["notice_id"], unique=False)

    op.create_table(
        "tip",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_ref", sa.String(length=32), nullable=False),
        sa.Column("receipt_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("notice_id", sa.Integer(), nullable=True),
        sa.Column("seen_when", sa.String(length=200), nullable=False),
        sa.Column("seen_where", sa.Text(), nullable=False),
        sa.Column("narrative", sa.Text(), nullable=False),
        sa.Column("there_now", sa.Boolean(), nullable=False),
        sa.Column(
            "status",
            sa.Enum("new", "in_review", "closed", name="tipstatus", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("operator_id", sa.Integer(), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["notice_id"], ["notice.id"], name=op.f("fk_tip_notice_id_notice")),
        sa.ForeignKeyConstraint(
            ["operator_id"], ["staff_user.id"], name=op.f("fk_tip_operator_id_staff_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tip")),
        sa.UniqueConstraint("public_ref", name=op.f("uq_tip_public_ref")),
        sa.UniqueConstraint("receipt_hash", name=op.f("uq_tip_receipt_hash")),
    )
    with op.batch_alter_table("tip", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_tip_notice_id"), ["notice_id"], unique=False)
        batch_op.create_index("ix_tip_queue", ["status", "there_now", "received_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("tip", schema=None) as batch_op:
        batch_op.drop_index("ix_tip_queue")
        batch_op.drop_index(batch_op.f("ix_tip_notice_id"))

    op.drop_table("tip")
    with op.batch_alter_table("contact_line", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_contact_line_notice_id"))

    op.drop_table("contact_line")
    with op.batch_alter_table("charge", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_charge_notice_id"))

    op.drop_table("charge")
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_event_object")

    op.drop_table("audit_event")
    op.drop_table("staff_user")
    with op.batch_alter_table("notice", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notice_status"))

    op.drop_table("notice")
