"""Triggers that refuse changes to audit rows and deletion of tips, version 1.

Run by revisions 0601, 0501 and 0602 (the last two re-create them after SQLite's batch rebuild
of ``tip`` dropped them). Never edited: see the package docstring.
"""

from __future__ import annotations

from collections.abc import Callable

MESSAGE = "the application never changes or removes these rows"

PG_FUNCTION = f"""
CREATE OR REPLACE FUNCTION tipline_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% on % refused: {MESSAGE}', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$$
"""
PG_TRIGGERS = {
    # name: (table, when)
    "audit_event_append_only": (
        "audit_event",
        "BEFORE UPDATE OR DELETE ON audit_event FOR EACH ROW",
    ),
    "audit_event_no_truncate": ("audit_event", "BEFORE TRUNCATE ON audit_event FOR EACH STATEMENT"),
    "tip_no_delete": ("tip", "BEFORE DELETE ON tip FOR EACH ROW"),
    "tip_no_truncate": ("tip", "BEFORE TRUNCATE ON tip FOR EACH STATEMENT"),
}
# SQLite has no TRUNCATE.
SQLITE_TRIGGERS = {
    "audit_event_no_update": "BEFORE UPDATE ON audit_event",
    "audit_event_no_delete": "BEFORE DELETE ON audit_event",
    "tip_no_delete": "BEFORE DELETE ON tip",
}


def create(execute: Callable[[str], object], dialect: str) -> None:
    """Create the triggers that are missing (safe to run again)."""
    if dialect == "postgresql":
        execute(PG_FUNCTION)
        for name, (table, when) in PG_TRIGGERS.items():
            execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
            execute(f"CREATE TRIGGER {name} {when} EXECUTE FUNCTION tipline_refuse_change()")
    else:
        for name, when in SQLITE_TRIGGERS.items():
            execute(
                f"CREATE TRIGGER IF NOT EXISTS {name} {when} "
                f"BEGIN SELECT RAISE(ABORT, '{name}: {MESSAGE}'); END"
            )


def drop(execute: Callable[[str], object], dialect: str) -> None:
    if dialect == "postgresql":
        for name, (table, _when) in PG_TRIGGERS.items():
            execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
        execute("DROP FUNCTION IF EXISTS tipline_refuse_change()")
    else:
        for name in SQLITE_TRIGGERS:
            execute(f"DROP TRIGGER IF EXISTS {name}")
