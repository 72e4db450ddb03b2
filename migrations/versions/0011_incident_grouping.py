"""Incidents group by resource: group_key, merged_into_id, one open incident per group

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Added in place, not by a batch copy: on SQLite a copy of `incidents` would have
    # to drop the table that alerts, clocks and the timeline point at. So no foreign
    # key on `merged_into_id` either (SQLite cannot add one in place): incidents are
    # never deleted, and only a merge writes it.
    op.add_column(
        "incidents", sa.Column("group_key", sa.String(512), nullable=False, server_default="")
    )
    op.add_column(
        "incidents",
        sa.Column(
            "merged_into_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
    )
    # Incidents opened before grouping by resource were grouped per problem: they keep it.
    op.execute("UPDATE incidents SET group_key = problem_key")
    op.drop_index("uq_incidents_open_problem", table_name="incidents")
    op.create_index(
        "uq_incidents_open_group",
        "incidents",
        ["resource_id", "group_key"],
        unique=True,
        sqlite_where=sa.text("status = 'open'"),
        postgresql_where=sa.text("status = 'open'"),
    )


def downgrade() -> None:
    op.drop_index("uq_incidents_open_group", table_name="incidents")
    op.create_index(
        "uq_incidents_open_problem",
        "incidents",
        ["resource_id", "problem_key"],
        unique=True,
        sqlite_where=sa.text("status = 'open'"),
        postgresql_where=sa.text("status = 'open'"),
    )
    op.drop_column("incidents", "merged_into_id")
    op.drop_column("incidents", "group_key")
