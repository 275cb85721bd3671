"""Staff accounts: authenticator (TOTP), recovery codes, server-side sessions, sign-in
throttle, and units for staff and notices.

Revision ID: 0701
Revises: 0301
Create Date: 2026-11-29 07:34:29.330120
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0701"
down_revision: str | None = "0301"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "login_throttle",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("window_started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_throttle")),
        sa.UniqueConstraint("name_hash", name=op.f("uq_login_throttle_name_hash")),
    )
    op.create_table(
        "staff_recovery_code",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["staff_user.id"], name=op.f("fk_staff_recovery_code_user_id_staff_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_recovery_code")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_staff_recovery_code_code_hash")),
    )
    with op.batch_alter_table("staff_recovery_code", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_staff_recovery_code_user_id"), ["user_id"], unique=False
        )

    op.create_table(
        "staff_session",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("enrolling", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_reason", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["staff_user.id"], name=op.f("fk_staff_session_user_id_staff_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_session")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_staff_session_token_hash")),
    )
    with op.batch_alter_table("staff_session", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_staff_session_user_id"), ["user_id"], unique=False)

    with op.batch_alter_table("notice", schema=None) as batch_op:
        batch_op.add_column(sa.Column("unit", sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f("ix_notice_unit"), ["unit"], unique=False)

    with op.batch_alter_table("staff_user", schema=None) as batch_op:
        batch_op.add_column(sa.Column("unit", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("totp_secret", sa.String(length=64), nullable=True))
        batch_op.add_column(
            sa.Column("totp_enrolled_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("totp_last_step", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("staff_user", schema=None) as batch_op:
        batch_op.drop_column("totp_last_step")
        batch_op.drop_column("totp_enrolled_at")
        batch_op.drop_column("totp_secret")
        batch_op.drop_column("unit")

    with op.batch_alter_table("notice", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notice_unit"))
        batch_op.drop_column("unit")

    with op.batch_alter_table("staff_session", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_staff_session_user_id"))

    op.drop_table("staff_session")
    with op.batch_alter_table("staff_recovery_code", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_staff_recovery_code_user_id"))

    op.drop_table("staff_recovery_code")
    op.drop_table("login_throttle")
