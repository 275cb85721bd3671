"""Full-text index DDL over tip text, for SQLite (FTS5) and PostgreSQL (tsvector + GIN).

The columns searched are one tuple, ``SEARCH_COLUMNS``. To search another ``tip`` column (the
vehicle fields coming with issue 4), add it to the tuple and write a revision that calls
``drop(op)`` then ``create(op, SEARCH_COLUMNS_AT_THAT_REVISION, stored=True)``. Revisions pass
their own tuple so that an old revision never changes meaning.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

# Every statement below is built from the fixed identifiers in this module, never from input.
# ruff: noqa: S608

SEARCH_COLUMNS: tuple[str, ...] = ("narrative", "seen_where")

#: Names of full-text objects the ORM does not describe (skipped when comparing schemas).
FTS_TABLE = "tip_fts"
PG_INDEX = "ix_tip_fulltext"
#: PostgreSQL, from revision 0604: the document stored in a generated column, so a query can
#: test a row without recomputing it (and walk tips newest first, stopping at a page).
PG_COLUMN = "search_doc"
PG_CONFIG = "english"


def pg_document(columns: Sequence[str] = SEARCH_COLUMNS) -> str:
    """The tsvector expression; queries must repeat it exactly for the GIN index to be used."""
    joined = " || ' ' || ".join(f"coalesce({c}, '')" for c in columns)
    return f"to_tsvector('{PG_CONFIG}', {joined})"


def create(op: Any, columns: Sequence[str], stored: bool = False) -> None:
    """Create the full-text index for the current dialect (inside a migration). ``stored``
    (PostgreSQL, revision 0604 on): the document in a generated column, the index over it."""
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        # Bandit B608 is waived below: the names are module constants and model columns.
        cols = ", ".join(columns)
        new = ", ".join(f"new.{c}" for c in columns)
        old = ", ".join(f"old.{c}" for c in columns)
        # The DDL below is built from module constants and fixed column names, never input
        # (hence the nosec markers for bandit's B608).
        op.execute(
            f"CREATE VIRTUAL TABLE {FTS_TABLE} USING fts5({cols}, content='tip', "
            "content_rowid='id', tokenize='porter unicode61 remove_diacritics 2')"
        )
        # The f-strings below join module constants and column names from SEARCH_COLUMNS,
        # never input, hence bandit's B608 is silenced on them.
        op.execute(
            f"CREATE TRIGGER {FTS_TABLE}_ai AFTER INSERT ON tip BEGIN "  # nosec B608
            f"INSERT INTO {FTS_TABLE}(rowid, {cols}) VALUES (new.id, {new}); END"
        )
        op.execute(
            f"CREATE TRIGGER {FTS_TABLE}_ad AFTER DELETE ON tip BEGIN "  # nosec B608
            f"INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, {cols}) "
            f"VALUES ('delete', old.id, {old}); END"
        )
        # Only when searched text changes: claims and status changes leave the index alone.
        op.execute(
            f"CREATE TRIGGER {FTS_TABLE}_au AFTER UPDATE OF {cols} ON tip BEGIN "  # nosec B608
            f"INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, {cols}) "
            f"VALUES ('delete', old.id, {old}); "
            f"INSERT INTO {FTS_TABLE}(rowid, {cols}) VALUES (new.id, {new}); END"
        )
        op.execute(f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('rebuild')")  # nosec B608
    elif dialect == "postgresql":
        if stored:
            op.execute(
                f"ALTER TABLE tip ADD COLUMN {PG_COLUMN} tsvector "
                f"GENERATED ALWAYS AS ({pg_document(columns)}) STORED"
            )
        op.execute(pg_index_sql(columns, stored))


def pg_index_sql(columns: Sequence[str] = SEARCH_COLUMNS, stored: bool = True) -> str:
    """The GIN index: over the stored column, or (revisions before 0604) the expression."""
    indexed = PG_COLUMN if stored else pg_document(columns)
    return f"CREATE INDEX {PG_INDEX} ON tip USING gin ({indexed})"


def drop(op: Any) -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for suffix in ("ai", "ad", "au"):
            op.execute(f"DROP TRIGGER IF EXISTS {FTS_TABLE}_{suffix}")
        op.execute(f"DROP TABLE IF EXISTS {FTS_TABLE}")
    elif dialect == "postgresql":
        op.execute(f"DROP INDEX IF EXISTS {PG_INDEX}")
        op.execute(f"ALTER TABLE tip DROP COLUMN IF EXISTS {PG_COLUMN}")


def is_fulltext_object(name: str | None) -> bool:
    """True for the objects above, which the ORM models do not (and cannot) describe."""
    if not name:
        return False
    return name in (PG_INDEX, PG_COLUMN, FTS_TABLE) or name.startswith(FTS_TABLE + "_")
