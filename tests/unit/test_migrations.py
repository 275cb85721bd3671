"""Migrations build the whole schema from an empty database, on SQLite and on PostgreSQL."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from tipline import db, migrations
from tipline.db import Base


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'empty.sqlite3'}"
    return request.getfixturevalue("new_pg_schema")()


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
