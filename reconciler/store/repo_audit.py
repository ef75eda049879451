"""The audit log: append-only, read newest first in keyset pages."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from reconciler.store.bulk import insert_rows
from reconciler.store.codec import EncodedJSON
from reconciler.store.schema import table_of
from reconciler.store.sql import before_key
from reconciler.store.tables import AuditEventRow

_AUDIT = table_of(AuditEventRow)


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One event to append. ``actor``: "run:<id>", "user:<name>", "api_key:<id>", ..."""

    actor: str
    kind: str  # e.g. "action.applied", "conflict.resolved", "override.created"
    at: datetime
    pair_id: str | None = None
    subject: str | None = None  # what it is about: a link id, a conflict id, ...
    # A mapping, or its JSON already encoded (a run encodes each applied action once).
    detail: Mapping[str, Any] | EncodedJSON = field(default_factory=dict)


async def append(s: AsyncSession, entries: Sequence[AuditEntry]) -> None:
    """Append events (one executemany per chunk; a run audits thousands of actions)."""
    rows = [
        {
            "pair_id": entry.pair_id,
            "at": entry.at,
            "actor": entry.actor,
            "kind": entry.kind,
            "subject": entry.subject,
            "detail": detail if isinstance(detail := entry.detail, EncodedJSON) else dict(detail),
        }
        for entry in entries
    ]
    await insert_rows(s, _AUDIT, rows)


async def list_events(
    s: AsyncSession,
    *,
    pair_id: str | None = None,
    kind: str | None = None,
    subject: str | None = None,
    limit: int = 50,
    before: tuple[datetime, int] | None = None,
) -> list[AuditEventRow]:
    """Newest first; ``before`` is the (at, id) of the previous page's last event."""
    query = select(AuditEventRow)
    if pair_id is not None:
        query = query.where(_AUDIT.c.pair_id == pair_id)
    if kind is not None:
        query = query.where(_AUDIT.c.kind == kind)
    if subject is not None:
        query = query.where(_AUDIT.c.subject == subject)
    if before is not None:
        query = query.where(before_key(_AUDIT.c.at, _AUDIT.c.id, before))
    query = query.order_by(_AUDIT.c.at.desc(), _AUDIT.c.id.desc()).limit(limit)
    result = await s.execute(query.execution_options(populate_existing=True))
    return list(result.scalars())
