"""The two sides of a pair are different accounts with their own budgets: a run reads them side
by side (listings, notes), and their tasks take turns at the store."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from reconciler.sides.base import Note
from reconciler.sides.memory import MemorySide
from reconciler.store.db import Store
from reconciler.sync.model import PairPolicy
from reconciler.sync.runtime import NoHooks, RunContext, SidePair
from tests.engine.conftest import START, Clock, make_env

_READING: dict[str, asyncio.Event] = {}


class MeetingSide(MemorySide):
    """Gives a contact's notes only once the other side is reading notes too: a run that read
    one side's notes after the other's would wait here until the timeout."""

    async def get_notes(self, contact_id: str) -> Sequence[Note]:
        mine = self.name.removeprefix("memory:")
        _READING.setdefault(mine, asyncio.Event()).set()
        other = "b" if mine == "a" else "a"
        await asyncio.wait_for(_READING.setdefault(other, asyncio.Event()).wait(), timeout=2)
        return await super().get_notes(contact_id)


async def test_both_sides_notes_are_read_side_by_side(store: Store) -> None:
    _READING.clear()
    env = await make_env(store, side_class=MeetingSide)
    ann_a = env.a.user.add_contact(first_name="Ann", email="ann@example.com")
    env.a.user.add_note(ann_a.id, "called Ann")
    ann_b = env.b.user.add_contact(first_name="Ann", email="ann@example.com")
    env.b.user.add_note(ann_b.id, "Ann wants a demo")

    report = await env.run()

    assert report.status == "succeeded", report.errors
    assert report.errors == []
    for side, contact_id in ((env.a, ann_a.id), (env.b, ann_b.id)):
        assert sorted(n.body for n in side.user.notes(contact_id)) == [
            "Ann wants a demo",
            "called Ann",
        ]


async def test_the_sides_tasks_take_turns_at_the_store(store: Store) -> None:
    clock = Clock()
    ctx = RunContext(
        store=store,
        pair_id="pair",
        run_id="run",
        sides=SidePair(a=MemorySide("a"), b=MemorySide("b")),
        policy=PairPolicy(),
        clock=clock,
        hooks=NoHooks(),
        started_at=START,
        dry_run=False,
    )
    inside: list[str] = []
    together: list[list[str]] = []

    async def task(name: str) -> None:
        for _ in range(3):
            async with ctx.side_transaction():
                inside.append(name)
                if len(inside) > 1:
                    together.append(list(inside))
                await asyncio.sleep(0.005)  # the other task runs meanwhile
                inside.remove(name)

    await asyncio.gather(task("a"), task("b"))

    assert together == []
