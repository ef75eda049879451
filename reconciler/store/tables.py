"""Every table of the store, and the ``metadata`` the migrations must match."""

from __future__ import annotations

from reconciler.store.schema import metadata
from reconciler.store.tables_accounts import (
    ApiKeyRow,
    PairLeaseRow,
    PairRow,
    SideAccountRow,
    WebhookReceiptRow,
)
from reconciler.store.tables_links import (
    ConflictRow,
    ContactLinkRow,
    LinkBaseRow,
    NoteLinkRow,
    OverrideRow,
)
from reconciler.store.tables_runs import AuditEventRow, JournalRow, PlanActionRow, PlanRow, RunRow
from reconciler.store.tables_snapshots import ParkedItemRow, SnapshotContactRow, SnapshotNoteRow

__all__ = [
    "ApiKeyRow",
    "AuditEventRow",
    "ConflictRow",
    "ContactLinkRow",
    "JournalRow",
    "LinkBaseRow",
    "NoteLinkRow",
    "OverrideRow",
    "PairLeaseRow",
    "PairRow",
    "ParkedItemRow",
    "PlanActionRow",
    "PlanRow",
    "RunRow",
    "SideAccountRow",
    "SnapshotContactRow",
    "SnapshotNoteRow",
    "WebhookReceiptRow",
    "metadata",
]
