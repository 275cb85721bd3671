"""The Merkle tree over the audit events, stored as complete subtrees (``AuditTreeNode``).

Leaf ``i`` is the event with ``seq = i + 1``. Its leaf data is the canonical encoding of the
whole event, its keyed row hash included (``leaf_data``); only the leaf hash is stored apart
from the event and published, and without the audit key nobody can confirm a guess at an
event's fields from it. Appending writes the leaf and the complete subtrees it closes (one
on average, at most log2 n), reading only their left siblings; a proof reads its O(log n)
nodes in one query. Appends happen in ``audit.record``'s transaction, under the chain lock.
"""

from __future__ import annotations

import functools
import operator
import sqlite3
import weakref
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    LargeBinary,
    Row,
    TextClause,
    bindparam,
    func,
    select,
    text,
)
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from tipline.audit import chain, merkle
from tipline.audit.models import AuditEvent, AuditTreeNode

LEAF_ENCODING_VERSION = 1
_NODES = AuditTreeNode.__table__
# Plain statements on the session's connection: appends run in every audited transaction,
# and building and caching an ORM statement costs more than the lookup itself.


@functools.lru_cache(maxsize=128)
def _node_insert_sql(count: int, placeholder: str) -> str:
    rows = ", ".join(f"({placeholder}, {placeholder}, {placeholder})" for _ in range(count))
    # Fixed text and positional placeholders only: no value reaches the SQL string.
    return f"INSERT INTO audit_tree_node (level, idx, hash) VALUES {rows}"  # noqa: S608  # nosec B608


def insert_nodes(connection: Connection, rows: list[dict]) -> None:
    """One INSERT of the nodes an append writes (1 + its trailing 1 bits). It runs in every
    audited transaction, and SQLAlchemy's handling of the statement cost about as much as
    SQLite's insert (a tenth of what the tree added to an append), so on SQLite it goes to
    the driver directly; an error is raised as SQLAlchemy raises it, parameters hidden."""
    values = tuple(v for row in rows for v in (row["level"], row["idx"], row["hash"]))
    if connection.dialect.name != "sqlite":
        connection.exec_driver_sql(_node_insert_sql(len(rows), "%s"), values)
        return
    statement = _node_insert_sql(len(rows), "?")
    try:
        connection.connection.driver_connection.execute(statement, values)  # type: ignore[union-attr]
    except sqlite3.Error as error:
        raise DBAPIError.instance(
            statement, None, error, sqlite3.Error, hide_parameters=True
        ) from error


# The right edge of the tree as this process last wrote it, per engine: the row hash of the
# event appended last, and the complete subtrees ending at it that the next append may pair
# with. The next event names that row hash as its ``prev_hash`` only if the append was
# committed (a rolled-back event is nobody's predecessor) and nobody appended since, so a
# match means these nodes are the stored ones and the append need not read them back.
_right_edges: weakref.WeakKeyDictionary[Engine, tuple[str, dict[tuple[int, int], bytes]]] = (
    weakref.WeakKeyDictionary()
)


@functools.lru_cache(maxsize=256)
def _lookup(count: int) -> TextClause:
    """Nodes by primary key, ``count`` of them: an OR of key lookups, which both databases
    answer from the index (SQLite scans the table for a row-value IN list)."""
    terms = " OR ".join(f"(level = :l{i} AND idx = :i{i})" for i in range(count))
    # Fixed text and numbered bind parameters only: no value reaches the SQL string.
    return text(f"SELECT level, idx, hash FROM audit_tree_node WHERE {terms}")  # noqa: S608  # nosec B608


def leaf_data(event: AuditEvent | Row[Any]) -> bytes:
    """The bytes a leaf commits to: every field of the event, canonically encoded."""
    return _leaf_bytes([getattr(event, name) for name in _LEAF_FIELDS])


def leaf_hash_of(event: AuditEvent | Row[Any]) -> bytes:
    return merkle.leaf_hash(leaf_data(event))


_LEAF_FIELDS = (
    "seq",
    "occurred_at",
    "actor_id",
    "actor_label",
    "action",
    "object_type",
    "object_id",
    "details",
    "prev_hash",
    "row_hash",
)


_leaf_fields_of = operator.itemgetter(*_LEAF_FIELDS)


def _leaf_bytes(values: Sequence[Any]) -> bytes:
    """The leaf encoding of an event's ``_LEAF_FIELDS`` values, in that order."""
    fields = dict(zip(_LEAF_FIELDS, values, strict=True))
    fields["occurred_at"] = chain.timestamp(fields["occurred_at"])
    return chain.canonical_json({"leaf": LEAF_ENCODING_VERSION, **fields})


def _closed_by(index: int) -> list[tuple[int, int]]:
    """The left siblings that leaf ``index`` pairs with: one per trailing 1 bit."""
    needed, level = [], 0
    while (index >> level) & 1:
        needed.append((level, (index >> level) - 1))
        level += 1
    return needed


def new_nodes(index: int, leaf: bytes, siblings: dict[tuple[int, int], bytes]) -> list[dict]:
    """The rows appending leaf ``index`` writes: the leaf and each subtree it completes."""
    rows = [{"level": 0, "idx": index, "hash": leaf}]
    current = leaf
    for level, left in _closed_by(index):
        current = merkle.node_hash(siblings[(level, left)], current)
        rows.append({"level": level + 1, "idx": left // 2, "hash": current})
    return rows


def append(session: Session, event: AuditEvent) -> bytes:
    """Add ``event`` (the new chain head) to the tree; returns its leaf hash.

    Call under the chain lock, in the event's transaction (``audit.record`` does, through
    ``rows_for`` and the event's own INSERT).
    """
    connection = session.connection()
    rows = rows_for(connection, {name: getattr(event, name) for name in EVENT_WRITTEN})
    insert_nodes(connection, rows)
    return rows[0]["hash"]


def rows_for(connection: Connection, event: Mapping[str, Any]) -> list[dict]:
    """The nodes appending ``event`` (its columns, as the event's INSERT writes them) writes,
    its leaf first, reading only the siblings this process does not know; the caller inserts
    them in the event's transaction."""
    index = event["seq"] - 1
    needed = _closed_by(index)
    engine = connection.engine
    last, known = _right_edges.get(engine, ("", {}))
    if last != event["prev_hash"]:
        known = {}
    missing = [key for key in needed if key not in known]
    siblings = {**known, **_read(connection, missing)} if missing else known
    leaf = merkle.leaf_hash(_leaf_bytes(_leaf_fields_of(event)))
    rows = new_nodes(index, leaf, siblings)
    # The new top node closes every subtree below its level; those above it stay on the edge.
    # Remembered before the insert: if it fails, the event is rolled back with it and its row
    # hash is nobody's prev_hash.
    top = rows[-1]
    edge = {key: h for key, h in siblings.items() if key[0] > top["level"]}
    edge[(top["level"], top["idx"])] = top["hash"]
    _right_edges[engine] = (event["row_hash"], edge)
    return rows


def node_params(rows: list[dict]) -> dict[str, Any]:
    """Bind values for ``event_insert_with_nodes(len(rows))``."""
    params = {}
    for i, row in enumerate(rows):
        params[f"l{i}"], params[f"i{i}"], params[f"h{i}"] = row["level"], row["idx"], row["hash"]
    return params


#: The columns an event's INSERT writes (all but its generated id; attribute names equal them).
EVENT_WRITTEN = tuple(c.name for c in AuditEvent.__table__.columns if c.name != "id")


@functools.lru_cache(maxsize=64)
def event_insert_with_nodes(count: int) -> TextClause:
    """The event's INSERT (returning its id) with its ``count`` tree nodes inserted by the
    same statement, a data-modifying WITH (PostgreSQL only): one round trip for both, under
    the chain lock. Plain text, since SQLAlchemy compiles a multi-row INSERT inside a CTE
    again on every execution (about 0.7 ms, more than the round trip it saves)."""
    rows = ", ".join(f"(:l{i}, :i{i}, :h{i})" for i in range(count))
    columns = EVENT_WRITTEN
    # Fixed text and named bind parameters only: no value reaches the SQL string.
    statement = text(
        f"WITH tree_nodes AS (INSERT INTO audit_tree_node (level, idx, hash) VALUES {rows}) "  # noqa: S608  # nosec B608
        f"INSERT INTO audit_event ({', '.join(columns)}) "
        f"VALUES ({', '.join(':' + c for c in columns)}) RETURNING id"
    )
    table = AuditEvent.__table__
    return statement.bindparams(
        *(bindparam(name, type_=table.c[name].type) for name in columns),
        *(bindparam(f"h{i}", type_=LargeBinary()) for i in range(count)),
    )


def _read(connection: Connection, keys: Iterable[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
    keys = list(set(keys))
    if not keys:
        return {}
    params = {}
    for i, (level, idx) in enumerate(keys):
        params[f"l{i}"], params[f"i{i}"] = level, idx
    rows = connection.execute(_lookup(len(keys)), params)
    found = {(r.level, r.idx): bytes(r.hash) for r in rows}
    missing = [k for k in keys if k not in found]
    if missing:
        raise TreeError(f"the tree has no node at (level, index) {sorted(missing)[0]}")
    return found


class TreeError(RuntimeError):
    """The stored tree lacks a node it should have (it was damaged or is being rebuilt)."""


def size(session: Session) -> int:
    """How many leaves the tree has (the committed events, in this transaction's view)."""
    last = session.scalar(select(func.max(_NODES.c.idx)).where(_NODES.c.level == 0))
    return 0 if last is None else int(last) + 1


def subtree_hashes(session: Session, ranges: Sequence[merkle.Range]) -> list[bytes]:
    """The hash of each subtree ``(lo, hi)`` (subtrees of RFC 9162's recursion), read in one
    query of at most 2 log2 n nodes."""
    parts = [merkle.complete_subtrees(lo, hi) for lo, hi in ranges]
    found = _read(session.connection(), (key for part in parts for key in part))
    return [merkle.fold([found[key] for key in part]) for part in parts]


def root(session: Session, tree_size: int) -> bytes:
    if tree_size == 0:
        return merkle.EMPTY_ROOT
    return subtree_hashes(session, [(0, tree_size)])[0]


def inclusion_proof(session: Session, index: int, tree_size: int) -> list[bytes]:
    return subtree_hashes(session, merkle.inclusion_ranges(index, tree_size))


def leaf_and_inclusion_proof(
    session: Session, index: int, tree_size: int
) -> tuple[bytes, list[bytes]]:
    """The leaf hash at ``index`` and its inclusion proof, read in one query."""
    hashes = subtree_hashes(
        session, [(index, index + 1), *merkle.inclusion_ranges(index, tree_size)]
    )
    return hashes[0], hashes[1:]


def consistency_proof(session: Session, old: int, new: int) -> list[bytes]:
    return subtree_hashes(session, merkle.consistency_ranges(old, new))


def leaf_hash(session: Session, index: int) -> bytes | None:
    found = session.scalar(select(_NODES.c.hash).where(_NODES.c.level == 0, _NODES.c.idx == index))
    return None if found is None else bytes(found)


def leaf_index(session: Session, leaf: bytes) -> int | None:
    """The index of the leaf with hash ``leaf`` (the first, if an event were repeated)."""
    found = session.scalar(
        select(func.min(_NODES.c.idx)).where(_NODES.c.level == 0, _NODES.c.hash == leaf)
    )
    return None if found is None else int(found)


def levels_from_leaves(leaves: Sequence[bytes]) -> Iterable[dict]:
    """Every stored node of a tree with these leaf hashes, level by level (for rebuilds)."""
    level, current = 0, list(leaves)
    while current:
        for i, h in enumerate(current):
            yield {"level": level, "idx": i, "hash": h}
        current = [
            merkle.node_hash(current[i], current[i + 1]) for i in range(0, len(current) - 1, 2)
        ]
        level += 1
