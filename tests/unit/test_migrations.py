"""Migrations build the whole schema from an empty database, on SQLite and on PostgreSQL;
every revision's downgrade undoes its upgrade; a database upgraded one revision at a time ends
up with the same tables, indexes and triggers as one built at once."""

import ast
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from tipline import db, migrations
from tipline.db import Base


def test_upgrade_builds_the_schema_the_models_describe(empty_database_url):
    engine = db.make_engine(empty_database_url)
    try:
        assert inspect(engine).get_table_names() == []
        migrations.upgrade(engine)
        head = ScriptDirectory.from_config(migrations.alembic_config(engine)).get_current_head()
        assert migrations.current_revision(engine) == head
        tables = set(inspect(engine).get_table_names())
        assert {"notice", "charge", "contact_line", "tip", "staff_user", "audit_event"} <= tables
        with engine.connect() as conn:
            diff = compare_metadata(
                MigrationContext.configure(
                    conn,
                    opts={"compare_type": True, "include_object": migrations.include_object},
                ),
                Base.metadata,
            )
        assert diff == [], f"models and migrations disagree: {diff}"
        # Upgrading again is a no-op, not an error.
        migrations.upgrade(engine)
    finally:
        engine.dispose()


def test_every_revision_downgrades_cleanly(empty_database_url):
    engine = db.make_engine(empty_database_url)
    try:
        migrations.upgrade(engine)
        cfg = migrations.alembic_config(engine)
        from alembic import command

        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "base")
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    finally:
        engine.dispose()


def test_sqlite_runs_in_wal_mode_with_full_sync_and_foreign_keys(tmp_path):
    engine = db.make_engine(f"sqlite:///{tmp_path / 'p.sqlite3'}")
    try:
        with engine.connect() as conn:
            assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert conn.execute(text("PRAGMA synchronous")).scalar() == 2  # FULL
            assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
    finally:
        engine.dispose()


def _revisions(engine) -> list[tuple[str, str | None]]:
    """(revision, down revision), oldest first."""
    script = ScriptDirectory.from_config(migrations.alembic_config(engine))
    return [(s.revision, s.down_revision) for s in reversed(list(script.walk_revisions()))]


def schema_of(engine) -> dict:
    """Everything a revision can change: tables, columns, keys, indexes, triggers."""
    inspector = inspect(engine)
    shape: dict = {}
    for table in sorted(inspector.get_table_names()):
        if table == "alembic_version":
            continue
        shape[table] = {
            "columns": sorted(
                (c["name"], str(c["type"]), c["nullable"], str(c.get("default")))
                for c in inspector.get_columns(table)
            ),
            "pk": inspector.get_pk_constraint(table)["constrained_columns"],
            "fks": sorted(
                (fk["name"], tuple(fk["constrained_columns"]), fk["referred_table"])
                for fk in inspector.get_foreign_keys(table)
            ),
            "unique": sorted(
                (u["name"], tuple(u["column_names"]))
                for u in inspector.get_unique_constraints(table)
            ),
            "indexes": sorted(
                (i["name"], tuple(str(c) for c in i["column_names"]), bool(i["unique"]))
                for i in inspector.get_indexes(table)
            ),
        }
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            rows = conn.execute(
                text(
                    "SELECT type, name, tbl_name, sql FROM sqlite_master "
                    "WHERE type IN ('trigger', 'index') AND sql IS NOT NULL"
                )
            )
            shape["_objects"] = sorted(tuple(r) for r in rows)
        else:
            triggers = conn.execute(
                text(
                    "SELECT c.relname, t.tgname, pg_get_triggerdef(t.oid) FROM pg_trigger t "
                    "JOIN pg_class c ON c.oid = t.tgrelid "
                    "WHERE c.relnamespace = current_schema()::regnamespace "
                    "AND NOT t.tgisinternal"
                )
            )
            indexes = conn.execute(
                text(
                    "SELECT tablename, indexname, indexdef FROM pg_indexes "
                    "WHERE schemaname = current_schema() AND tablename <> 'alembic_version'"
                )
            )
            schema = conn.execute(text("SELECT current_schema()")).scalar()
            shape["_objects"] = sorted(
                tuple(str(v).replace(f"{schema}.", "") for v in row)
                for row in [*triggers, *indexes]
            )
            shape["_functions"] = sorted(
                conn.scalars(
                    text(
                        "SELECT p.proname FROM pg_proc p "
                        "WHERE p.pronamespace = current_schema()::regnamespace"
                    )
                )
            )
    return shape


def _step(engine, action, target: str) -> None:
    cfg = migrations.alembic_config(engine)
    from alembic import command

    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        getattr(command, action)(cfg, target)


def test_each_revision_up_then_down_leaves_the_schema_unchanged(empty_database_url):
    engine = db.make_engine(empty_database_url)
    try:
        for rev, down in _revisions(engine):
            before = schema_of(engine)
            _step(engine, "upgrade", rev)
            after_up = schema_of(engine)
            _step(engine, "downgrade", down or "base")
            assert schema_of(engine) == before, f"downgrading {rev} did not undo its upgrade"
            _step(engine, "upgrade", rev)
            assert schema_of(engine) == after_up, f"upgrading {rev} twice differs"
    finally:
        engine.dispose()


def test_upgrading_step_by_step_equals_a_fresh_database(empty_database_url, request, tmp_path):
    stepped = db.make_engine(empty_database_url)
    if stepped.dialect.name == "sqlite":
        fresh_url = f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
    else:
        fresh_url = request.getfixturevalue("new_pg_schema")()
    fresh = db.make_engine(fresh_url)
    try:
        for rev, _down in _revisions(stepped):
            _step(stepped, "upgrade", rev)
        migrations.upgrade(fresh)
        assert migrations.current_revision(stepped) == migrations.current_revision(fresh)
        assert schema_of(stepped) == schema_of(fresh)
    finally:
        stepped.dispose()
        fresh.dispose()


VERSIONS = Path(migrations.HERE) / "versions"


@pytest.mark.parametrize("path", sorted(VERSIONS.glob("*.py")), ids=lambda p: p.name)
def test_a_revision_imports_no_application_code(path):
    """Only its own frozen DDL: a change to the application never changes an old revision."""
    tree = ast.parse(path.read_text())
    imported = [
        node.module if isinstance(node, ast.ImportFrom) else alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in getattr(node, "names", [])
    ]
    for name in imported:
        if name and name.startswith("tipline"):
            assert name.startswith("tipline.migrations.frozen"), f"{path.name} imports {name}"
    revision = next(
        node.value.value
        for node in tree.body
        if isinstance(node, ast.AnnAssign) and getattr(node.target, "id", "") == "revision"
    )
    date, rev_id, _slug = path.stem.split("_", 2)
    assert len(date) == 8 and date.isdigit() and rev_id == revision


def test_the_frozen_row_hash_matches_the_application_chain():
    from datetime import UTC, datetime

    from tipline.audit import chain
    from tipline.migrations.frozen import audit_hash_v1

    key = b"k" * 32
    fields = {
        "seq": 7,
        "occurred_at": datetime(2026, 11, 29, 7, 0, 1, 5, tzinfo=UTC),
        "actor_id": 3,
        "actor_label": "alice",
        "action": "tip.received",
        "object_type": "tip",
        "object_id": "12",
        "details": chain.normalise_details({"a": (1, 2), "b": "é"}),
    }
    assert audit_hash_v1.row_hash_v1(key, fields, "ab" * 32) == chain.row_hash(
        key, **fields, prev_hash="ab" * 32
    )
