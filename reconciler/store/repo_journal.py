"""The write journal and parked items.

Journal rule (DESIGN.md, invariant 7): a write's intent is committed BEFORE the call to the
side, its result (with the new base, same transaction) after it. After a crash, ``pending``
lists the intents whose outcome is unknown; the engine checks the side for their effect before
trying again (no duplicates).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from reconciler.sides.base import SideName
from reconciler.store.bulk import insert_rows
from reconciler.store.codec import action_from_json, encode_action
from reconciler.store.schema import JournalStatus, table_of
from reconciler.store.sql import rowcount, upsert
from reconciler.store.tables import JournalRow, ParkedItemRow
from reconciler.sync.model import Action

_JOURNAL = table_of(JournalRow)
_PARKED = table_of(ParkedItemRow)


@dataclass(frozen=True, slots=True)
class JournalEntry:
    id: int
    run_id: str
    pair_id: str
    seq: int
    action: Action
    status: JournalStatus
    intent_at: datetime
    done_at: datetime | None
    result: Mapping[str, Any] | None
    error: str | None


def _entry(row: Any) -> JournalEntry:
    return JournalEntry(
        id=row.id,
        run_id=row.run_id,
        pair_id=row.pair_id,
        seq=row.seq,
        action=action_from_json(row.action),
        status=JournalStatus(row.status),
        intent_at=row.intent_at,
        done_at=row.done_at,
        result=row.result,
        error=row.error,
    )


async def append_intents(
    s: AsyncSession,
    run_id: str,
    pair_id: str,
    actions: Sequence[Action],
    *,
    now: datetime,
) -> list[JournalEntry]:
    """Record the intent of these writes (pending), numbered after the run's last entry.

    Commit before making the calls. Returns the entries in the order of ``actions``.
    """
    if not actions:
        return []
    last = await s.scalar(select(func.max(_JOURNAL.c.seq)).where(_JOURNAL.c.run_id == run_id))
    first = int(last or 0) + 1
    rows = [
        {
            "run_id": run_id,
            "pair_id": pair_id,
            "seq": first + offset,
            "action": encode_action(action),
            "status": JournalStatus.PENDING.value,
            "intent_at": now,
        }
        for offset, action in enumerate(actions)
    ]
    await insert_rows(s, _JOURNAL, rows)
    # Only the ids are read back: the rest is what was just written (decoding every action
    # again cost more than inserting it).
    result = await s.execute(
        select(_JOURNAL.c.id, _JOURNAL.c.seq).where(
            _JOURNAL.c.run_id == run_id, _JOURNAL.c.seq >= first
        )
    )
    ids = {seq: entry_id for entry_id, seq in result}
    return [
        JournalEntry(
            id=ids[first + offset],
            run_id=run_id,
            pair_id=pair_id,
            seq=first + offset,
            action=action,
            status=JournalStatus.PENDING,
            intent_at=now,
            done_at=None,
            result=None,
            error=None,
        )
        for offset, action in enumerate(actions)
    ]


async def mark_done(
    s: AsyncSession, entry_id: int, *, result: Mapping[str, Any] | None, now: datetime
) -> bool:
    """The write happened; ``result`` holds what the side answered (e.g. a new note id)."""
    return await _finish(s, entry_id, JournalStatus.DONE, now, result=dict(result or {}))


async def mark_parked(s: AsyncSession, entry_id: int, *, error: str, now: datetime) -> bool:
    """The side refused the write permanently; the item is parked, the run goes on."""
    return await _finish(s, entry_id, JournalStatus.PARKED, now, error=error)


async def mark_failed(s: AsyncSession, entry_id: int, *, error: str, now: datetime) -> bool:
    """The write did not happen and will not be retried from this entry."""
    return await _finish(s, entry_id, JournalStatus.FAILED, now, error=error)


async def _finish(
    s: AsyncSession,
    entry_id: int,
    status: JournalStatus,
    now: datetime,
    *,
    result: dict[str, Any] | None = None,
    error: str | None = None,
) -> bool:
    # Only a pending entry may be finished: a replayed finish cannot overwrite an outcome.
    outcome = await s.execute(
        update(_JOURNAL)
        .where(_JOURNAL.c.id == entry_id, _JOURNAL.c.status == JournalStatus.PENDING.value)
        .values(status=status.value, done_at=now, result=result, error=error)
    )
    return rowcount(outcome) == 1


async def pending(s: AsyncSession, pair_id: str) -> list[JournalEntry]:
    """Intents of the pair whose outcome is unknown (left by a crash), oldest first."""
    result = await s.execute(
        select(_JOURNAL)
        .where(_JOURNAL.c.pair_id == pair_id, _JOURNAL.c.status == JournalStatus.PENDING.value)
        .order_by(_JOURNAL.c.id)
    )
    return [_entry(row) for row in result]


async def run_entries(s: AsyncSession, run_id: str) -> list[JournalEntry]:
    result = await s.execute(
        select(_JOURNAL).where(_JOURNAL.c.run_id == run_id).order_by(_JOURNAL.c.seq)
    )
    return [_entry(row) for row in result]


# ------------------------------------------------------------------------------ parked items


async def park(
    s: AsyncSession,
    pair_id: str,
    side: SideName,
    item_kind: str,
    item_id: str,
    *,
    error: str,
    now: datetime,
) -> None:
    """Park an item with its error; parking it again counts an attempt and keeps first seen."""
    stmt = upsert(s, _PARKED).values(
        pair_id=pair_id,
        side=side,
        item_kind=item_kind,
        item_id=item_id,
        error=error,
        first_seen_at=now,
        last_seen_at=now,
        attempts=1,
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=[_PARKED.c.pair_id, _PARKED.c.side, _PARKED.c.item_kind, _PARKED.c.item_id],
        set_={
            "error": stmt.excluded.error,
            "last_seen_at": stmt.excluded.last_seen_at,
            "attempts": _PARKED.c.attempts + 1,
        },
    )
    await s.execute(stmt)


async def unpark(
    s: AsyncSession, pair_id: str, side: SideName, item_kind: str, item_id: str
) -> bool:
    result = await s.execute(
        delete(_PARKED).where(
            _PARKED.c.pair_id == pair_id,
            _PARKED.c.side == side,
            _PARKED.c.item_kind == item_kind,
            _PARKED.c.item_id == item_id,
        )
    )
    return rowcount(result) == 1


async def list_parked(
    s: AsyncSession,
    pair_id: str,
    *,
    side: SideName | None = None,
    item_kind: str | None = None,
    limit: int = 100,
) -> list[ParkedItemRow]:
    """Most recently seen first."""
    query = select(ParkedItemRow).where(_PARKED.c.pair_id == pair_id)
    if side is not None:
        query = query.where(_PARKED.c.side == side)
    if item_kind is not None:
        query = query.where(_PARKED.c.item_kind == item_kind)
    query = query.order_by(_PARKED.c.last_seen_at.desc(), _PARKED.c.id.desc()).limit(limit)
    result = await s.execute(query.execution_options(populate_existing=True))
    return list(result.scalars())


async def parked_ids(s: AsyncSession, pair_id: str, side: SideName, item_kind: str) -> set[str]:
    """Ids of the parked items of one kind on one side (for a run to skip them)."""
    result = await s.execute(
        select(_PARKED.c.item_id).where(
            _PARKED.c.pair_id == pair_id,
            _PARKED.c.side == side,
            _PARKED.c.item_kind == item_kind,
        )
    )
    return set(result.scalars())
