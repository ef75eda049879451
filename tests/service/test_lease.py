"""Pair leases: one runner per pair across processes (holders) and within one process,
renewed while held, taken over after expiry, and a lost lease stops the run."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from reconciler.errors import PairBusyError
from reconciler.service.lease import LeaseKeeper, LeaseLostError, new_holder_id
from reconciler.service.runner import PairRunner
from reconciler.store import repo_pairs
from reconciler.store.db import Store
from reconciler.store.schema import table_of
from reconciler.store.tables import PairLeaseRow
from reconciler.sync.model import Action
from reconciler.sync.run import reconcile
from tests.service.conftest import highlevel_pair
from tests.service.memory import MemoryPair, MemoryWorld, PauseAt, memory_pair

_LEASE = table_of(PairLeaseRow)


async def lease_row(store: Store, pair_id: str) -> tuple[str, datetime] | None:
    async with store.session() as s:
        row = (await s.execute(select(_LEASE).where(_LEASE.c.pair_id == pair_id))).first()
    return (row.holder, row.expires_at) if row is not None else None


async def test_one_holder_at_a_time_across_processes(store: Store) -> None:
    pair_id = await highlevel_pair(store, "p", "A", "B")
    first, second = LeaseKeeper(store, ttl=30), LeaseKeeper(store, ttl=30)
    assert first.holder != second.holder
    async with first.hold(pair_id):
        assert first.held == {pair_id}
        assert (await lease_row(store, pair_id) or ("",))[0] == first.holder
        with pytest.raises(PairBusyError, match="another process"):
            async with second.hold(pair_id):
                pytest.fail("two holders at once")
    assert first.held == frozenset()
    assert await lease_row(store, pair_id) is None  # released at once, not left to expire
    async with second.hold(pair_id):
        assert second.held == {pair_id}


async def test_one_task_at_a_time_within_a_process(store: Store) -> None:
    pair_id = await highlevel_pair(store, "p", "A", "B")
    keeper = LeaseKeeper(store, ttl=30)
    entered = asyncio.Event()
    release = asyncio.Event()

    async def long_run() -> None:
        async with keeper.hold(pair_id):
            entered.set()
            await release.wait()

    task = asyncio.create_task(long_run())
    await entered.wait()
    assert keeper.busy_here(pair_id)
    # Same holder id: the store would say yes; the in-process lock says no.
    with pytest.raises(PairBusyError, match="this process"):
        async with keeper.hold(pair_id):
            pytest.fail("two tasks at once")
    release.set()
    await task
    assert not keeper.busy_here(pair_id)


async def test_an_expired_lease_of_a_dead_process_is_taken_over(store: Store) -> None:
    pair_id = await highlevel_pair(store, "p", "A", "B")
    now = datetime.now(UTC)
    async with store.transaction() as s:  # a process that died holding the pair
        assert await repo_pairs.acquire_lease(
            s, pair_id, "dead:1:x", now=now - timedelta(seconds=40), ttl=timedelta(seconds=30)
        )
    survivor = LeaseKeeper(store, ttl=30)
    async with survivor.hold(pair_id):
        assert (await lease_row(store, pair_id) or ("",))[0] == survivor.holder


async def test_a_live_lease_of_another_process_is_respected(store: Store) -> None:
    pair_id = await highlevel_pair(store, "p", "A", "B")
    now = datetime.now(UTC)
    async with store.transaction() as s:
        assert await repo_pairs.acquire_lease(
            s, pair_id, "alive:1:x", now=now, ttl=timedelta(seconds=30)
        )
    with pytest.raises(PairBusyError):
        async with LeaseKeeper(store, ttl=30).hold(pair_id):
            pytest.fail("took a live lease")


async def test_the_lease_is_renewed_while_the_run_goes_on(store: Store) -> None:
    pair_id = await highlevel_pair(store, "p", "A", "B")
    holder, rival = LeaseKeeper(store, ttl=0.6), LeaseKeeper(store, ttl=0.6)
    async with holder.hold(pair_id):
        first = await lease_row(store, pair_id)
        for _ in range(6):  # 1.2 s: twice the ttl
            await asyncio.sleep(0.2)
            with pytest.raises(PairBusyError):
                async with rival.hold(pair_id):
                    pytest.fail("the lease expired during the run")
        later = await lease_row(store, pair_id)
    assert first is not None
    assert later is not None
    assert later[1] > first[1]


async def test_a_lost_lease_stops_the_run(store: Store) -> None:
    pair_id = await highlevel_pair(store, "p", "A", "B")
    keeper = LeaseKeeper(store, ttl=0.6)
    reached_end = False

    async def run() -> None:
        nonlocal reached_end
        async with keeper.hold(pair_id):
            async with store.transaction() as s:  # another process took the pair over
                await s.execute(
                    update(_LEASE).where(_LEASE.c.pair_id == pair_id).values(holder="thief")
                )
            await asyncio.sleep(3)
            reached_end = True

    with pytest.raises(LeaseLostError, match="lost"):
        await run()
    assert not reached_end
    assert keeper.held == frozenset()
    assert (await lease_row(store, pair_id) or ("",))[0] == "thief"  # not released: not ours


async def test_an_outside_cancellation_still_releases(store: Store) -> None:
    pair_id = await highlevel_pair(store, "p", "A", "B")
    keeper = LeaseKeeper(store, ttl=30)
    entered = asyncio.Event()

    async def run() -> None:
        async with keeper.hold(pair_id):
            entered.set()
            await asyncio.sleep(60)

    task = asyncio.create_task(run())
    await entered.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await lease_row(store, pair_id) is None


def test_holder_ids_are_unique_per_start() -> None:
    assert new_holder_id() != new_holder_id()


async def test_a_run_that_loses_its_lease_is_stopped_and_reported(store: Store) -> None:
    world = MemoryWorld()
    pair_id = await memory_pair(store, "m")
    world.pair(pair_id).a.user.populate(3, seed=4)
    runner = PairRunner(store, LeaseKeeper(store, ttl=0.6), world.open)
    pause = PauseAt("write_returned", 1)
    task = asyncio.create_task(runner.run(pair_id, trigger="manual", hooks=pause))
    await asyncio.wait_for(pause.reached.wait(), 30)
    async with store.transaction() as s:  # another process took the pair over meanwhile
        await s.execute(update(_LEASE).where(_LEASE.c.pair_id == pair_id).values(holder="thief"))
    outcome = await asyncio.wait_for(task, 10)
    assert outcome.report is None
    assert outcome.skipped == "lease_lost"
    assert runner.metrics.errors.value(component="lease") == 1


class _Stall:
    """Run hooks: at ``name`` the process 'stalls' past its lease (the keeper's clock jumps)
    without the renewer getting a turn, as under CPU starvation or a long pause."""

    def __init__(self, clock: _Clock, name: str, by: timedelta) -> None:
        self.clock, self.name, self.by = clock, name, by

    async def step(self, name: str, *, action: Action | None = None) -> None:
        if name == self.name:
            self.clock.now += self.by


class _Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


async def _three_people_to_copy(store: Store) -> tuple[str, MemoryPair, _Clock, PairRunner]:
    """A memory pair with three people on A to create on B, and a runner whose 30 s leases
    are judged by a clock the test moves."""
    world = MemoryWorld()
    pair_id = await memory_pair(store, "m")
    sides = world.pair(pair_id)
    sides.a.user.populate(3, seed=4)
    clock = _Clock()
    runner = PairRunner(store, LeaseKeeper(store, ttl=30, clock=clock), world.open)
    return pair_id, sides, clock, runner


async def test_a_run_that_may_have_lost_its_lease_makes_no_more_writes(store: Store) -> None:
    """Fencing: the renewer notices a loss only when it next runs; a run resuming from a stall
    longer than the ttl must not write before then (another process may run the pair)."""
    pair_id, sides, clock, runner = await _three_people_to_copy(store)

    stalled = _Stall(clock, "snapshot_done", timedelta(seconds=31))
    outcome = await runner.run(pair_id, trigger="manual", hooks=stalled)

    assert outcome.skipped == "lease_lost"
    assert sides.b.user.contacts() == []  # not one create was sent
    assert sides.b.usage().requests.get("create_contact", 0) == 0
    again = await runner.run(pair_id, trigger="manual")
    assert again.report is not None
    assert again.report.status == "succeeded"
    assert len(sides.b.user.contacts()) == 3


async def test_manual_runs_through_the_leased_opener_are_fenced_too(store: Store) -> None:
    """The API's runs and plan applications open their sides with ``leased_opener``."""
    pair_id, sides, clock, runner = await _three_people_to_copy(store)

    async with runner.leased_opener(pair_id) as opened:
        clock.now += timedelta(seconds=31)  # stalled past the ttl before the run
        with pytest.raises(LeaseLostError):
            await reconcile(store, pair_id, opened)

    assert sides.b.user.contacts() == []
    async with runner.leased_opener(pair_id) as opened:
        report = await reconcile(store, pair_id, opened)
    assert report.status == "succeeded"
    assert len(sides.b.user.contacts()) == 3
