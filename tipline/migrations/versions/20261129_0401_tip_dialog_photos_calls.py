"""Tip details, the receipt dialog, sealed photos and contact, form tokens, phone intake.

Existing tips get empty strings for the new text columns.

Revision ID: 0401
Revises: 0701
Create Date: 2026-11-29 07:35:54.105166
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from tipline.migrations.frozen import protect_v1

revision: str = "0401"
down_revision: str | None = "0701"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "call_record",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("operator_id", sa.Integer(), nullable=False),
        sa.Column(
            "disposition",
            sa.Enum(
                "tip_taken",
                "hung_up",
                "prank",
                "wrong_number",
                "referred",
                "no_information",
                name="disposition",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("tip_id", sa.Integer(), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["operator_id"], ["staff_user.id"], name=op.f("fk_call_record_operator_id_staff_user")
        ),
        sa.ForeignKeyConstraint(["tip_id"], ["tip.id"], name=op.f("fk_call_record_tip_id_tip")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_record")),
    )
    with op.batch_alter_table("call_record", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_call_record_operator_id"), ["operator_id"], unique=False
        )

    op.create_table(
        "receipt_session",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("tip_id", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["tip_id"], ["tip.id"], name=op.f("fk_receipt_session_tip_id_tip")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_receipt_session")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_receipt_session_token_hash")),
    )
    with op.batch_alter_table("receipt_session", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_receipt_session_tip_id"), ["tip_id"], unique=False)

    op.create_table(
        "tip_message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tip_id", sa.Integer(), nullable=False),
        sa.Column(
            "direction",
            sa.Enum(
                "to_tipster", "from_tipster", name="messagedirection", native_enum=False, length=20
            ),
            nullable=False,
        ),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"], ["staff_user.id"], name=op.f("fk_tip_message_author_id_staff_user")
        ),
        sa.ForeignKeyConstraint(["tip_id"], ["tip.id"], name=op.f("fk_tip_message_tip_id_tip")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tip_message")),
    )
    with op.batch_alter_table("tip_message", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_tip_message_tip_id"), ["tip_id"], unique=False)

    op.create_table(
        "tip_submission",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("tip_id", sa.Integer(), nullable=False),
        sa.Column("sealed_code", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["tip_id"], ["tip.id"], name=op.f("fk_tip_submission_tip_id_tip")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tip_submission")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_tip_submission_token_hash")),
    )
    with op.batch_alter_table("tip_submission", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_tip_submission_tip_id"), ["tip_id"], unique=False)

    op.create_table(
        "tip_attachment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_ref", sa.String(length=32), nullable=False),
        sa.Column("tip_id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=True),
        sa.Column("mime", sa.String(length=32), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("byte_size", sa.Integer(), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["tip_message.id"],
            name=op.f("fk_tip_attachment_message_id_tip_message"),
        ),
        sa.ForeignKeyConstraint(["tip_id"], ["tip.id"], name=op.f("fk_tip_attachment_tip_id_tip")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tip_attachment")),
        sa.UniqueConstraint("public_ref", name=op.f("uq_tip_attachment_public_ref")),
    )
    with op.batch_alter_table("tip_attachment", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_tip_attachment_tip_id"), ["tip_id"], unique=False)

    with op.batch_alter_table("tip", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("landmark", sa.String(length=200), nullable=False, server_default="")
        )
        batch_op.add_column(sa.Column("activity", sa.Text(), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("companions", sa.Text(), nullable=False, server_default=""))
        batch_op.add_column(
            sa.Column("vehicle_make", sa.String(length=100), nullable=False, server_default="")
        )
        batch_op.add_column(
            sa.Column("vehicle_colour", sa.String(length=50), nullable=False, server_default="")
        )
        batch_op.add_column(
            sa.Column("vehicle_plate", sa.String(length=20), nullable=False, server_default="")
        )
        batch_op.add_column(
            sa.Column("direction", sa.String(length=200), nullable=False, server_default="")
        )
        batch_op.add_column(sa.Column("how_known", sa.Text(), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("contact_sealed", sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column("spam_marked_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tip", schema=None) as batch_op:
        batch_op.drop_column("spam_marked_at")
        batch_op.drop_column("contact_sealed")
        batch_op.drop_column("how_known")
        batch_op.drop_column("direction")
        batch_op.drop_column("vehicle_plate")
        batch_op.drop_column("vehicle_colour")
        batch_op.drop_column("vehicle_make")
        batch_op.drop_column("companions")
        batch_op.drop_column("activity")
        batch_op.drop_column("landmark")
    # SQLite's batch rebuild of tip dropped the tip's protection trigger (revision 0601).
    protect_v1.create(op.execute, op.get_bind().dialect.name)

    with op.batch_alter_table("tip_attachment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tip_attachment_tip_id"))

    op.drop_table("tip_attachment")
    with op.batch_alter_table("tip_submission", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tip_submission_tip_id"))

    op.drop_table("tip_submission")
    with op.batch_alter_table("tip_message", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tip_message_tip_id"))

    op.drop_table("tip_message")
    with op.batch_alter_table("receipt_session", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_receipt_session_tip_id"))

    op.drop_table("receipt_session")
    with op.batch_alter_table("call_record", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_call_record_operator_id"))

    op.drop_table("call_record")
