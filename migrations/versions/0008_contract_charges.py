"""Charges: contract and resource dates, negotiated prices, option hours, closed months

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    # Plain ADD and DROP COLUMNs, never a batch rebuild: on SQLite, rebuilding
    # `contracts` or `resources` drops a table that others point at (selectors with ON
    # DELETE CASCADE, incidents). A NOT NULL column needs a default there; every row
    # gets its real date right away, and slad always sets it.
    op.add_column("contracts", sa.Column("contract_date", sa.Date(), nullable=True))
    op.add_column("contracts", sa.Column("notice_date", sa.Date(), nullable=True))
    op.add_column(
        "contracts", sa.Column("prices", JSON, nullable=False, server_default=sa.text("'{}'"))
    )
    op.add_column("contracts", sa.Column("volume_discount", JSON, nullable=True))
    op.add_column(
        "resources",
        sa.Column("added_on", sa.Date(), nullable=False, server_default="1970-01-01"),
    )
    op.add_column("resources", sa.Column("retired_on", sa.Date(), nullable=True))
    # A resource registered before slad knew its dates has been under contract since
    # its contract's billing start: the registry is the list of what is charged today.
    op.execute(
        "UPDATE resources SET added_on = (SELECT billing_start FROM contracts"
        " WHERE contracts.id = resources.contract_id)"
    )
    if op.get_bind().dialect.name != "sqlite":
        op.alter_column("resources", "added_on", existing_type=sa.Date(), server_default=None)
    op.create_table(
        "option_hours",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("contract_id", BIG_ID, nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("option", sa.String(length=32), nullable=False),
        sa.Column("centihours", sa.Integer(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["contract_id"], ["contracts.id"], name=op.f("fk_option_hours_contract_id_contracts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_option_hours")),
    )
    op.create_index(
        "ix_option_hours_contract_month", "option_hours", ["contract_id", "month"], unique=False
    )
    op.create_table(
        "closed_months",
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_by", sa.String(length=200), nullable=False),
        sa.Column("invoice_date", sa.Date(), nullable=False),
        sa.Column("statement", JSON, nullable=False),
        sa.PrimaryKeyConstraint("month", name=op.f("pk_closed_months")),
    )


def downgrade() -> None:
    op.drop_table("closed_months")
    op.drop_index("ix_option_hours_contract_month", table_name="option_hours")
    op.drop_table("option_hours")
    op.drop_column("resources", "retired_on")  # plain DROP COLUMNs: see upgrade()
    op.drop_column("resources", "added_on")
    for column in ("volume_discount", "prices", "notice_date", "contract_date"):
        op.drop_column("contracts", column)
