"""notice record, workflow, photos and versions

New text columns get an empty server default so existing notices upgrade in place.

Revision ID: 0301
Revises: 0601
Create Date: 2026-11-29 07:34:06.681050
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0301"
down_revision: str | None = "0601"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "notice_photo",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("notice_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("alt_text", sa.String(length=300), nullable=False),
        sa.Column("caption", sa.String(length=300), nullable=False),
        sa.Column("mime", sa.String(length=40), nullable=False),
        sa.Column("display_data", sa.LargeBinary(), nullable=False),
        sa.Column("display_width", sa.Integer(), nullable=False),
        sa.Column("display_height", sa.Integer(), nullable=False),
        sa.Column("thumb_data", sa.LargeBinary(), nullable=False),
        sa.Column("thumb_width", sa.Integer(), nullable=False),
        sa.Column("thumb_height", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["notice_id"], ["notice.id"], name=op.f("fk_notice_photo_notice_id_notice")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notice_photo")),
    )
    with op.batch_alter_table("notice_photo", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_notice_photo_notice_id"), ["notice_id"], unique=False)

    op.create_table(
        "notice_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("notice_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("snapshot", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.String(length=80), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["staff_user.id"],
            name=op.f("fk_notice_version_created_by_id_staff_user"),
        ),
        sa.ForeignKeyConstraint(
            ["notice_id"], ["notice.id"], name=op.f("fk_notice_version_notice_id_notice")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notice_version")),
        sa.UniqueConstraint("notice_id", "number", name=op.f("uq_notice_version_notice_id")),
    )
    with op.batch_alter_table("notice_version", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_notice_version_notice_id"), ["notice_id"], unique=False
        )

    with op.batch_alter_table("charge", schema=None) as batch_op:
        batch_op.add_column(sa.Column("warrant_date", sa.Date(), nullable=True))

    with op.batch_alter_table("notice", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("sex", sa.String(length=40), nullable=False, server_default="")
        )
        batch_op.add_column(
            sa.Column("race", sa.String(length=80), nullable=False, server_default="")
        )
        batch_op.add_column(sa.Column("age", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("date_of_birth", sa.Date(), nullable=True))
        batch_op.add_column(
            sa.Column("height", sa.String(length=40), nullable=False, server_default="")
        )
        batch_op.add_column(
            sa.Column("weight", sa.String(length=40), nullable=False, server_default="")
        )
        batch_op.add_column(
            sa.Column("hair", sa.String(length=80), nullable=False, server_default="")
        )
        batch_op.add_column(
            sa.Column("eyes", sa.String(length=80), nullable=False, server_default="")
        )
        batch_op.add_column(sa.Column("scars_marks", sa.Text(), nullable=False, server_default=""))
        batch_op.add_column(
            sa.Column("last_known_area", sa.String(length=300), nullable=False, server_default="")
        )
        batch_op.add_column(
            sa.Column("case_number", sa.String(length=60), nullable=False, server_default="")
        )
        batch_op.add_column(
            sa.Column("created_by", sa.String(length=80), nullable=False, server_default="")
        )
        batch_op.add_column(
            sa.Column("submitted_by", sa.String(length=80), nullable=False, server_default="")
        )
        batch_op.add_column(
            sa.Column(
                "resolution",
                sa.Enum(
                    "arrested",
                    "surrendered",
                    "located",
                    "cleared",
                    "withdrawn",
                    name="resolution",
                    native_enum=False,
                    length=20,
                ),
                nullable=True,
            )
        )
        batch_op.add_column(sa.Column("resolved_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("archived_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("details_removed_at", sa.DateTime(timezone=True), nullable=True)
        )

    # Who wrote and who submitted a notice. On SQLite a separate foreign key would make batch
    # mode rebuild the notice table, and dropping a table that other rows point at fails with
    # foreign keys on; SQLite accepts the reference inside ADD COLUMN, so it goes there.
    for column in ("created_by_id", "submitted_by_id"):
        name = f"fk_notice_{column}_staff_user"
        if op.get_bind().dialect.name == "sqlite":
            op.execute(
                f"ALTER TABLE notice ADD COLUMN {column} INTEGER "
                f"CONSTRAINT {name} REFERENCES staff_user (id)"
            )
        else:
            op.add_column("notice", sa.Column(column, sa.Integer(), nullable=True))
            op.create_foreign_key(name, "notice", "staff_user", [column], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("notice", schema=None) as batch_op:
        # SQLite does not report the names of column-level references; rebuilding the table
        # without the columns drops them there.
        if op.get_bind().dialect.name != "sqlite":
            batch_op.drop_constraint("fk_notice_created_by_id_staff_user", type_="foreignkey")
            batch_op.drop_constraint("fk_notice_submitted_by_id_staff_user", type_="foreignkey")
        batch_op.drop_column("details_removed_at")
        batch_op.drop_column("archived_at")
        batch_op.drop_column("resolved_at")
        batch_op.drop_column("resolved_on")
        batch_op.drop_column("resolution")
        batch_op.drop_column("submitted_by")
        batch_op.drop_column("submitted_by_id")
        batch_op.drop_column("created_by")
        batch_op.drop_column("created_by_id")
        batch_op.drop_column("case_number")
        batch_op.drop_column("last_known_area")
        batch_op.drop_column("scars_marks")
        batch_op.drop_column("eyes")
        batch_op.drop_column("hair")
        batch_op.drop_column("weight")
        batch_op.drop_column("height")
        batch_op.drop_column("date_of_birth")
        batch_op.drop_column("age")
        batch_op.drop_column("race")
        batch_op.drop_column("sex")

    with op.batch_alter_table("charge", schema=None) as batch_op:
        batch_op.drop_column("warrant_date")

    with op.batch_alter_table("notice_version", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notice_version_notice_id"))

    op.drop_table("notice_version")
    with op.batch_alter_table("notice_photo", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notice_photo_notice_id"))

    op.drop_table("notice_photo")
