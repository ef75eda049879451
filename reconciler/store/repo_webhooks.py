"""Webhook receipts: the replay guard's memory of deliveries already accepted."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from reconciler.store.schema import table_of
from reconciler.store.sql import rowcount, upsert
from reconciler.store.tables import WebhookReceiptRow

_RECEIPT = table_of(WebhookReceiptRow)


async def record_webhook(s: AsyncSession, webhook_id: str, *, received_at: datetime) -> bool:
    """True the first time a ``webhookId`` is seen, False for a replay (one statement, so two
    concurrent deliveries of the same id cannot both be accepted)."""
    stmt = (
        upsert(s, _RECEIPT)
        .values(webhook_id=webhook_id, received_at=received_at)
        .on_conflict_do_nothing(index_elements=[_RECEIPT.c.webhook_id])
    )
    # INSERTs report their row count only when asked to.
    result = await s.execute(stmt.execution_options(preserve_rowcount=True))
    return rowcount(result) == 1


async def prune_webhooks(s: AsyncSession, *, received_before: datetime) -> int:
    """Forget receipts older than the replay window (stale deliveries are refused anyway)."""
    result = await s.execute(delete(_RECEIPT).where(_RECEIPT.c.received_at < received_before))
    return rowcount(result)
