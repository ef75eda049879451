"""Pairs of in-memory sides for service tests: the accounts are in the store, the sides live
in this process (``MemoryWorld.open`` is the ``SideOpener``)."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

from reconciler.sides.memory import MemorySide
from reconciler.store import repo_pairs, repo_runs
from reconciler.store.db import Store
from reconciler.store.schema import AccountKind
from reconciler.store.tables import RunRow
from reconciler.sync.model import Action
from reconciler.sync.run import SidePair


@dataclass(frozen=True)
class MemoryPair:
    a: MemorySide
    b: MemorySide


class MemoryWorld:
    """The memory sides of every pair, made on first use and kept (their data persists)."""

    def __init__(self) -> None:
        self.sides: dict[str, MemoryPair] = {}
        self.opened = 0

    def pair(self, pair_id: str) -> MemoryPair:
        if pair_id not in self.sides:
            self.sides[pair_id] = MemoryPair(
                a=MemorySide(f"{pair_id}-a", id_seed=1), b=MemorySide(f"{pair_id}-b", id_seed=2)
            )
        return self.sides[pair_id]

    @asynccontextmanager
    async def open(self, pair_id: str) -> AsyncIterator[SidePair]:
        self.opened += 1
        sides = self.pair(pair_id)
        yield SidePair(a=sides.a, b=sides.b)


async def memory_pair(store: Store, name: str, *, interval_s: int = 60) -> str:
    now = datetime.now(UTC)
    async with store.transaction() as s:
        a = await repo_pairs.create_side_account(
            s, label=f"{name}-a", kind=AccountKind.MEMORY, location_id=f"{name}-a", now=now
        )
        b = await repo_pairs.create_side_account(
            s, label=f"{name}-b", kind=AccountKind.MEMORY, location_id=f"{name}-b", now=now
        )
        pair = await repo_pairs.create_pair(
            s,
            name=name,
            side_a_account_id=a.id,
            side_b_account_id=b.id,
            now=now,
            schedule_interval_s=interval_s,
        )
        return pair.id


async def runs_of(store: Store, pair_id: str) -> list[RunRow]:
    """Oldest first."""
    async with store.session() as s:
        return list(reversed(await repo_runs.list_runs(s, pair_id, limit=1000)))


async def eventually(check: Callable[[], object], *, within: float = 10.0) -> None:
    """Poll an async or plain check until it is truthy (real time: scheduler tests)."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {within}s")
        await asyncio.sleep(0.05)


class PauseAt:
    """Run hooks that stop the run at the ``n``-th ``step`` until released (a real pause)."""

    def __init__(self, name: str, n: int) -> None:
        self.name, self.n = name, n
        self.seen = 0
        self.reached = asyncio.Event()

    async def step(self, name: str, *, action: Action | None = None) -> None:
        if name == self.name:
            self.seen += 1
            if self.seen == self.n:
                self.reached.set()
                await asyncio.Event().wait()  # until the run is cancelled
