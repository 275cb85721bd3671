"""Schema migrations (Alembic). The app never calls create_all() outside tests.

Revision files are named ``YYYYMMDD_<revid>_<slug>.py`` (the day the revision was written); a
revision carries the DDL it runs, or imports it from a versioned module in ``frozen/`` that
is never edited, so an old revision does the same thing on every database it ever meets.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.config import Config
from flask import current_app, has_app_context
from sqlalchemy import Engine

HERE = Path(__file__).resolve().parent


#: New revision files: the day, the revision id, the message as a slug.
FILE_TEMPLATE = "%%(year)d%%(month).2d%%(day).2d_%%(rev)s_%%(slug)s"


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    cfg.set_main_option("file_template", FILE_TEMPLATE)
    cfg.attributes["engine"] = engine
    return cfg


def _run(engine: Engine, action: Callable[[Config], object]) -> None:
    """Run an Alembic command inside one transaction on ``engine``."""
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
        action(cfg)


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the database behind ``engine`` up to ``revision``."""
    _run(engine, lambda cfg: command.upgrade(cfg, revision))


def downgrade(engine: Engine, revision: str) -> None:
    """Take the database behind ``engine`` down to ``revision`` ("-1", "base", an id)."""
    _run(engine, lambda cfg: command.downgrade(cfg, revision))


def revision(
    engine: Engine, message: str, rev_id: str | None = None, autogenerate: bool = False
) -> list[Path]:
    """Write a new revision file (compared against the database when ``autogenerate``)."""
    written: list[Path] = []

    def make(cfg: Config) -> None:
        result = command.revision(cfg, message=message, rev_id=rev_id, autogenerate=autogenerate)
        scripts = result if isinstance(result, list) else [result]
        written.extend(Path(s.path) for s in scripts if s is not None)

    _run(engine, make)
    return written


def history() -> list[tuple[str, str | None, str]]:
    """(revision, down revision, first docstring line), oldest first."""
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    scripts = list(ScriptDirectory.from_config(cfg).walk_revisions())
    return [
        (
            s.revision,
            s.down_revision
            if isinstance(s.down_revision, str | None)
            else ", ".join(s.down_revision),
            s.doc.splitlines()[0] if s.doc else "",
        )
        for s in reversed(scripts)
    ]


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
