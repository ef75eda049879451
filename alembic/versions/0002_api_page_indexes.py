"""Indexes for the API's keyset pages: open conflicts of all pairs newest first (the inbox),
and a pair's links newest first.

Revision ID: 0002_api_page_indexes
Revises: 0001
Create Date: 2026-11-24

Additive only: two indexes, no table or column changes.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0002_api_page_indexes"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_conflict_status_detected", "conflict", ["status", "detected_at", "id"], unique=False
    )
    op.create_index(
        "ix_contact_link_pair_status_created",
        "contact_link",
        ["pair_id", "status", "created_at", "id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_contact_link_pair_status_created", table_name="contact_link")
    op.drop_index("ix_conflict_status_detected", table_name="conflict")
