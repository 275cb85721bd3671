"""security hardening: ever-urgent tips, held closures and priority changes

A tip that was ever urgent keeps ``ever_urgent`` (backfilled from today's priority and the
"they are there right now" box), so lowering its priority does not let one person close it.
A held change (``closure_review`` of kind "confirmation") now names what it holds: a closing
status, a lower priority, and for "duplicate" the original tip.

Revision ID: 0808
Revises: 0605
Create Date: 2026-12-02 05:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0808"
down_revision: str | None = "0605"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ALTER TABLE (no batch copy): on SQLite a copied tip table would lose the
    # full-text triggers.
    op.add_column(
        "tip",
        sa.Column("ever_urgent", sa.Boolean(), server_default=sa.text("false"), nullable=False),
    )
    op.execute(
        sa.text("UPDATE tip SET ever_urgent = true WHERE priority = 'urgent' OR there_now = true")
    )
    with op.batch_alter_table("closure_review") as batch:
        batch.add_column(sa.Column("target_status", sa.String(length=20), nullable=True))
        batch.add_column(sa.Column("target_priority", sa.String(length=20), nullable=True))
        batch.add_column(sa.Column("duplicate_of_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_closure_review_duplicate_of_id_tip"), "tip", ["duplicate_of_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("closure_review") as batch:
        batch.drop_constraint(op.f("fk_closure_review_duplicate_of_id_tip"), type_="foreignkey")
        batch.drop_column("duplicate_of_id")
        batch.drop_column("target_priority")
        batch.drop_column("target_status")
    op.drop_column("tip", "ever_urgent")
