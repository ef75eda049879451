"""Write journal (intent before, outcome after) and parked items."""

from __future__ import annotations

from datetime import timedelta

import pytest

from reconciler.store import repo_journal as journal
from reconciler.store import repo_runs as runs
from reconciler.store import repo_sync
from reconciler.store.db import Store
from reconciler.store.repo_sync import JournalOutcome
from reconciler.store.schema import JournalStatus, RunTrigger
from reconciler.store.tables import PairRow
from reconciler.sync.model import Action, ActionKind, Reason, Rule

from .conftest import NOW


def _action(n: int) -> Action:
    return Action(
        kind=ActionKind.CREATE_NOTE,
        reason=Reason(rule=Rule.NOTE_NEW),
        side="b",
        link_id="l1",
        contact_id="b1",
        payload={"body": f"note {n}", "note_link_id": None, "source_note_id": f"n{n}"},
    )


@pytest.fixture
async def run_id(store: Store, pair: PairRow) -> str:
    async with store.transaction() as s:
        run = await runs.start_run(s, pair.id, trigger=RunTrigger.SCHEDULE, now=NOW)
    return run.id


async def test_intents_then_outcomes(store: Store, pair: PairRow, run_id: str) -> None:
    async with store.transaction() as s:
        first = await journal.append_intents(s, run_id, pair.id, [_action(1), _action(2)], now=NOW)
        more = await journal.append_intents(s, run_id, pair.id, [_action(3)], now=NOW)
    assert [e.seq for e in first + more] == [1, 2, 3]
    assert [e.action for e in first + more] == [_action(1), _action(2), _action(3)]
    assert all(e.status is JournalStatus.PENDING for e in first + more)
    async with store.session() as s:
        # What append_intents returns is what the store holds (it reads back only the ids).
        assert await journal.pending(s, pair.id) == first + more
    done = NOW + timedelta(seconds=1)
    async with store.transaction() as s:
        assert await journal.mark_done(s, first[0].id, result={"note_id": "new1"}, now=done)
        assert await journal.mark_parked(s, first[1].id, error="422: body too long", now=done)
        # An outcome is final: a replayed finish changes nothing.
        assert not await journal.mark_failed(s, first[0].id, error="late", now=done)
    async with store.session() as s:
        pending = await journal.pending(s, pair.id)
        entries = await journal.run_entries(s, run_id)
    assert [e.id for e in pending] == [more[0].id]
    assert [(e.status, e.result, e.error) for e in entries] == [
        (JournalStatus.DONE, {"note_id": "new1"}, None),
        (JournalStatus.PARKED, None, "422: body too long"),
        (JournalStatus.PENDING, None, None),
    ]
    assert entries[0].done_at == done


async def test_a_wave_of_outcomes_is_recorded_at_once(
    store: Store, pair: PairRow, run_id: str
) -> None:
    """``finish_entries``, the apply's path (one statement per chunk on PostgreSQL, an
    executemany on SQLite): each entry gets its own status, result and error; a result of
    nested JSON comes back as written; an entry already finished keeps its first outcome."""
    async with store.transaction() as s:
        entries = await journal.append_intents(
            s, run_id, pair.id, [_action(n) for n in range(4)], now=NOW
        )
        assert await journal.mark_failed(s, entries[3].id, error="first", now=NOW)
    done = NOW + timedelta(seconds=1)
    result = {"note_id": "n9", "fields": {"email": "é@x.io", "tags": ["a", "b"]}, "n": 2}
    async with store.transaction() as s:
        await repo_sync.finish_entries(
            s,
            [
                JournalOutcome(entries[0].id, JournalStatus.DONE, result=result),
                JournalOutcome(entries[1].id, JournalStatus.PARKED, error="422: too long"),
                JournalOutcome(entries[2].id, JournalStatus.DONE),
                JournalOutcome(entries[3].id, JournalStatus.DONE, result={"late": True}),
            ],
            now=done,
        )
    async with store.session() as s:
        stored = await journal.run_entries(s, run_id)
    assert [(e.status, e.result, e.error) for e in stored] == [
        (JournalStatus.DONE, result, None),
        (JournalStatus.PARKED, None, "422: too long"),
        (JournalStatus.DONE, None, None),
        (JournalStatus.FAILED, None, "first"),
    ]
    assert [e.done_at for e in stored] == [done, done, done, NOW]


async def test_crash_leaves_committed_intents_pending(store_url: str, pair: PairRow) -> None:
    # The intent commits, then the process dies before the outcome: a new process sees it.
    first = Store(store_url)
    try:
        async with first.transaction() as s:
            run = await runs.start_run(s, pair.id, trigger=RunTrigger.SCHEDULE, now=NOW)
            await journal.append_intents(s, run.id, pair.id, [_action(1)], now=NOW)
        async with first.session() as s:
            (entry,) = await journal.pending(s, pair.id)
            await journal.mark_done(s, entry.id, result={}, now=NOW)
            # Killed here: the outcome was never committed.
    finally:
        await first.dispose()
    second = Store(store_url)
    try:
        async with second.session() as s:
            (entry,) = await journal.pending(s, pair.id)
        assert entry.action == _action(1)
    finally:
        await second.dispose()


async def test_parked_items_count_attempts(store: Store, pair: PairRow) -> None:
    later = NOW + timedelta(hours=1)
    async with store.transaction() as s:
        await journal.park(s, pair.id, "a", "contact", "c1", error="400: bad phone", now=NOW)
        await journal.park(s, pair.id, "a", "contact", "c1", error="400: bad phone!", now=later)
        await journal.park(s, pair.id, "b", "note", "n1", error="422", now=NOW)
        listed = await journal.list_parked(s, pair.id)
        contacts = await journal.parked_ids(s, pair.id, "a", "contact")
        only_b = await journal.list_parked(s, pair.id, side="b", item_kind="note")
        assert await journal.unpark(s, pair.id, "a", "contact", "c1")
        assert not await journal.unpark(s, pair.id, "a", "contact", "c1")
    first = listed[0]
    assert (first.item_id, first.attempts, first.error) == ("c1", 2, "400: bad phone!")
    assert (first.first_seen_at, first.last_seen_at) == (NOW, later)
    assert contacts == {"c1"}
    assert [p.item_id for p in only_b] == ["n1"]
