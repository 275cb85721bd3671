"""Schema migrations (Alembic). The app never calls create_all() outside tests."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from flask import current_app, has_app_context
from sqlalchemy import Engine

HERE = Path(__file__).resolve().parent


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the database behind ``engine`` up to ``revision``."""
    cfg = alembic_config(engine)
    if has_app_context():
        # Revision 0601 chains audit rows written before the chain existed with this key.
        from tipline.audit.chain import chain_key

        cfg.attributes["audit_key"] = chain_key(current_app.config)
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # A schema change on a big table may take longer than a request may: the
            # engine's statement timeout (db.Timeouts) is for requests, not for upgrades.
            connection.exec_driver_sql("SET LOCAL statement_timeout = 0")
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, revision)


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def include_object(
    obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    """Leave out of schema comparisons the full-text objects that only migrations create."""
    from tipline.triage.fulltext import is_fulltext_object

    return not (reflected and is_fulltext_object(name))
