"""What every stage of one run shares: the pair's sides, the store, the clock, the hooks, and
the tally the run report is made from. (``run.py`` re-exports ``SidePair`` and ``RunHooks``:
they are part of the run API.)"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from reconciler.sides.base import Side, SideName
from reconciler.store.db import Store
from reconciler.sync.model import Action, PairPolicy

Clock = Callable[[], datetime]
T = TypeVar("T")


@dataclass(frozen=True)
class SidePair:
    """The pair's two sides for one run.

    ``write_guard``: called before each wave of side writes (after its intents are committed);
    it raises to stop the run there, e.g. ``LeaseLostError`` when the sides were opened under
    a pair lease that may have run out (``reconciler.service.lease``). The journal makes such
    a stop safe, like a crash.
    """

    a: Side
    b: Side
    write_guard: Callable[[], None] | None = None

    def side(self, name: SideName) -> Side:
        return self.a if name == "a" else self.b


class RunHooks(Protocol):
    """Called at every journal step (see ``run``); crash tests raise ``SimulatedCrash``."""

    async def step(self, name: str, *, action: Action | None = None) -> None: ...


class NoHooks:
    async def step(self, name: str, *, action: Action | None = None) -> None:
        return None


@dataclass(slots=True)
class Tally:
    """What the run did, as the report and the run row record it."""

    counts: dict[str, int] = field(default_factory=dict)  # applied actions per kind
    conflicts_opened: int = 0
    conflicts_closed: int = 0
    parked: int = 0
    errors: list[str] = field(default_factory=list)
    complete: dict[str, bool] = field(default_factory=dict)
    fatal: str | None = None  # set when the run had to stop (credentials, budget, ...)

    def count(self, kind: str) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + 1

    def error(self, message: str) -> None:
        # A run with thousands of failures keeps the first ones; the journal has them all.
        if len(self.errors) < 200:
            self.errors.append(message)


@dataclass(slots=True)
class RunContext:
    store: Store
    pair_id: str
    run_id: str
    sides: SidePair
    policy: PairPolicy
    clock: Clock
    hooks: RunHooks
    started_at: datetime
    dry_run: bool
    tally: Tally = field(default_factory=Tally)
    # Existing contacts this run linked because a side refused a create as their duplicate:
    # the side's duplicate rule is its own, so they may sit in a later batch's pool.
    adopted: set[tuple[SideName, str]] = field(default_factory=set)
    # Held by ``side_transaction`` (see there).
    store_turn: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def actor(self) -> str:
        return f"run:{self.run_id}"

    def side(self, name: SideName) -> Side:
        return self.sides.side(name)

    def now(self) -> datetime:
        return self.clock()

    @asynccontextmanager
    async def side_transaction(self) -> AsyncIterator[AsyncSession]:
        """A store transaction of one side's task while the other side's runs beside it (the
        listings, the note readings): the two take turns. SQLite has one writer, and a second
        one waits in its busy handler, which sleeps in steps of up to 100 ms instead of waking
        when the first commits; taking turns here, the waiting side wakes at once (and its
        reading goes on meanwhile). PostgreSQL takes the same turns: one code path, and a
        side's batch costs the store little next to reading it. No transaction may be opened
        inside this one (the turn is not re-entrant)."""
        async with self.store_turn, self.store.transaction() as session:
            yield session

    async def both_sides(self, work: Callable[[SideName], Awaitable[T]]) -> dict[SideName, T]:
        """``work`` for side A and side B side by side (different accounts, each with its
        own budget). Both run to their end, so what one side did is stored even when the
        other fails; then the first failure is raised."""
        results = await asyncio.gather(work("a"), work("b"), return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result
        done: list[T] = [r for r in results if not isinstance(r, BaseException)]
        return {"a": done[0], "b": done[1]}

    async def step(self, name: str, action: Action | None = None) -> None:
        await self.hooks.step(name, action=action)
