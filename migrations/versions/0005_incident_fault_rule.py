"""incidents keep the fault rule in force at their detection

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Incidents detected before the rule existed were judged with every fault excluding
    # their clocks ("all"); keeping that reading leaves their recorded outcomes as they are.
    with op.batch_alter_table("incidents") as batch:
        batch.add_column(
            sa.Column("fault_exclusion", sa.String(8), nullable=False, server_default="all")
        )


def downgrade() -> None:
    with op.batch_alter_table("incidents") as batch:
        batch.drop_column("fault_exclusion")
