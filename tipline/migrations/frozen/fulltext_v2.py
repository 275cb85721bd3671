"""Full-text index over tip text, version 2 (PostgreSQL only): the document in a stored
generated column ``search_doc``, the GIN index over that column. SQLite keeps version 1.

Run by revision 0604. Never edited: see the package docstring.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tipline.migrations.frozen import fulltext_v1

PG_INDEX = fulltext_v1.PG_INDEX
PG_COLUMN = "search_doc"


def create(op: Any, columns: Sequence[str]) -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"ALTER TABLE tip ADD COLUMN {PG_COLUMN} tsvector "
            f"GENERATED ALWAYS AS ({fulltext_v1.pg_document(columns)}) STORED"
        )
        op.execute(f"CREATE INDEX {PG_INDEX} ON tip USING gin ({PG_COLUMN})")


def drop(op: Any) -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP INDEX IF EXISTS {PG_INDEX}")
        op.execute(f"ALTER TABLE tip DROP COLUMN IF EXISTS {PG_COLUMN}")
