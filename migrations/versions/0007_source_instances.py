"""source_instances: each source instance's stored watermark, health and last webhooks

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "source_instances",
        sa.Column("source", sa.String(32), primary_key=True),
        sa.Column("instance", sa.String(128), primary_key=True),
        sa.Column("watermark", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failures", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("first_failure_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_poll_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_poll_ok", sa.Boolean(), nullable=True),
        sa.Column("last_poll_error", sa.Text(), nullable=True),
        sa.Column("last_poll_ok_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_accepted_note", sa.Text(), nullable=True),
        sa.Column("last_rejected_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_rejected_reason", sa.String(32), nullable=True),
        sa.Column("last_rejected_detail", sa.Text(), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("source_instances")
