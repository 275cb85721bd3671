"""two-person changes to public notices, corrections, notice translations

A change to a published notice (a new record, a photo, a resolution, the correction of a
resolution made in error) waits in ``notice_change`` until a second person approves it; a
photo added to a public notice stays hidden (``approved`` false) until then. Existing photos
upgrade as approved. ``notice.correction_note`` is what the public reads after a correction;
``notice.translations`` holds the PIO's Spanish and Vietnamese text; ``tip.language`` the
language of the form a tip was written in.

Revision ID: 0804
Revises: 0605
Create Date: 2026-12-02 04:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0804"
down_revision: str | None = "0805"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "notice_change",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("notice_id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("edit", "resolve", "correct", name="changekind", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column(
            "state",
            sa.Enum(
                "pending",
                "approved",
                "withdrawn",
                name="changestate",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("proposal", sa.JSON(), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("proposers", sa.JSON(), nullable=False),
        sa.Column("proposed_by", sa.String(length=80), nullable=False),
        sa.Column("proposed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("decided_by", sa.String(length=80), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["decided_by_id"],
            ["staff_user.id"],
            name=op.f("fk_notice_change_decided_by_id_staff_user"),
        ),
        sa.ForeignKeyConstraint(
            ["notice_id"], ["notice.id"], name=op.f("fk_notice_change_notice_id_notice")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notice_change")),
    )
    with op.batch_alter_table("notice_change", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_notice_change_notice_id"), ["notice_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_notice_change_state"), ["state"], unique=False)

    with op.batch_alter_table("notice", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("correction_note", sa.Text(), nullable=False, server_default="")
        )
        batch_op.add_column(sa.Column("corrected_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("translations", sa.JSON(), nullable=False, server_default="{}")
        )

    with op.batch_alter_table("notice_photo", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("approved", sa.Boolean(), nullable=False, server_default=sa.true())
        )

    with op.batch_alter_table("tip", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("language", sa.String(length=8), nullable=False, server_default="")
        )


def downgrade() -> None:
    # Plain ALTER TABLE ... DROP COLUMN (SQLite 3.35+): a batch rebuild of these tables would
    # drop the triggers earlier revisions put on them.
    op.drop_column("tip", "language")
    op.drop_column("notice_photo", "approved")
    for column in ("translations", "corrected_at", "correction_note"):
        op.drop_column("notice", column)
    with op.batch_alter_table("notice_change", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notice_change_state"))
        batch_op.drop_index(batch_op.f("ix_notice_change_notice_id"))
    op.drop_table("notice_change")
