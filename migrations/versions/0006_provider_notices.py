"""provider notices: the notices, each update, the resources they affect, their deliveries

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
INSTANT = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "provider_notices",
        sa.Column("id", ID, nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("instance", sa.String(128), nullable=False),
        sa.Column("event_id", sa.String(400), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("title", JSON, nullable=False),
        sa.Column("description", JSON, nullable=False),
        sa.Column("services", JSON, nullable=False),
        sa.Column("regions", JSON, nullable=False),
        sa.Column("affected", JSON, nullable=False),
        sa.Column("starts_at", INSTANT, nullable=False),
        sa.Column("ends_at", INSTANT, nullable=True),
        sa.Column("raw", JSON, nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("pending", sa.Boolean(), nullable=False),
        sa.Column("impact_confirmed_at", INSTANT, nullable=True),
        sa.Column("impact_confirmed_by", sa.String(200), nullable=True),
        sa.Column("first_seen_at", INSTANT, nullable=False),
        sa.Column("updated_at", INSTANT, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_provider_notices"),
        sa.UniqueConstraint("source", "instance", "event_id", name="uq_provider_notices_event"),
    )
    op.create_index("ix_provider_notices_pending", "provider_notices", ["pending"])
    op.create_table(
        "provider_notice_updates",
        sa.Column("id", ID, nullable=False),
        sa.Column("notice_id", ID, nullable=False),
        sa.Column("update_id", sa.String(400), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("material", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("starts_at", INSTANT, nullable=False),
        sa.Column("ends_at", INSTANT, nullable=True),
        sa.Column("received_at", INSTANT, nullable=False),
        sa.Column("raw", JSON, nullable=False),
        sa.ForeignKeyConstraint(
            ["notice_id"],
            ["provider_notices.id"],
            name="fk_provider_notice_updates_notice_id_provider_notices",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_provider_notice_updates"),
        sa.UniqueConstraint("notice_id", "update_id", name="uq_provider_notice_updates_update"),
    )
    op.create_index(
        "ix_provider_notice_updates_notice_id", "provider_notice_updates", ["notice_id"]
    )
    op.create_table(
        "provider_notice_resources",
        sa.Column("id", ID, nullable=False),
        sa.Column("notice_id", ID, nullable=False),
        sa.Column("resource_id", ID, nullable=False),
        sa.Column("contract_id", ID, nullable=False),
        sa.Column("customer_id", ID, nullable=False),
        sa.ForeignKeyConstraint(
            ["notice_id"],
            ["provider_notices.id"],
            name="fk_provider_notice_resources_notice_id_provider_notices",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["resource_id"],
            ["resources.id"],
            name="fk_provider_notice_resources_resource_id_resources",
        ),
        sa.ForeignKeyConstraint(
            ["contract_id"],
            ["contracts.id"],
            name="fk_provider_notice_resources_contract_id_contracts",
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name="fk_provider_notice_resources_customer_id_customers",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_provider_notice_resources"),
        sa.UniqueConstraint("notice_id", "resource_id", name="uq_provider_notice_resources_pair"),
    )
    op.create_index(
        "ix_provider_notice_resources_notice_id", "provider_notice_resources", ["notice_id"]
    )
    op.create_index(
        "ix_provider_notice_resources_customer_id", "provider_notice_resources", ["customer_id"]
    )
    op.create_table(
        "provider_notice_deliveries",
        sa.Column("id", ID, nullable=False),
        sa.Column("notice_id", ID, nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("customer_id", ID, nullable=True),
        sa.Column("outbox_id", ID, nullable=False),
        sa.ForeignKeyConstraint(
            ["notice_id"],
            ["provider_notices.id"],
            name="fk_provider_notice_deliveries_notice_id_provider_notices",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name="fk_provider_notice_deliveries_customer_id_customers",
        ),
        sa.ForeignKeyConstraint(
            ["outbox_id"], ["outbox.id"], name="fk_provider_notice_deliveries_outbox_id_outbox"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_provider_notice_deliveries"),
        sa.UniqueConstraint("outbox_id", name="uq_provider_notice_deliveries_outbox_id"),
    )
    op.create_index(
        "ix_provider_notice_deliveries_notice_id", "provider_notice_deliveries", ["notice_id"]
    )


def downgrade() -> None:
    for table in (
        "provider_notice_deliveries",
        "provider_notice_resources",
        "provider_notice_updates",
        "provider_notices",
    ):
        op.drop_table(table)
