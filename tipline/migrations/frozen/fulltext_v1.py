"""Full-text index over tip text, version 1: SQLite FTS5 table with its sync triggers;
PostgreSQL GIN index over a ``to_tsvector`` expression.

Run by revisions 0501 and 0602, and by 0604's downgrade. Never edited: see the package
docstring. Every statement joins the fixed names below and the caller's column tuple, never
input.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

# ruff: noqa: S608

FTS_TABLE = "tip_fts"
PG_INDEX = "ix_tip_fulltext"
PG_CONFIG = "english"


def pg_document(columns: Sequence[str]) -> str:
    joined = " || ' ' || ".join(f"coalesce({c}, '')" for c in columns)
    return f"to_tsvector('{PG_CONFIG}', {joined})"


def create(op: Any, columns: Sequence[str]) -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        cols = ", ".join(columns)
        new = ", ".join(f"new.{c}" for c in columns)
        old = ", ".join(f"old.{c}" for c in columns)
        op.execute(
            f"CREATE VIRTUAL TABLE {FTS_TABLE} USING fts5({cols}, content='tip', "
            "content_rowid='id', tokenize='porter unicode61 remove_diacritics 2')"
        )
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
        op.execute(f"CREATE INDEX {PG_INDEX} ON tip USING gin ({pg_document(columns)})")


def drop(op: Any) -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for suffix in ("ai", "ad", "au"):
            op.execute(f"DROP TRIGGER IF EXISTS {FTS_TABLE}_{suffix}")
        op.execute(f"DROP TABLE IF EXISTS {FTS_TABLE}")
    elif dialect == "postgresql":
        op.execute(f"DROP INDEX IF EXISTS {PG_INDEX}")
