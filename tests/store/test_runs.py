"""Runs and persisted plans."""

from __future__ import annotations

from datetime import timedelta

from reconciler.store import repo_runs as runs
from reconciler.store.db import Store
from reconciler.store.schema import PlanStatus, RunStatus, RunTrigger
from reconciler.store.tables import PairRow
from reconciler.sync.model import Action, ActionKind, LinkPlan, Plan, Reason, Rule

from .conftest import NOW

ACTIONS = (
    Action(
        kind=ActionKind.CREATE_CONTACT,
        reason=Reason(rule=Rule.CONTACT_CREATE, policy="create=both"),
        side="b",
        source_side="a",
        source_id="a1",
        payload={"fields": {"email": "ann@x.com"}, "tags": ["VIP"]},
    ),
    Action(
        kind=ActionKind.ADD_TAGS,
        reason=Reason(rule=Rule.TAGS_MERGE, compared={"base": None, "a": "k1", "b": None}),
        side="b",
        link_id="l1",
        contact_id="b1",
        payload={"tags": ["Lead"]},
    ),
    Action(
        kind=ActionKind.ADOPT_BASE,
        reason=Reason(rule=Rule.NOTE_SAME_EDIT, detail="both sides wrote the same text"),
        link_id="l1",
        payload={
            "note": {"note_link_id": "nl1", "a_note_id": "n1", "b_note_id": "n2", "body": "x"}
        },
    ),
)


async def test_run_lifecycle(store: Store, pair: PairRow) -> None:
    async with store.transaction() as s:
        run = await runs.start_run(s, pair.id, trigger=RunTrigger.WEBHOOK, now=NOW)
    async with store.session() as s:
        assert [r.id for r in await runs.unfinished_runs(s, pair.id)] == [run.id]
    done = NOW + timedelta(seconds=42)
    async with store.transaction() as s:
        await runs.finish_run(
            s,
            run.id,
            status=RunStatus.PARTIAL,
            now=done,
            a_complete=True,
            b_complete=False,
            counts={"add_tags": 3},
            requests={"a": {"contacts.search": 2}, "b": {"notes.list": 5}},
            errors=[{"side": "b", "error": "truncated page"}],
            conflicts_opened=1,
        )
    async with store.session() as s:
        loaded = await runs.get_run(s, run.id)
        assert await runs.unfinished_runs(s, pair.id) == []
    assert loaded is not None
    assert (loaded.status, loaded.trigger, loaded.dry_run) == ("partial", "webhook", False)
    assert (loaded.started_at, loaded.finished_at) == (NOW, done)
    assert (loaded.a_complete, loaded.b_complete) == (True, False)
    assert loaded.counts == {"add_tags": 3}
    assert loaded.requests == {"a": {"contacts.search": 2}, "b": {"notes.list": 5}}
    assert loaded.errors == [{"side": "b", "error": "truncated page"}]
    assert loaded.conflicts_opened == 1


async def test_list_runs_newest_first(store: Store, pair: PairRow) -> None:
    async with store.transaction() as s:
        for n in range(5):
            await runs.start_run(
                s,
                pair.id,
                trigger=RunTrigger.SCHEDULE,
                now=NOW + timedelta(minutes=n),
                run_id=f"run{n}",
            )
    async with store.session() as s:
        first = await runs.list_runs(s, pair.id, limit=3)
        rest = await runs.list_runs(
            s, pair.id, limit=3, before=(first[-1].started_at, first[-1].id)
        )
    assert [r.id for r in first + rest] == ["run4", "run3", "run2", "run1", "run0"]


async def test_plan_round_trip_and_single_apply(store: Store, pair: PairRow) -> None:
    plan = Plan(links=(LinkPlan(link_id=None, actions=ACTIONS[:1]), LinkPlan("l1", ACTIONS[1:])))
    async with store.transaction() as s:
        run = await runs.start_run(s, pair.id, trigger=RunTrigger.MANUAL, dry_run=True, now=NOW)
        saved = await runs.save_plan(s, pair.id, plan, fingerprint="fp1", run_id=run.id, now=NOW)
    async with store.session() as s:
        loaded = await runs.get_plan(s, saved.id)
        actions = await runs.plan_actions(s, saved.id)
        pending = await runs.list_plans(s, pair.id, status=PlanStatus.PENDING)
    assert loaded is not None
    assert (loaded.status, loaded.fingerprint, loaded.run_id) == ("pending", "fp1", run.id)
    assert tuple(actions) == ACTIONS
    assert [p.id for p in pending] == [saved.id]
    async with store.transaction() as s:
        assert await runs.set_plan_status(s, saved.id, PlanStatus.APPLIED, now=NOW)
        # A second apply of the same plan loses.
        assert not await runs.set_plan_status(s, saved.id, PlanStatus.APPLIED, now=NOW)
        assert await runs.set_plan_status(s, saved.id, PlanStatus.STALE, now=NOW, expected=None)
