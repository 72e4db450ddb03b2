"""maintenance windows speak the API's vocabulary: `kind`, integer `scope_ref`, `source`

A window's `reason` column held its kind (maintenance, provider_maintenance,
monitoring_fault): it becomes `kind`, so `reason` means the correction reason everywhere.
`scope_ref` held either a row id or a source name as text: ids move to an integer
`scope_ref`, source names (``zabbix`` or ``zabbix:main``) to `source`. The timeline
entries written when a window recomputed clocks said `justification`; they say `reason`.
Every existing row is kept.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
_TIMELINE = sa.table(
    "timeline", sa.column("id", sa.BigInteger()), sa.column("kind"), sa.column("detail", JSON)
)


def upgrade() -> None:
    with op.batch_alter_table("maintenance_windows") as batch:
        batch.alter_column("reason", new_column_name="kind", existing_type=sa.String(32))
        batch.add_column(sa.Column("source", sa.String(200), nullable=True))
        batch.add_column(sa.Column("scope_id", sa.BigInteger(), nullable=True))
    op.execute(
        "UPDATE maintenance_windows SET source = scope_ref, scope_ref = NULL WHERE scope = 'source'"
    )
    op.execute(
        "UPDATE maintenance_windows SET scope_id = CAST(scope_ref AS BIGINT)"
        " WHERE scope_ref IS NOT NULL"
    )
    with op.batch_alter_table("maintenance_windows") as batch:
        batch.drop_column("scope_ref")
        batch.alter_column("scope_id", new_column_name="scope_ref", existing_type=sa.BigInteger())
    _rename_timeline_key("justification", "reason")


def downgrade() -> None:
    _rename_timeline_key("reason", "justification")
    with op.batch_alter_table("maintenance_windows") as batch:
        batch.alter_column("scope_ref", new_column_name="scope_id", existing_type=sa.BigInteger())
        batch.add_column(sa.Column("scope_ref", sa.String(200), nullable=True))
    op.execute(
        "UPDATE maintenance_windows SET scope_ref = CAST(scope_id AS VARCHAR(200))"
        " WHERE scope_id IS NOT NULL"
    )
    op.execute("UPDATE maintenance_windows SET scope_ref = source WHERE scope = 'source'")
    with op.batch_alter_table("maintenance_windows") as batch:
        batch.drop_column("scope_id")
        batch.drop_column("source")
        batch.alter_column("kind", new_column_name="reason", existing_type=sa.String(32))


def _rename_timeline_key(old: str, new: str) -> None:
    """Rename a key of the detail of every `clocks_recomputed` timeline entry."""
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(_TIMELINE.c.id, _TIMELINE.c.detail).where(_TIMELINE.c.kind == "clocks_recomputed")
    ).all()
    for row_id, detail in rows:
        if detail and old in detail:
            renamed = {(new if key == old else key): value for key, value in detail.items()}
            bind.execute(_TIMELINE.update().where(_TIMELINE.c.id == row_id).values(detail=renamed))
