"""sealed authenticator secrets, confirmed follow addresses

``staff_user.totp_sealed`` holds the TOTP secret sealed (AES-256-GCM) under the data key. A
revision has no key, so the clear secrets already in ``staff_user.totp_secret`` stay where
they are: the application still reads them, seals each at its owner's next sign-in, and
`tipline user seal-totp` seals the rest at once (`tipline audit verify` names how many are
left). A sealed secret always clears the clear column.

A follow's e-mail address now has to be confirmed from a link mailed to it before any follower
e-mail goes there: ``confirmed_at``, the link's token as a SHA-256 (``confirm_token_hash``,
single-use) and the time an unconfirmed follow lapses (``confirm_expires_at``). Follows made
before this revision were never confirmed: they stop mailing, and their owner has 14 days to
ask for a link from the notice's staff page before they lapse.

Downgrading drops the sealed secrets with the column: those accounts enrol a new
authenticator at their next sign-in (their recovery codes go with it). Unconfirmed follows are
deleted, since the earlier schema would mail them.

Revision ID: 0809
Revises: 0808
Create Date: 2026-12-07 09:00:00
"""

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

revision: str = "0809"
down_revision: str | None = "0808"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: How long a follow made before confirmation existed waits for its owner to confirm it.
GRACE = timedelta(days=14)


def upgrade() -> None:
    # Plain ALTER TABLE (no batch copy), as in 0808.
    op.add_column("staff_user", sa.Column("totp_sealed", sa.LargeBinary(), nullable=True))
    op.add_column(
        "notice_follow", sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column(
        "notice_follow", sa.Column("confirm_token_hash", sa.LargeBinary(length=32), nullable=True)
    )
    op.add_column(
        "notice_follow",
        sa.Column("confirm_expires_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index(
        op.f("ix_notice_follow_confirm_token_hash"),
        "notice_follow",
        ["confirm_token_hash"],
        unique=True,
    )
    op.execute(
        sa.text("UPDATE notice_follow SET confirm_expires_at = :until").bindparams(
            sa.bindparam("until", datetime.now(UTC) + GRACE, type_=sa.DateTime(timezone=True))
        )
    )


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM notice_follow WHERE confirmed_at IS NULL"))
    op.drop_index(op.f("ix_notice_follow_confirm_token_hash"), table_name="notice_follow")
    op.drop_column("notice_follow", "confirm_expires_at")
    op.drop_column("notice_follow", "confirm_token_hash")
    op.drop_column("notice_follow", "confirmed_at")
    op.execute(
        sa.text(
            "DELETE FROM staff_recovery_code WHERE user_id IN (SELECT id FROM staff_user"
            " WHERE totp_sealed IS NOT NULL AND totp_secret IS NULL)"
        )
    )
    op.execute(
        sa.text(
            "UPDATE staff_user SET totp_enrolled_at = NULL, totp_last_step = NULL"
            " WHERE totp_sealed IS NOT NULL AND totp_secret IS NULL"
        )
    )
    op.drop_column("staff_user", "totp_sealed")
