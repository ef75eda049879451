"""Stopping the service in the middle of a run: the journal is left consistent (intents
committed before each write, results after) and the next run finishes the work with the same
end state as an uninterrupted run, without duplicates."""

from __future__ import annotations

import asyncio

from reconciler.service.lease import LeaseKeeper
from reconciler.service.runner import PairRunner
from reconciler.sides.memory import MemorySide
from reconciler.store import repo_journal, repo_runs
from reconciler.store.db import Store
from reconciler.store.schema import JournalStatus
from tests.service.memory import MemoryWorld, PauseAt, memory_pair

Person = tuple[str | None, str | None, tuple[str, ...], tuple[str, ...]]


def people(side: MemorySide) -> list[Person]:
    return sorted(
        (
            c.email,
            c.first_name,
            tuple(sorted(c.tags)),
            tuple(sorted(n.body for n in side.user.notes(c.id))),
        )
        for c in side.user.contacts()
    )


async def test_a_run_stopped_after_a_write_is_finished_by_the_next_run(store: Store) -> None:
    world = MemoryWorld()
    pair_id = await memory_pair(store, "p")
    sides = world.pair(pair_id)
    sides.a.user.populate(6, notes_per_contact=2, seed=1)
    for n in range(4):  # other people on B (populate would reuse A's phone numbers)
        contact = sides.b.user.add_contact(
            first_name=f"B{n}", email=f"b{n}@example.org", tags=["from-b"]
        )
        sides.b.user.add_note(contact.id, f"note {n} written on B")
    expected_count = 10

    runner = PairRunner(store, LeaseKeeper(store, ttl=30), world.open)
    pause = PauseAt("write_returned", 5)  # the 5th write is done on the side, not recorded
    task = asyncio.create_task(runner.run(pair_id, trigger="manual", hooks=pause))
    await asyncio.wait_for(pause.reached.wait(), 30)
    assert await runner.drain(grace=0) == 1  # the service stops: the run is cancelled
    assert task.cancelled() or task.done()

    async with store.session() as s:
        (stopped,) = await repo_runs.unfinished_runs(s, pair_id)
        entries = await repo_journal.run_entries(s, stopped.id)
        pending = await repo_journal.pending(s, pair_id)
    # Consistent: each intent is either done (its result recorded with it) or pending (the
    # write may or may not have happened: the next run looks before acting); nothing else.
    assert entries
    for entry in entries:
        assert entry.status in (JournalStatus.DONE, JournalStatus.PENDING), entry
        if entry.status == JournalStatus.DONE:
            assert entry.done_at is not None
        else:
            assert entry.done_at is None
            assert entry.result is None
    assert [e.id for e in pending] == [e.id for e in entries if e.status == JournalStatus.PENDING]
    assert pending, "the interrupted write is still pending"

    again = PairRunner(store, LeaseKeeper(store, ttl=30), world.open)  # a new process
    outcome = await again.run(pair_id, trigger="schedule")
    assert outcome.report is not None
    assert outcome.report.status == "succeeded", outcome.report.errors
    async with store.session() as s:
        assert await repo_journal.pending(s, pair_id) == []
        assert await repo_runs.unfinished_runs(s, pair_id) == []
        closed = await repo_runs.get_run(s, stopped.id)
    assert closed is not None
    assert closed.status == "failed"

    # Same end state as an uninterrupted run: everyone on both sides once, notes included.
    assert len(sides.a.user.contacts()) == expected_count
    assert people(sides.a) == people(sides.b)
    quiet = await again.run(pair_id, trigger="schedule")
    assert quiet.report is not None
    assert not any(quiet.report.counts.values())


async def test_shutdown_waits_for_a_run_within_the_grace_period(store: Store) -> None:
    world = MemoryWorld()
    pair_id = await memory_pair(store, "p")
    world.pair(pair_id).a.user.populate(3, seed=3)
    runner = PairRunner(store, LeaseKeeper(store, ttl=30), world.open)
    task = asyncio.create_task(runner.run(pair_id, trigger="manual"))
    await asyncio.sleep(0)  # started
    assert await runner.drain(grace=30) == 0  # finished within the grace: nothing cancelled
    outcome = task.result()
    assert outcome.report is not None
    assert outcome.report.status == "succeeded"
    late = await runner.run(pair_id, trigger="manual")
    assert late.skipped == "closing"  # a stopping runner starts nothing new
