"""covering triage indexes

Three triage indexes get a trailing column after their order, so a queue view's
other condition (unclaimed, claimed by me, open) and its capped count are answered from the
index alone. Index changes only: no table is rebuilt, so no trigger is touched.

Revision ID: 0603
Revises: 0602
Create Date: 2026-11-29 10:40:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0603"
down_revision: str | None = "0602"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: name -> (columns before, columns after); written out, as a revision must not change when
#: the models do.
INDEXES = {
    "ix_tip_triage_status": (
        ["status", "priority_rank", "due_at", "id"],
        ["status", "priority_rank", "due_at", "id", "claimed_by_id"],
    ),
    "ix_tip_triage_claimed": (
        ["claimed_by_id", "priority_rank", "due_at", "id"],
        ["claimed_by_id", "priority_rank", "due_at", "id", "status"],
    ),
    "ix_tip_triage_notice_status": (
        ["notice_id", "status", "priority_rank", "due_at", "id"],
        ["notice_id", "status", "priority_rank", "due_at", "id", "claimed_by_id"],
    ),
}


def _replace(columns_at: int) -> None:
    for name, shapes in INDEXES.items():
        op.drop_index(name, table_name="tip")
        op.create_index(name, "tip", shapes[columns_at], unique=False)


def upgrade() -> None:
    _replace(1)


def downgrade() -> None:
    _replace(0)
