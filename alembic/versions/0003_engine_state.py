"""Engine state: what the reconciliation engine records beside the snapshots and runs.

Revision ID: 0003_engine_state
Revises: 0002_api_page_indexes
Create Date: 2026-11-25

- snapshot_contact: ``settled_hash`` (the content hash the engine last finished processing, so a
  run diffs only rows whose hash moved), ``email_key``/``phone_key`` (matching lookups),
  ``deleted_at`` (deletion confirmed by a 404), ``retired_at`` (survivor of a deleted peer),
  with partial indexes for each lookup;
- pair.scan: the engine's scan settings (full-scan interval, notes budget and period);
- plan.context: what a stored plan needs to be re-checked before it is applied;
- run.conflicts_closed, run.parked.

Every new column is nullable: existing rows need no default, and the schema comparison test
stays exact on both databases.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision: str = "0003_engine_state"
down_revision: str | None = "0002_api_page_indexes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_DATETIME = sa.DateTime(timezone=True)
JSON_DOC = sa.JSON(none_as_null=True).with_variant(
    postgresql.JSONB(none_as_null=True), "postgresql"
)
_UNSETTLED = "hash IS NOT NULL AND (settled_hash IS NULL OR settled_hash <> hash)"


def upgrade() -> None:
    with op.batch_alter_table("snapshot_contact") as batch:
        batch.add_column(sa.Column("settled_hash", sa.String(), nullable=True))
        batch.add_column(sa.Column("email_key", sa.String(), nullable=True))
        batch.add_column(sa.Column("phone_key", sa.String(), nullable=True))
        batch.add_column(sa.Column("deleted_at", UTC_DATETIME, nullable=True))
        batch.add_column(sa.Column("retired_at", UTC_DATETIME, nullable=True))
    op.create_index(
        "ix_snapshot_contact_unsettled",
        "snapshot_contact",
        ["pair_id", "side", "contact_id"],
        unique=False,
        sqlite_where=sa.text(_UNSETTLED),
        postgresql_where=sa.text(_UNSETTLED),
    )
    op.create_index(
        "ix_snapshot_contact_deleted",
        "snapshot_contact",
        ["pair_id", "side"],
        unique=False,
        sqlite_where=sa.text("deleted_at IS NOT NULL"),
        postgresql_where=sa.text("deleted_at IS NOT NULL"),
    )
    op.create_index(
        "ix_snapshot_contact_email_key",
        "snapshot_contact",
        ["email_key", "pair_id"],
        unique=False,
        sqlite_where=sa.text("email_key IS NOT NULL"),
        postgresql_where=sa.text("email_key IS NOT NULL"),
    )
    op.create_index(
        "ix_snapshot_contact_phone_key",
        "snapshot_contact",
        ["phone_key", "pair_id"],
        unique=False,
        sqlite_where=sa.text("phone_key IS NOT NULL"),
        postgresql_where=sa.text("phone_key IS NOT NULL"),
    )
    with op.batch_alter_table("pair") as batch:
        batch.add_column(sa.Column("scan", JSON_DOC, nullable=True))
    with op.batch_alter_table("plan") as batch:
        batch.add_column(sa.Column("context", JSON_DOC, nullable=True))
    with op.batch_alter_table("run") as batch:
        batch.add_column(sa.Column("conflicts_closed", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("parked", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("run") as batch:
        batch.drop_column("parked")
        batch.drop_column("conflicts_closed")
    with op.batch_alter_table("plan") as batch:
        batch.drop_column("context")
    with op.batch_alter_table("pair") as batch:
        batch.drop_column("scan")
    op.drop_index("ix_snapshot_contact_phone_key", table_name="snapshot_contact")
    op.drop_index("ix_snapshot_contact_email_key", table_name="snapshot_contact")
    op.drop_index("ix_snapshot_contact_deleted", table_name="snapshot_contact")
    op.drop_index("ix_snapshot_contact_unsettled", table_name="snapshot_contact")
    with op.batch_alter_table("snapshot_contact") as batch:
        batch.drop_column("retired_at")
        batch.drop_column("deleted_at")
        batch.drop_column("phone_key")
        batch.drop_column("email_key")
        batch.drop_column("settled_hash")
