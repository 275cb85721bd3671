"""index of held receipt codes

The hourly housekeeping job clears each form's sealed receipt code once the resubmit window
has passed. A partial index over the submissions that still hold one lets it find those few
rows without reading one row per tip ever received.

Revision ID: 0605
Revises: 0604
Create Date: 2026-11-29 13:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0605"
down_revision: str | None = "0604"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

HELD = sa.text("sealed_code IS NOT NULL")


def upgrade() -> None:
    op.create_index(
        "ix_tip_submission_code_held",
        "tip_submission",
        ["id"],
        unique=False,
        sqlite_where=HELD,
        postgresql_where=HELD,
    )


def downgrade() -> None:
    op.drop_index("ix_tip_submission_code_held", table_name="tip_submission")
