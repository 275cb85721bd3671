"""stored search document (PostgreSQL)

On PostgreSQL the tip's search document moves from an expression index to a stored
generated column with the GIN index over it, so a search can test a row without recomputing
its document and walk tips newest first, stopping after a page. SQLite's FTS5 table is
unchanged (nothing to do there).

Revision ID: 0604
Revises: 0603
Create Date: 2026-11-29 11:00:00
"""

from collections.abc import Sequence

from alembic import op

from tipline.migrations.frozen import fulltext_v1, fulltext_v2

#: The searched columns at this revision.
SEARCH_COLUMNS = ("narrative", "seen_where")

revision: str = "0604"
down_revision: str | None = "0603"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        fulltext_v1.drop(op)
        fulltext_v2.create(op, SEARCH_COLUMNS)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        fulltext_v2.drop(op)
        fulltext_v1.create(op, SEARCH_COLUMNS)
