"""Names of the full-text objects over tip text, which search queries and schema comparisons
use. The DDL that made them lives with the revisions that ran it
(``tipline/migrations/frozen/fulltext_v*.py``): SQLite, an FTS5 table kept in sync by
triggers; PostgreSQL, a stored ``tsvector`` column with a GIN index.

To search another ``tip`` column, add it to ``SEARCH_COLUMNS`` and write a revision that drops
and re-creates the index with that revision's own tuple (a new frozen module if the DDL
changes shape).
"""

from __future__ import annotations

SEARCH_COLUMNS: tuple[str, ...] = ("narrative", "seen_where")

#: Names of full-text objects the ORM does not describe (skipped when comparing schemas).
FTS_TABLE = "tip_fts"
PG_INDEX = "ix_tip_fulltext"
PG_COLUMN = "search_doc"


def pg_index_sql() -> str:
    """The GIN index over the stored document, as revision 0604 made it."""
    return f"CREATE INDEX {PG_INDEX} ON tip USING gin ({PG_COLUMN})"


def is_fulltext_object(name: str | None) -> bool:
    """True for the objects above, which the ORM models do not (and cannot) describe."""
    if not name:
        return False
    return name in (PG_INDEX, PG_COLUMN, FTS_TABLE) or name.startswith(FTS_TABLE + "_")
