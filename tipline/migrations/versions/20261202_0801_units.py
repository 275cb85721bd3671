"""units as records; forced password change

Also ``staff_user.password_change_required``: set when an administrator hands over a
password (a new account, a reset) or gives someone access to tips; the person must choose
their own password before anything else.

Units become rows that administrators manage. A notice can carry a unit (``notice.unit_id``)
and a staff member belongs to one (``staff_user.unit_id``); the free-text ``unit`` columns
are replaced. Existing free-text units become unit rows (one per distinct name, surrounding
spaces removed) and every notice and account keeps its unit.

Revision ID: 0801
Revises: 0605
Create Date: 2026-12-02 05:15:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0801"
down_revision: str | None = "0804"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _defer_foreign_keys() -> None:
    """SQLite rebuilds a table to drop a column that a foreign key uses; with the references
    to it checked at commit, an empty database downgrades cleanly."""
    if op.get_bind().dialect.name == "sqlite":
        op.execute("PRAGMA defer_foreign_keys = ON")


#: SQLite: plain ALTER TABLE statements (3.35+ drops columns), because rebuilding ``notice``
#: or ``staff_user`` would drop a table that tips, charges and sessions still point at.
_SQLITE_ADD = (
    "ALTER TABLE notice ADD COLUMN unit_id INTEGER "
    "CONSTRAINT fk_notice_unit_id_unit REFERENCES unit (id)",
    "CREATE INDEX ix_notice_unit_id ON notice (unit_id)",
    "ALTER TABLE staff_user ADD COLUMN unit_id INTEGER "
    "CONSTRAINT fk_staff_user_unit_id_unit REFERENCES unit (id)",
    "ALTER TABLE staff_user ADD COLUMN password_change_required BOOLEAN NOT NULL DEFAULT 0",
)
_SQLITE_DROP = (
    "DROP INDEX ix_notice_unit",
    "ALTER TABLE notice DROP COLUMN unit",
    "ALTER TABLE staff_user DROP COLUMN unit",
)


def upgrade() -> None:
    conn = op.get_bind()
    sqlite = conn.dialect.name == "sqlite"
    op.create_table(
        "unit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_unit")),
        sa.UniqueConstraint("name", name=op.f("uq_unit_name")),
    )
    if sqlite:
        for statement in _SQLITE_ADD:
            op.execute(statement)
    else:
        op.add_column("notice", sa.Column("unit_id", sa.Integer(), nullable=True))
        op.create_index(op.f("ix_notice_unit_id"), "notice", ["unit_id"], unique=False)
        op.create_foreign_key(op.f("fk_notice_unit_id_unit"), "notice", "unit", ["unit_id"], ["id"])
        op.add_column("staff_user", sa.Column("unit_id", sa.Integer(), nullable=True))
        op.create_foreign_key(
            op.f("fk_staff_user_unit_id_unit"), "staff_user", "unit", ["unit_id"], ["id"]
        )
        op.add_column(
            "staff_user",
            sa.Column(
                "password_change_required", sa.Boolean(), nullable=False, server_default=sa.false()
            ),
        )

    # The data: one unit per distinct free-text name, then each row points at its unit.
    names = set()
    for query in ("SELECT DISTINCT unit FROM notice", "SELECT DISTINCT unit FROM staff_user"):
        for (name,) in conn.execute(sa.text(query)):
            if name and name.strip():
                names.add(name.strip()[:64])
    now = sa.func.now() if not sqlite else sa.func.current_timestamp()
    unit = sa.table("unit", sa.column("name"), sa.column("created_at"))
    for name in sorted(names):
        conn.execute(sa.insert(unit).values(name=name, created_at=now))
    conn.execute(
        sa.text(
            "UPDATE notice SET unit_id = (SELECT unit.id FROM unit "
            "WHERE unit.name = TRIM(notice.unit)) WHERE unit IS NOT NULL"
        )
    )
    conn.execute(
        sa.text(
            "UPDATE staff_user SET unit_id = (SELECT unit.id FROM unit "
            "WHERE unit.name = TRIM(staff_user.unit)) WHERE unit IS NOT NULL"
        )
    )

    if sqlite:
        for statement in _SQLITE_DROP:
            op.execute(statement)
    else:
        op.drop_index("ix_notice_unit", table_name="notice")
        op.drop_column("notice", "unit")
        op.drop_column("staff_user", "unit")


def downgrade() -> None:
    _defer_foreign_keys()
    # SQLite's inline references have no reflected name: rebuilding without the column
    # drops them.
    named = op.get_bind().dialect.name != "sqlite"
    with op.batch_alter_table("staff_user", schema=None) as batch_op:
        batch_op.add_column(sa.Column("unit", sa.String(length=64), nullable=True))
    with op.batch_alter_table("notice", schema=None) as batch_op:
        batch_op.add_column(sa.Column("unit", sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f("ix_notice_unit"), ["unit"], unique=False)
    op.execute(
        "UPDATE notice SET unit = (SELECT unit.name FROM unit WHERE unit.id = notice.unit_id)"
    )
    op.execute(
        "UPDATE staff_user SET unit = (SELECT unit.name FROM unit "
        "WHERE unit.id = staff_user.unit_id)"
    )
    with op.batch_alter_table("staff_user", schema=None) as batch_op:
        if named:
            batch_op.drop_constraint(batch_op.f("fk_staff_user_unit_id_unit"), type_="foreignkey")
        batch_op.drop_column("unit_id")
        batch_op.drop_column("password_change_required")
    with op.batch_alter_table("notice", schema=None) as batch_op:
        if named:
            batch_op.drop_constraint(batch_op.f("fk_notice_unit_id_unit"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_notice_unit_id"))
        batch_op.drop_column("unit_id")
    op.drop_table("unit")
