"""Conflicts: opened (or refreshed) by scope, resolved by people, closed when they no longer hold.

At most one open conflict exists per (pair, link, kind, scope); the database enforces it with a
partial unique index, and ``upsert_open_conflicts`` relies on it: opening a conflict on a scope
that already has one refreshes that one (new values, same id) instead of adding a second.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, text, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from reconciler.errors import StoreConflictError
from reconciler.store.codec import reason_to_json, resolution_from_json, resolution_to_json
from reconciler.store.schema import ConflictStatus, table_of
from reconciler.store.sql import before_key, chunks, rowcount, unique, upsert
from reconciler.store.tables import ConflictRow
from reconciler.store.types import new_id
from reconciler.sync.model import ConflictKind, ConflictSpec, OpenConflictRef, Resolution

_CONFLICT = table_of(ConflictRow)
_OPEN_PREDICATE = text("status = 'open'")
_ACTIVE = (ConflictStatus.OPEN.value, ConflictStatus.RESOLVED.value)

ScopeKey = tuple[str, str, str]  # (link key, kind, scope)


def link_key(link_id: str | None) -> str:
    """The value of ``conflict.link_key``: the link id, or "" for a conflict on no link."""
    return link_id or ""


@dataclass(frozen=True, slots=True)
class UpsertedConflicts:
    ids: list[str]  # one per spec, in the order given
    new_ids: list[str]  # those that were not open before (what a run counts as opened)


async def upsert_open_conflicts(
    s: AsyncSession, pair_id: str, specs: Sequence[ConflictSpec], *, now: datetime
) -> UpsertedConflicts:
    """Open these conflicts, or refresh the open one on the same scope (values, reason)."""
    if not specs:
        return UpsertedConflicts(ids=[], new_ids=[])
    keys = [(link_key(spec.link_id), spec.kind.value, spec.scope) for spec in specs]
    before = await _open_ids(s, pair_id, keys)
    rows = [
        {
            "id": new_id(),
            "pair_id": pair_id,
            "link_id": spec.link_id,
            "link_key": link_key(spec.link_id),
            "kind": spec.kind.value,
            "scope": spec.scope,
            "status": ConflictStatus.OPEN.value,
            "base_value": spec.base_value,
            "a_value": spec.a_value,
            "b_value": spec.b_value,
            "reason": reason_to_json(spec.reason),
            "proposed": resolution_to_json(spec.proposed) if spec.proposed else None,
            "detected_at": now,
            "updated_at": now,
        }
        for spec in specs
    ]
    for batch in chunks(rows):
        stmt = upsert(s, _CONFLICT)
        stmt = stmt.on_conflict_do_update(
            index_elements=[
                _CONFLICT.c.pair_id,
                _CONFLICT.c.link_key,
                _CONFLICT.c.kind,
                _CONFLICT.c.scope,
            ],
            index_where=_OPEN_PREDICATE,
            set_={
                name: stmt.excluded[name]
                for name in ("base_value", "a_value", "b_value", "reason", "proposed", "updated_at")
            },
        )
        await s.execute(stmt, batch)
    after = await _open_ids(s, pair_id, keys)
    ids = [after[key] for key in keys]
    return UpsertedConflicts(
        ids=ids, new_ids=unique(after[key] for key in keys if key not in before)
    )


async def _open_ids(s: AsyncSession, pair_id: str, keys: Sequence[ScopeKey]) -> dict[ScopeKey, str]:
    out: dict[ScopeKey, str] = {}
    key_columns = tuple_(_CONFLICT.c.link_key, _CONFLICT.c.kind, _CONFLICT.c.scope)
    for batch in chunks(unique(keys), 500):
        result = await s.execute(
            select(_CONFLICT.c.id, _CONFLICT.c.link_key, _CONFLICT.c.kind, _CONFLICT.c.scope).where(
                _CONFLICT.c.pair_id == pair_id,
                _CONFLICT.c.status == ConflictStatus.OPEN.value,
                key_columns.in_(batch),
            )
        )
        out.update(((row.link_key, row.kind, row.scope), row.id) for row in result)
    return out


async def get_conflict(s: AsyncSession, conflict_id: str) -> ConflictRow | None:
    return await s.get(ConflictRow, conflict_id, populate_existing=True)


async def resolve_conflict(
    s: AsyncSession,
    conflict_id: str,
    resolution: Resolution,
    *,
    resolved_by: str,
    now: datetime,
) -> ConflictRow:
    """Record a person's choice on an OPEN conflict; the next run applies it and closes it.

    ``StoreConflictError`` if the conflict is not open (already resolved, closed, or unknown):
    the check and the change are one conditional UPDATE, so two people cannot both resolve.
    """
    result = await s.execute(
        update(_CONFLICT)
        .where(_CONFLICT.c.id == conflict_id, _CONFLICT.c.status == ConflictStatus.OPEN.value)
        .values(
            status=ConflictStatus.RESOLVED.value,
            resolution=resolution_to_json(resolution),
            resolved_by=resolved_by,
            resolved_at=now,
            updated_at=now,
        )
    )
    if rowcount(result) != 1:
        raise StoreConflictError(f"conflict {conflict_id} is not open")
    row = await get_conflict(s, conflict_id)
    assert row is not None  # just updated in this transaction
    return row


async def close_conflicts(s: AsyncSession, conflict_ids: Collection[str], *, now: datetime) -> int:
    """Close open or resolved conflicts (no longer hold, or resolution applied); the count."""
    closed = 0
    for batch in chunks(unique(conflict_ids)):
        result = await s.execute(
            update(_CONFLICT)
            .where(_CONFLICT.c.id.in_(batch), _CONFLICT.c.status.in_(_ACTIVE))
            .values(status=ConflictStatus.CLOSED.value, updated_at=now)
        )
        closed += rowcount(result)
    return closed


async def active_conflict_refs(
    s: AsyncSession, pair_id: str, link_ids: Collection[str] | None = None
) -> dict[str, list[OpenConflictRef]]:
    """Open and resolved-but-unapplied conflicts by link key ("" for those on no link).

    ``link_ids`` None: all of the pair's (including those on no link).
    """
    base = select(
        _CONFLICT.c.id,
        _CONFLICT.c.link_key,
        _CONFLICT.c.kind,
        _CONFLICT.c.scope,
        _CONFLICT.c.resolution,
    ).where(_CONFLICT.c.pair_id == pair_id, _CONFLICT.c.status.in_(_ACTIVE))
    queries = (
        [base]
        if link_ids is None
        else [base.where(_CONFLICT.c.link_key.in_(b)) for b in chunks(unique(link_ids))]
    )
    out: dict[str, list[OpenConflictRef]] = {}
    for query in queries:
        for row in await s.execute(query.order_by(_CONFLICT.c.detected_at, _CONFLICT.c.id)):
            out.setdefault(row.link_key, []).append(
                OpenConflictRef(
                    conflict_id=row.id,
                    kind=ConflictKind(row.kind),
                    scope=row.scope,
                    resolution=resolution_from_json(row.resolution) if row.resolution else None,
                )
            )
    return out


async def list_conflicts(
    s: AsyncSession,
    *,
    pair_id: str | None = None,
    status: ConflictStatus | None = None,
    kind: ConflictKind | None = None,
    link_id: str | None = None,
    limit: int = 50,
    before: tuple[datetime, str] | None = None,
) -> list[ConflictRow]:
    """Newest first; ``before`` is the (detected_at, id) of the last row of the previous page."""
    query = select(ConflictRow)
    filters: list[Any] = []
    if pair_id is not None:
        filters.append(_CONFLICT.c.pair_id == pair_id)
    if status is not None:
        filters.append(_CONFLICT.c.status == ConflictStatus(status).value)
    if kind is not None:
        filters.append(_CONFLICT.c.kind == ConflictKind(kind).value)
    if link_id is not None:
        filters.append(_CONFLICT.c.link_id == link_id)
    if before is not None:
        filters.append(before_key(_CONFLICT.c.detected_at, _CONFLICT.c.id, before))
    query = query.where(*filters).order_by(_CONFLICT.c.detected_at.desc(), _CONFLICT.c.id.desc())
    result = await s.execute(query.limit(limit).execution_options(populate_existing=True))
    return list(result.scalars())


async def count_conflicts(
    s: AsyncSession, pair_id: str, *, status: ConflictStatus = ConflictStatus.OPEN
) -> int:
    total = await s.scalar(
        select(func.count()).where(
            _CONFLICT.c.pair_id == pair_id, _CONFLICT.c.status == ConflictStatus(status).value
        )
    )
    return int(total or 0)
