"""window_changes: source syncs' changes to judged past time, held; windows' effective_from

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("maintenance_windows") as batch:
        batch.add_column(sa.Column("effective_from", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "window_changes",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("window_id", sa.BigInteger(), nullable=False),
        sa.Column("previous_window_id", sa.BigInteger(), nullable=True),
        sa.Column("author", sa.String(200), nullable=False),
        sa.Column("past_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("past_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("detail", JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(200), nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=True),
    )
    op.create_index("ix_window_changes_status", "window_changes", ["status"])


def downgrade() -> None:
    op.drop_index("ix_window_changes_status", table_name="window_changes")
    op.drop_table("window_changes")
    with op.batch_alter_table("maintenance_windows") as batch:
        batch.drop_column("effective_from")
