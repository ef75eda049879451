"""Conflict business operations: resolve one, resolve many, each with an audit event.

A resolution is stored on the conflict (status ``resolved``); the next run of the pair
carries it out and closes the conflict. ``apply_now`` callers start that run themselves
(``runs.start_run``), so these functions never talk to the sides.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from reconciler.errors import StoreConflictError
from reconciler.service import events
from reconciler.service.errors import (
    InvalidInputError,
    ServiceError,
    StateConflictError,
    UnknownObjectError,
)
from reconciler.service.resolutions import check_resolution
from reconciler.store import repo_audit, repo_conflicts, repo_links
from reconciler.store.codec import resolution_to_json
from reconciler.store.db import Store
from reconciler.store.schema import ConflictStatus
from reconciler.store.tables import ConflictRow
from reconciler.store.types import utcnow
from reconciler.sync.model import ConflictKind, Resolution, ResolutionChoice

Clock = Callable[[], datetime]
MAX_BULK = 100


@dataclass(frozen=True, slots=True)
class BulkFailure:
    index: int  # position in the ids given
    conflict_id: str
    error: ServiceError


@dataclass(frozen=True, slots=True)
class BulkResult:
    resolved: list[ConflictRow]
    failures: list[BulkFailure]


async def resolve_conflict(
    store: Store,
    conflict_id: str,
    resolution: Resolution,
    *,
    actor: str,
    clock: Clock = utcnow,
    bus: events.EventBus | None = None,
) -> ConflictRow:
    """Record ``resolution`` on an open conflict; it takes effect in the pair's next run."""
    now = clock()
    async with store.transaction() as s:
        row = await _resolve_one(s, conflict_id, resolution, actor=actor, now=now)
    (bus or events.bus).publish(events.ConflictResolved(row.pair_id, row.id, actor))
    return row


async def resolve_conflicts(
    store: Store,
    conflict_ids: Sequence[str],
    resolution: Resolution,
    *,
    actor: str,
    clock: Clock = utcnow,
    bus: events.EventBus | None = None,
) -> BulkResult:
    """Resolve many conflicts the same way; those that cannot be resolved are reported, the
    others are resolved (one transaction)."""
    if not conflict_ids:
        raise InvalidInputError("give at least one conflict", field="ids")
    if len(conflict_ids) > MAX_BULK:
        raise InvalidInputError(f"at most {MAX_BULK} conflicts at once", field="ids")
    now = clock()
    resolved: list[ConflictRow] = []
    failures: list[BulkFailure] = []
    seen: set[str] = set()
    async with store.transaction() as s:
        for index, conflict_id in enumerate(conflict_ids):
            if conflict_id in seen:
                continue
            seen.add(conflict_id)
            try:
                row = await _resolve_one(s, conflict_id, resolution, actor=actor, now=now)
            except ServiceError as error:
                failures.append(BulkFailure(index, conflict_id, error))
            else:
                resolved.append(row)
    for row in resolved:
        (bus or events.bus).publish(events.ConflictResolved(row.pair_id, row.id, actor))
    return BulkResult(resolved=resolved, failures=failures)


async def _resolve_one(
    s: AsyncSession, conflict_id: str, resolution: Resolution, *, actor: str, now: datetime
) -> ConflictRow:
    current = await repo_conflicts.get_conflict(s, conflict_id)
    if current is None:
        raise UnknownObjectError("no such conflict", field="id")
    if current.status != ConflictStatus.OPEN.value:
        raise StateConflictError(f"the conflict is {current.status}, not open", field="id")
    check_resolution(ConflictKind(current.kind), resolution)
    if resolution.choice is ResolutionChoice.BASE and current.kind == ConflictKind.FIELD.value:
        await _check_agreed_field(s, current)
    try:
        row = await repo_conflicts.resolve_conflict(
            s, conflict_id, resolution, resolved_by=actor, now=now
        )
    except StoreConflictError as exc:
        # Someone else resolved it between our read and our conditional update.
        raise StateConflictError("the conflict was resolved meanwhile", field="id") from exc
    await repo_audit.append(
        s,
        [
            repo_audit.AuditEntry(
                actor=actor,
                kind="conflict.resolved",
                at=now,
                pair_id=row.pair_id,
                subject=row.id,
                detail={
                    "kind": row.kind,
                    "scope": row.scope,
                    "link_id": row.link_id,
                    "resolution": resolution_to_json(resolution),
                },
            )
        ],
    )
    return row


async def _check_agreed_field(s: AsyncSession, conflict: ConflictRow) -> None:
    """BASE for a field needs an agreed value to go back to: a field that differed when its
    contacts were first matched never had one (the engine would refuse it one run later)."""
    bases = await repo_links.load_bases(s, [conflict.link_id]) if conflict.link_id else {}
    base = bases.get(conflict.link_id or "")
    if base is None or conflict.scope not in base.fields:
        raise InvalidInputError(
            f"{conflict.scope} never had an agreed value: choose A, B or a custom value",
            field="choice",
        )
