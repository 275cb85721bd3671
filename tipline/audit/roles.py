"""The PostgreSQL role the application connects as: everything it needs, and no more.

It may read and write the tables, but it may not UPDATE, DELETE or TRUNCATE the audit log, nor
DELETE or TRUNCATE tips, and it may not change the schema. Migrations run as a different role
(the owner of the tables), since an owner can always grant itself back what was revoked.
"""

from __future__ import annotations

from sqlalchemy import Connection, text

APPEND_ONLY_TABLES = ("audit_event", "audit_tree_node", "audit_tree_head")
UNDELETABLE_TABLES = ("tip",)


def app_role_sql(connection: Connection, role: str) -> list[str]:
    """The statements that give ``role`` the application's rights on the current schema."""
    quote = connection.dialect.identifier_preparer.quote
    schema = quote(connection.scalar(text("SELECT current_schema()")))
    who = quote(role)
    statements = [
        f"GRANT USAGE ON SCHEMA {schema} TO {who}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {who}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {who}",
        f"REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON {schema}.alembic_version FROM {who}",
    ]
    statements += [
        f"REVOKE UPDATE, DELETE, TRUNCATE ON {schema}.{quote(t)} FROM {who}"
        for t in APPEND_ONLY_TABLES
    ]
    statements += [
        f"REVOKE DELETE, TRUNCATE ON {schema}.{quote(t)} FROM {who}" for t in UNDELETABLE_TABLES
    ]
    return statements


def grant_app_role(connection: Connection, role: str) -> list[str]:
    """Apply ``app_role_sql`` (idempotent: run it again after every `tipline db upgrade`)."""
    statements = app_role_sql(connection, role)
    for statement in statements:
        connection.execute(text(statement))
    return statements
