"""security hardening: ever-urgent tips, held closures and priority changes, signed
verification records, and the retention purge as a database function

A tip that was ever urgent keeps ``ever_urgent`` (backfilled from today's priority and the
"they are there right now" box), so lowering its priority does not let one person close
it. ``possible_flood`` marks tips taken while everyone together was past the flood rate;
``caller_dialog`` opens a phone tip's dialog on the receipt page (closed by default).
A held change (``closure_review`` of kind "confirmation") now names what it holds: a closing
status, a lower priority, and for "duplicate" the original tip.

``audit_verification.signature`` holds the checkpoint key's signature over the result, so a
row inserted by the application role is shown as not trusted.

On PostgreSQL, ``tipline_purge_tip_contents(tip_id)`` empties a closed tip's messages, notes,
photos and submitted columns. It runs with its owner's rights (SECURITY DEFINER), so the
application role can be denied UPDATE on submitted columns and DELETE on messages, photos and
notes (`tipline db grant-app-role`) and still run the retention purge, for closed tips only.

Revision ID: 0808
Revises: 0806
Create Date: 2026-12-02 05:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0808"
down_revision: str | None = "0806"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


PURGE_FUNCTION = """
CREATE OR REPLACE FUNCTION tipline_purge_tip_contents(p_tip_id integer) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
    IF NOT EXISTS (
        SELECT 1 FROM tip WHERE id = p_tip_id AND status IN ('duplicate', 'no_action', 'closed')
    ) THEN
        RAISE EXCEPTION 'an open tip is never purged';
    END IF;
    UPDATE tip_message SET body = '' WHERE tip_id = p_tip_id;
    DELETE FROM tip_attachment WHERE tip_id = p_tip_id;
    UPDATE tip_note SET body = '' WHERE tip_id = p_tip_id;
    UPDATE tip SET seen_when = '', seen_where = '', narrative = '', landmark = '',
        activity = '', companions = '', vehicle_make = '', vehicle_colour = '',
        vehicle_plate = '', direction = '', how_known = '', contact_sealed = NULL
        WHERE id = p_tip_id;
END
$$
"""


def upgrade() -> None:
    # Plain ALTER TABLE (no batch copy): on SQLite a copied tip table would lose the
    # full-text triggers.
    op.add_column(
        "tip",
        sa.Column("ever_urgent", sa.Boolean(), server_default=sa.text("false"), nullable=False),
    )
    op.execute(
        sa.text("UPDATE tip SET ever_urgent = true WHERE priority = 'urgent' OR there_now = true")
    )
    op.add_column(
        "tip",
        sa.Column("possible_flood", sa.Boolean(), server_default=sa.text("false"), nullable=False),
    )
    op.add_column(
        "tip",
        sa.Column("caller_dialog", sa.Boolean(), server_default=sa.text("false"), nullable=False),
    )
    with op.batch_alter_table("closure_review") as batch:
        batch.add_column(sa.Column("target_status", sa.String(length=20), nullable=True))
        batch.add_column(sa.Column("target_priority", sa.String(length=20), nullable=True))
        batch.add_column(sa.Column("duplicate_of_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_closure_review_duplicate_of_id_tip"), "tip", ["duplicate_of_id"], ["id"]
        )
    op.add_column("audit_verification", sa.Column("signature", sa.Text(), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        op.execute(sa.text(PURGE_FUNCTION))


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(sa.text("DROP FUNCTION IF EXISTS tipline_purge_tip_contents(integer)"))
    op.drop_column("audit_verification", "signature")
    with op.batch_alter_table("closure_review") as batch:
        batch.drop_constraint(op.f("fk_closure_review_duplicate_of_id_tip"), type_="foreignkey")
        batch.drop_column("duplicate_of_id")
        batch.drop_column("target_priority")
        batch.drop_column("target_status")
    op.drop_column("tip", "caller_dialog")
    op.drop_column("tip", "possible_flood")
    op.drop_column("tip", "ever_urgent")
