"""alert_events becomes the ingest inbox: correlation inputs, outcome, pending index

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("alert_events") as batch:
        batch.add_column(sa.Column("instance", sa.String(128), nullable=False, server_default=""))
        batch.add_column(sa.Column("severity", sa.String(16), nullable=False, server_default=""))
        batch.add_column(sa.Column("title", sa.Text(), nullable=False, server_default=""))
        batch.add_column(sa.Column("resource_ids", JSON, nullable=False, server_default="{}"))
        batch.add_column(
            sa.Column(
                "detected_at_estimated", sa.Boolean(), nullable=False, server_default=sa.false()
            )
        )
        batch.add_column(sa.Column("outcome", sa.String(16), nullable=True))
        batch.add_column(sa.Column("correlated_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("error", sa.Text(), nullable=True))
    # Events stored before the inbox existed were correlated when they were accepted.
    op.execute("UPDATE alert_events SET outcome = 'correlated', correlated_at = received_at")
    op.create_index(
        "ix_alert_events_pending",
        "alert_events",
        ["id"],
        sqlite_where=sa.text("outcome IS NULL"),
        postgresql_where=sa.text("outcome IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_alert_events_pending", table_name="alert_events")
    with op.batch_alter_table("alert_events") as batch:
        for column in (
            "error",
            "correlated_at",
            "outcome",
            "detected_at_estimated",
            "resource_ids",
            "title",
            "severity",
            "instance",
        ):
            batch.drop_column(column)
