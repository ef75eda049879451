"""Per-request DataLoaders: every object a response needs, loaded in sets.

A page of 50 conflicts with their links, both sides' snapshots, bases and note links costs one
statement per kind of object, not one per conflict (the N+1 problem). Loaders live in the
request's context, so nothing is cached across requests (or across subscription events, which
start a fresh set).
"""

from __future__ import annotations

from asyncio import Future
from collections.abc import Awaitable, Callable, Hashable, Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.dataloader import DataLoader

from reconciler.service.pairs import requests_spent
from reconciler.store import repo_console
from reconciler.store.db import Store
from reconciler.store.repo_console import SnapshotKey
from reconciler.store.repo_links import Link
from reconciler.store.tables import (
    AuditEventRow,
    ConflictRow,
    LinkBaseRow,
    NoteLinkRow,
    OverrideRow,
    PairRow,
    PlanRow,
    RunRow,
    SideAccountRow,
    SnapshotContactRow,
    SnapshotNoteRow,
)

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
Fetch = Callable[[AsyncSession, list[K]], Awaitable[dict[K, V]]]


class Loaders:
    def __init__(self, store: Store, clock: Callable[[], datetime]) -> None:
        self._store = store
        self._clock = clock
        self.pair = self._one(repo_console.pairs_by_id, PairRow)
        self.account = self._one(repo_console.accounts_by_id, SideAccountRow)
        self.link = self._one(repo_console.links_by_id, Link)
        self.conflict = self._one(repo_console.conflicts_by_id, ConflictRow)
        self.run = self._one(repo_console.runs_by_id, RunRow)
        self.plan = self._one(repo_console.plans_by_id, PlanRow)
        self.override = self._one(repo_console.overrides_by_id, OverrideRow)
        self.audit_event = self._one(repo_console.audit_events_by_id, AuditEventRow)
        self.base = self._one(repo_console.base_rows, LinkBaseRow)
        self.snapshot_contact = self._one(repo_console.snapshot_contacts, SnapshotContactRow)
        self.last_run = self._one(repo_console.last_runs, RunRow)
        self.note_links: DataLoader[str, list[NoteLinkRow]] = self._many(repo_console.note_links_of)
        self.snapshot_notes: DataLoader[SnapshotKey, list[SnapshotNoteRow]] = self._many(
            repo_console.snapshot_notes
        )
        self.open_conflicts_of_link: DataLoader[str, list[ConflictRow]] = self._many(
            repo_console.open_conflicts_of_links
        )
        self.overrides_of_link: DataLoader[str, list[OverrideRow]] = self._many(
            repo_console.active_overrides_of_links
        )
        self.open_conflict_count: DataLoader[str, int] = self._default(
            repo_console.open_conflict_counts, 0
        )
        self.plan_counts: DataLoader[str, dict[str, int]] = self._many_dict(
            repo_console.plan_action_counts
        )
        self.spent_today: DataLoader[str, dict[str, int]] = self._many_dict(self._spent_today)

    def _batch(self, fetch: Fetch[K, V], missing: Callable[[], Any]) -> DataLoader[K, Any]:
        async def load(keys: list[K]) -> Sequence[Any]:
            async with self._store.session() as s:
                found = await fetch(s, keys)
            return [found[key] if key in found else missing() for key in keys]

        return DataLoader(load_fn=load)

    def _one(self, fetch: Fetch[K, V], _kind: type[V]) -> DataLoader[K, V | None]:
        return self._batch(fetch, lambda: None)

    def _many(self, fetch: Fetch[K, list[V]]) -> DataLoader[K, list[V]]:
        return self._batch(fetch, list)

    def _many_dict(self, fetch: Fetch[K, dict[str, int]]) -> DataLoader[K, dict[str, int]]:
        return self._batch(fetch, dict)

    def _default(self, fetch: Fetch[K, int], value: int) -> DataLoader[K, int]:
        return self._batch(fetch, lambda: value)

    async def _spent_today(self, s: AsyncSession, pair_ids: list[str]) -> dict[str, dict[str, int]]:
        """Requests spent per pair and side by runs started in the last 24 hours."""
        since = self._clock() - timedelta(days=1)
        out: dict[str, dict[str, int]] = {}
        for run in await repo_console.runs_since(s, pair_ids, since):
            per = out.setdefault(run.pair_id, {"a": 0, "b": 0})
            per["a"] += requests_spent(run, "a")
            per["b"] += requests_spent(run, "b")
        return out


R = TypeVar("R")


def held(loader: DataLoader[K, V], key: K) -> Future[V] | None:
    """The finished future of ``key`` if ``loader`` already holds its value (loaded or
    primed); None otherwise."""
    future = loader.cache_map.get(key)
    if future is None or not future.done() or future.cancelled():
        return None
    return future if future.exception() is None else None


def now_or_later(loader: DataLoader[K, V], key: K, build: Callable[[V], R]) -> R | Awaitable[R]:
    """``build(value)`` at once when the loader holds the value, else an awaitable of it.

    A resolver returning a plain value costs graphql-core a fraction of an awaited one (no
    task, no scheduling): with a page prefetched, a 50-conflict page with details resolves
    its relations without a single await. graphql-core awaits the awaitable otherwise.
    """
    future = held(loader, key)
    if future is not None:
        return build(future.result())

    async def later() -> R:
        return build(await loader.load(key))

    return later()
