"""Engine test fixtures: a pair of in-memory sides over a real store (SQLite and PostgreSQL,
through the top-level ``store`` fixture), a controllable clock, and helpers to run and to
check what the sides hold."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import pytest

from reconciler.sides import labels
from reconciler.sides.base import Side
from reconciler.sides.memory import MemorySide
from reconciler.store import repo_pairs
from reconciler.store.db import Store
from reconciler.store.schema import AccountKind
from reconciler.sync.model import PairPolicy
from reconciler.sync.run import RunHooks, RunReport, SidePair, apply_plan, reconcile

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class Clock:
    """Time that moves only when a test moves it (millisecond precision, like HighLevel)."""

    def __init__(self, start: datetime = START) -> None:
        self.now = start
        self.step = timedelta(0)  # how far each reading moves the time (0: frozen)

    def __call__(self) -> datetime:
        self.now += self.step
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class Env:
    # How far each run (or plan application) is after the previous one.
    spacing_s: ClassVar[float] = 60.0

    store: Store
    pair_id: str
    a: MemorySide
    b: MemorySide
    clock: Clock
    reports: list[RunReport] = field(default_factory=list)

    @property
    def sides(self) -> SidePair:
        return SidePair(a=self.a, b=self.b)

    async def run(
        self, *, hooks: RunHooks | None = None, advance_s: float | None = None, **kwargs: Any
    ) -> RunReport:
        """One run, ``spacing_s`` after the previous one (unless told otherwise)."""
        self.clock.advance(seconds=self.spacing_s if advance_s is None else advance_s)
        report = await reconcile(
            self.store, self.pair_id, self.sides, clock=self.clock, hooks=hooks, **kwargs
        )
        self.reports.append(report)
        return report

    async def apply(self, plan_id: str, *, hooks: RunHooks | None = None) -> RunReport:
        self.clock.advance(seconds=self.spacing_s)
        report = await apply_plan(self.store, plan_id, self.sides, clock=self.clock, hooks=hooks)
        self.reports.append(report)
        return report

    async def set_policy(self, **changes: Any) -> None:
        async with self.store.transaction() as s:
            pair = await repo_pairs.get_pair(s, self.pair_id)
            assert pair is not None
            policy = repo_pairs.pair_policy(pair)
            fields = {f: getattr(policy, f) for f in policy.__dataclass_fields__}
            fields.update(changes)
            await repo_pairs.update_pair(
                s, self.pair_id, now=self.clock(), policy=PairPolicy(**fields)
            )

    async def set_scan(self, **settings: Any) -> None:
        from reconciler.store.tables import PairRow

        async with self.store.transaction() as s:
            pair = await s.get(PairRow, self.pair_id)
            assert pair is not None
            pair.scan = {**(pair.scan or {}), **settings}


async def make_env(
    store: Store,
    *,
    policy: PairPolicy | None = None,
    side_class: type[MemorySide] = MemorySide,
    notes_period_s: float = 60.0,
    name: str = "engine",
    **side_options: Any,
) -> Env:
    """A pair of memory sides; by default every run reads every link's notes (small data:
    the rolling scan's pacing has its own tests)."""
    clock = Clock()
    async with store.transaction() as s:
        acc_a = await repo_pairs.create_side_account(
            s, label="A", kind=AccountKind.MEMORY, location_id=f"{name}-a", now=clock()
        )
        acc_b = await repo_pairs.create_side_account(
            s, label="B", kind=AccountKind.MEMORY, location_id=f"{name}-b", now=clock()
        )
        pair = await repo_pairs.create_pair(
            s,
            name=name,
            side_a_account_id=acc_a.id,
            side_b_account_id=acc_b.id,
            now=clock(),
            policy=policy,
        )
    a = side_class("a", clock=clock, id_seed=1, **side_options)
    b = side_class("b", clock=clock, id_seed=2, **side_options)
    env = Env(store=store, pair_id=pair.id, a=a, b=b, clock=clock)
    await env.set_scan(notes_period_s=notes_period_s)
    return env


@pytest.fixture
async def env(store: Store) -> Env:
    return await make_env(store)


def person(side: MemorySide) -> dict[str, tuple[Any, ...]]:
    """Each contact of a side by email: (first, last, phone, tags, sorted note bodies)."""
    out: dict[str, tuple[Any, ...]] = {}
    for contact in side.user.contacts():
        key = contact.email or contact.phone or f"{contact.first_name} {contact.last_name}"
        notes = sorted(n.body for n in side.user.notes(contact.id))
        out[key] = (
            contact.first_name,
            contact.last_name,
            contact.phone,
            tuple(sorted(contact.tags)),
            tuple(notes),
        )
    return out


def agree(env: Env) -> bool:
    """Both sides hold the same people with the same fields, tags and notes."""
    return person(env.a) == person(env.b)


def counts(report: RunReport) -> Mapping[str, int]:
    return {k: v for k, v in report.counts.items() if v}


WRITE_LABELS = (
    labels.CREATE_CONTACT,
    labels.UPDATE_CONTACT,
    labels.DELETE_CONTACT,
    labels.ADD_TAGS,
    labels.REMOVE_TAGS,
    labels.CREATE_NOTE,
    labels.UPDATE_NOTE,
    labels.DELETE_NOTE,
)


def writes(side: Side) -> int:
    """Write requests the side has received so far (failed attempts included)."""
    requests = side.usage().requests
    return sum(requests.get(label, 0) for label in WRITE_LABELS)
