"""The PostgreSQL role the application connects as: everything it needs, and no more.

It may read and write the tables, but it may not UPDATE, DELETE or TRUNCATE the audit log, nor
DELETE or TRUNCATE tips, messages, photos or notes, nor UPDATE the columns that hold what was
submitted (column-level grants: UPDATE is revoked on the table and granted back on the other
columns), and it may not change the schema. The retention purge empties those columns through
a SECURITY DEFINER function (revision 0808) that refuses open tips. Migrations run as a
different role (the owner of the tables), since an owner can always grant itself back what
was revoked.
"""

from __future__ import annotations

from sqlalchemy import Connection, text

APPEND_ONLY_TABLES = ("audit_event", "audit_tree_node", "audit_tree_head")
UNDELETABLE_TABLES = ("tip", "tip_message", "tip_attachment", "tip_note")
#: Per table, the columns that hold what was submitted or written: never UPDATEd by the app.
SUBMITTED_COLUMNS = {
    "tip": (
        "id",
        "public_ref",
        "receipt_hash",
        "notice_id",
        "operator_id",
        "received_at",
        "seen_when",
        "seen_where",
        "narrative",
        "there_now",
        "landmark",
        "activity",
        "companions",
        "vehicle_make",
        "vehicle_colour",
        "vehicle_plate",
        "direction",
        "how_known",
        "contact_sealed",
        "language",
    ),
    "tip_message": ("id", "tip_id", "direction", "body", "author_id", "created_at"),
    "tip_attachment": None,  # None: no UPDATE on any column
    "tip_note": ("id", "tip_id", "author_id", "body", "created_at"),
}


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
    for table, frozen in SUBMITTED_COLUMNS.items():
        statements.append(f"REVOKE UPDATE ON {schema}.{quote(table)} FROM {who}")
        if frozen is None:
            continue
        columns = connection.scalars(
            text(
                "SELECT column_name FROM information_schema.columns"
                " WHERE table_schema = current_schema() AND table_name = :t"
                " ORDER BY ordinal_position"
            ),
            {"t": table},
        ).all()
        updatable = ", ".join(quote(c) for c in columns if c not in frozen)
        if updatable:
            statements.append(f"GRANT UPDATE ({updatable}) ON {schema}.{quote(table)} TO {who}")
    return statements


def grant_app_role(connection: Connection, role: str) -> list[str]:
    """Apply ``app_role_sql`` (idempotent: run it again after every `tipline db upgrade`)."""
    statements = app_role_sql(connection, role)
    for statement in statements:
        connection.execute(text(statement))
    return statements
