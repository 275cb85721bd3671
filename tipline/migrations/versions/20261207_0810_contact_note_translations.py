"""translated contact-line notes

``contact_line.note_translations`` holds the Spanish and Vietnamese text of a line's note
("Ask for Det. X", opening hours), by language: ``{"es": "...", "vi": "..."}``. Lines that
exist already have none, so their notes keep showing in English, marked as English.

Revision ID: 0810
Revises: 0809
Create Date: 2026-12-07 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0810"
down_revision: str | None = "0809"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("contact_line", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("note_translations", sa.JSON(), nullable=False, server_default="{}")
        )


def downgrade() -> None:
    # Plain ALTER TABLE ... DROP COLUMN (SQLite 3.35+), as the other revisions do: no batch
    # rebuild of the table.
    op.drop_column("contact_line", "note_translations")
