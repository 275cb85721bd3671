"""the durable outbox and the periodic jobs' last runs

Staff e-mails are written into ``outbox_message`` in the transaction of the event that causes
them and delivered by the worker from there; ``job_run`` holds when each periodic job last
finished, so one missed while the worker was down runs when it is back.

Revision ID: 0807
Revises: 0805
Create Date: 2026-12-02 05:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0807"
down_revision: str | None = "0801"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "outbox_message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("recipient", sa.String(length=320), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("message_id", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=200), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_message")),
        sa.UniqueConstraint("message_id", name=op.f("uq_outbox_message_message_id")),
    )
    op.create_index(
        op.f("ix_outbox_message_next_attempt_at"), "outbox_message", ["next_attempt_at"]
    )
    op.create_index(op.f("ix_outbox_message_sent_at"), "outbox_message", ["sent_at"])
    op.create_table(
        "job_run",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_job_run")),
    )


def downgrade() -> None:
    op.drop_table("job_run")
    op.drop_index(op.f("ix_outbox_message_sent_at"), table_name="outbox_message")
    op.drop_index(op.f("ix_outbox_message_next_attempt_at"), table_name="outbox_message")
    op.drop_table("outbox_message")
