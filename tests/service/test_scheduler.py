"""The scheduler: schedules kept in the store across restarts, one run of a pair at a time
even with several schedulers (processes) on one store, debounced webhook runs, misfires
coalesced, paused pairs dropped."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta

import pytest

from reconciler.service.lease import LeaseKeeper
from reconciler.service.metrics import ServiceMetrics
from reconciler.service.runner import PairRunner
from reconciler.service.scheduler import PairScheduler, ScheduleConfig
from reconciler.store import repo_pairs
from reconciler.store.db import Store
from reconciler.store.tables import RunRow
from tests.service.memory import MemoryWorld, eventually, memory_pair, runs_of

Factory = Callable[..., PairScheduler]


@pytest.fixture
async def schedulers(store: Store) -> AsyncIterator[Factory]:
    made: list[PairScheduler] = []

    def make(
        world: MemoryWorld,
        *,
        jitter: float = 0.0,
        debounce: float = 0.2,
        max_wait: float = 10.0,
        ttl: float = 5.0,
    ) -> PairScheduler:
        runner = PairRunner(
            store, LeaseKeeper(store, ttl=ttl), world.open, metrics=ServiceMetrics()
        )
        scheduler = PairScheduler(
            store,
            runner,
            ScheduleConfig(
                min_interval_s=1,
                jitter_s=jitter,
                refresh_s=3600,
                debounce_s=debounce,
                max_wait_s=max_wait,
            ),
        )
        made.append(scheduler)
        return scheduler

    yield make
    for scheduler in made:
        await scheduler.stop(0)


def scheduled(runs: list[RunRow]) -> list[RunRow]:
    return [r for r in runs if r.trigger == "schedule"]


async def test_a_new_pair_runs_at_once_and_a_restart_keeps_its_schedule(
    store: Store, schedulers: Factory
) -> None:
    world = MemoryWorld()
    pair_id = await memory_pair(store, "p", interval_s=60)
    world.pair(pair_id).a.user.add_contact(email="ann@example.com", first_name="Ann")

    first = schedulers(world)
    await first.start()
    await eventually(lambda: _finished(store, pair_id, 1))
    await first.stop(0)
    (run,) = await runs_of(store, pair_id)
    assert run.status == "succeeded"
    assert world.pair(pair_id).b.user.find(email="ann@example.com")

    restarted = schedulers(world, jitter=5.0)
    await restarted.start()
    due = run.started_at + timedelta(seconds=60)
    firing = restarted.next_firing(pair_id)
    assert firing is not None
    assert due <= firing <= due + timedelta(seconds=5)  # not at start: the schedule survived
    await asyncio.sleep(0.3)
    assert len(await runs_of(store, pair_id)) == 1

    async with store.transaction() as s:  # an admin changes the interval
        await repo_pairs.update_pair(s, pair_id, now=datetime.now(UTC), schedule_interval_s=120)
    await restarted.refresh()
    firing = restarted.next_firing(pair_id)
    assert firing is not None
    assert run.started_at + timedelta(seconds=120) <= firing


async def test_two_schedulers_never_run_a_pair_twice_at_once(
    store: Store, schedulers: Factory
) -> None:
    world = MemoryWorld()
    pairs = [await memory_pair(store, f"p{i}", interval_s=1) for i in range(6)]
    for pair_id in pairs:
        world.pair(pair_id).a.user.populate(3, seed=hash(pair_id) % 1000)
    one, two = schedulers(world, jitter=0.3), schedulers(world, jitter=0.3)
    await asyncio.gather(one.start(), two.start())
    # Every pair runs again and again (how fast depends on the machine's load).
    await eventually(lambda: _all_scheduled(store, pairs, 3), within=60)
    await asyncio.gather(one.stop(5), two.stop(5))

    for pair_id in pairs:
        runs = scheduled(await runs_of(store, pair_id))
        assert len(runs) >= 3, pair_id
        for earlier, later in itertools.pairwise(runs):
            assert earlier.finished_at is not None
            assert earlier.finished_at <= later.started_at, "two runs of one pair at once"
            # Each due slot is run once, not once per scheduler.
            gap = later.started_at - earlier.started_at
            assert gap >= timedelta(seconds=0.5), gap
        assert all(r.status == "succeeded" for r in runs)
    # Both schedulers did some of the work.
    assert (
        one.runner.metrics.runs.value(pair=pairs[0], trigger="schedule", status="succeeded")
        + (two.runner.metrics.runs.value(pair=pairs[0], trigger="schedule", status="succeeded"))
        >= 2
    )


async def test_when_one_scheduler_stops_the_other_runs_its_pairs(
    store: Store, schedulers: Factory
) -> None:
    world = MemoryWorld()
    pairs = [await memory_pair(store, f"p{i}", interval_s=1) for i in range(4)]
    one, two = schedulers(world), schedulers(world)
    await one.start()
    await eventually(lambda: _all_finished(store, pairs, 1))
    await one.stop(0)
    stopped_at = datetime.now(UTC)
    await two.start()
    await eventually(lambda: _all_started_after(store, pairs, stopped_at), within=30)
    for pair_id in pairs:
        later = [r for r in scheduled(await runs_of(store, pair_id)) if r.started_at > stopped_at]
        assert later, pair_id
        # Within one interval (1 s), plus what a loaded test machine adds.
        assert later[0].started_at - stopped_at <= timedelta(seconds=2.5)


async def test_webhook_requests_are_debounced_into_one_run(
    store: Store, schedulers: Factory
) -> None:
    world = MemoryWorld()
    pair_id = await memory_pair(store, "p", interval_s=3600)
    scheduler = schedulers(world, debounce=0.4)
    await scheduler.start()
    await eventually(lambda: _finished(store, pair_id, 1))  # the first scheduled run
    for _ in range(5):
        scheduler.request_run(pair_id)
        await asyncio.sleep(0.02)
    assert scheduler.pending_webhook_run(pair_id) is not None
    await eventually(lambda: _finished(store, pair_id, 2))
    await asyncio.sleep(0.6)
    runs = await runs_of(store, pair_id)
    assert [r.trigger for r in runs] == ["schedule", "webhook"]
    assert scheduler.pending_webhook_run(pair_id) is None


async def test_a_stream_of_webhooks_cannot_postpone_the_run_forever(
    store: Store, schedulers: Factory
) -> None:
    world = MemoryWorld()
    pair_id = await memory_pair(store, "p", interval_s=3600)
    scheduler = schedulers(world, debounce=0.5, max_wait=1.0)
    await scheduler.start()
    await eventually(lambda: _finished(store, pair_id, 1))
    first = datetime.now(UTC)
    for _ in range(15):  # a webhook every 0.2 s for 3 s: each pushes the run 0.5 s later
        scheduler.request_run(pair_id)
        await asyncio.sleep(0.2)
    runs = [r for r in await runs_of(store, pair_id) if r.trigger == "webhook"]
    assert runs, "the run waited for the stream to end"
    assert runs[0].started_at - first <= timedelta(seconds=1.8)


async def test_a_stalled_loop_runs_a_late_pair_once(store: Store, schedulers: Factory) -> None:
    world = MemoryWorld()
    pair_id = await memory_pair(store, "p", interval_s=1)
    scheduler = schedulers(world)
    await scheduler.start()
    await eventually(lambda: _finished(store, pair_id, 1))
    before = len(await runs_of(store, pair_id))
    time.sleep(2.2)  # noqa: ASYNC251  (the point: the event loop stalls past two firings)
    await eventually(lambda: _count_at_least(store, pair_id, before + 2), within=30)
    first, second = (await runs_of(store, pair_id))[before : before + 2]
    # The missed firings make one run; the next comes an interval later, not right after.
    assert second.started_at - first.started_at >= timedelta(seconds=0.9)


async def test_a_pair_busy_elsewhere_is_skipped_and_retried(
    store: Store, schedulers: Factory
) -> None:
    world = MemoryWorld()
    pair_id = await memory_pair(store, "p", interval_s=60)
    async with store.transaction() as s:  # another process is running it, for 1.5 s more
        await repo_pairs.acquire_lease(
            s, pair_id, "other:1:x", now=datetime.now(UTC), ttl=timedelta(seconds=1.5)
        )
    scheduler = schedulers(world, ttl=1.0)
    await scheduler.start()
    await eventually(lambda: scheduler.runner.metrics.skipped.value(reason="busy") >= 1)
    assert await runs_of(store, pair_id) == []
    await eventually(lambda: _finished(store, pair_id, 1), within=5)


async def test_paused_and_deleted_pairs_lose_their_jobs(store: Store, schedulers: Factory) -> None:
    world = MemoryWorld()
    pair_id = await memory_pair(store, "p", interval_s=60)
    scheduler = schedulers(world)
    await scheduler.start()
    assert scheduler.next_firing(pair_id) is not None
    async with store.transaction() as s:
        await repo_pairs.update_pair(s, pair_id, now=datetime.now(UTC), enabled=False)
    await scheduler.refresh()
    assert scheduler.next_firing(pair_id) is None
    assert scheduler.runner.metrics.scheduled_pairs.value() == 0


async def _finished(store: Store, pair_id: str, count: int) -> bool:
    runs = await runs_of(store, pair_id)
    return len([r for r in runs if r.finished_at is not None]) >= count


async def _all_finished(store: Store, pairs: list[str], count: int) -> bool:
    return all([await _finished(store, p, count) for p in pairs])


async def _all_scheduled(store: Store, pairs: list[str], count: int) -> bool:
    for pair_id in pairs:
        runs = scheduled(await runs_of(store, pair_id))
        if len([r for r in runs if r.finished_at is not None]) < count:
            return False
    return True


async def _all_started_after(store: Store, pairs: list[str], moment: datetime) -> bool:
    for pair_id in pairs:
        if not [r for r in await runs_of(store, pair_id) if r.started_at > moment]:
            return False
    return True


async def _count_at_least(store: Store, pair_id: str, count: int) -> bool:
    return len(await runs_of(store, pair_id)) >= count
