"""The eight safety invariants of DESIGN.md, one named test each, through real runs on memory
sides and a real store (SQLite and PostgreSQL)."""

from __future__ import annotations

import random

from reconciler.errors import PermanentItemError, RetriableError
from reconciler.sides.memory import MemoryFaults, MemorySide
from reconciler.store import repo_runs, repo_sync
from reconciler.store.codec import contact_hash
from reconciler.store.db import Store
from reconciler.store.schema import ConflictStatus, JournalStatus
from reconciler.store.tables import RunRow
from reconciler.sync.apply import BREAKER
from reconciler.sync.model import Action, FieldConflictPolicy, NoteConflictPolicy, PairPolicy
from reconciler.sync.normalise import normalised_fields
from reconciler.sync.run import SimulatedCrash
from reconciler.sync.snapshot import contact_state
from tests.engine import inspect
from tests.engine.conftest import Env, agree, make_env, person, writes
from tests.engine.sides import ScriptedSide


async def _linked_pair(env: Env) -> tuple[str, str]:
    """Ann on both sides, agreed, with one note; returns her ids (A, B)."""
    ann = env.a.user.add_contact(first_name="Ann", last_name="Lee", email="ann@example.com")
    env.a.user.add_note(ann.id, "first call")
    report = await env.run()
    assert report.status == "succeeded", report.errors
    (copy,) = env.b.user.contacts()
    return ann.id, copy.id


async def test_invariant_1_nothing_lost(env: Env) -> None:
    """Every edit on either side is propagated, or kept in an open conflict with both versions."""
    a_id, b_id = await _linked_pair(env)
    (a_note,) = env.a.user.notes(a_id)
    (b_note,) = env.b.user.notes(b_id)
    env.a.user.edit_contact(a_id, first_name="Anna")
    env.b.user.add_tag(b_id, "hot")
    env.b.user.add_note(b_id, "sent the quote")
    env.a.user.edit_note(a_id, a_note.id, "first call: wants a demo")
    env.b.user.edit_note(b_id, b_note.id, "first call: not interested")

    report = await env.run()

    assert report.status == "succeeded", report.errors
    assert env.b.user.contact(b_id).first_name == "Anna"
    assert "hot" in env.a.user.contact(a_id).tags
    assert "sent the quote" in [n.body for n in env.a.user.notes(a_id)]
    # The clash (manual policy) is kept: both versions stored, both sides untouched.
    (conflict,) = await inspect.conflicts(env)
    assert conflict.kind == "note"
    assert conflict.base_value == "first call"
    assert conflict.a_value == "first call: wants a demo"
    assert conflict.b_value == "first call: not interested"
    assert env.a.user.note(a_id, a_note.id).body == "first call: wants a demo"
    assert env.b.user.note(b_id, b_note.id).body == "first call: not interested"
    assert report.conflicts_opened == 1


async def test_invariant_2_no_duplicates(store: Store) -> None:
    """Writes that are applied but answered with an error, replayed by later runs, never make
    a second copy of a contact or a note."""
    env = await make_env(store, faults=MemoryFaults(uncertain_write=0.4, seed=7))
    for n in range(6):
        c = env.a.user.add_contact(first_name=f"A{n}", email=f"a{n}@example.com", tags=["x"])
        env.a.user.add_note(c.id, f"note one of a{n}")
        env.a.user.add_note(c.id, f"note two of a{n}")
        d = env.b.user.add_contact(first_name=f"B{n}", phone=f"+1555010{n:04d}")
        env.b.user.add_note(d.id, f"note of b{n}")
    nameless = env.a.user.add_contact(first_name="No", last_name="Identity")
    env.a.user.add_note(nameless.id, "a note without an identity")
    for _ in range(6):
        await env.run()
    for side in (env.a, env.b):
        side.set_faults(MemoryFaults())
    for _ in range(2):
        await env.run()

    for side in (env.a, env.b):
        contacts = side.user.contacts()
        keys = [c.email or c.phone or f"{c.first_name} {c.last_name}" for c in contacts]
        assert len(keys) == len(set(keys)) == 13, keys
        for contact in contacts:
            bodies = [n.body for n in side.user.notes(contact.id)]
            assert len(bodies) == len(set(bodies)), bodies
    assert agree(env)
    assert env.a.usage().errors.get("UncertainWriteError", 0) > 0  # the faults did happen


async def test_invariant_3_convergence(store: Store) -> None:
    """After a successful run with no open conflicts, both sides and the base agree."""
    policy = PairPolicy(
        note_conflict=NoteConflictPolicy.A_WINS, field_conflict=FieldConflictPolicy.A_WINS
    )
    env = await make_env(store, policy=policy)
    rng = random.Random(3)
    for n in range(8):
        side = env.a if n % 2 else env.b
        c = side.user.add_contact(first_name=f"P{n}", email=f"p{n}@example.com", tags=["t1"])
        side.user.add_note(c.id, f"hello {n}")
    await env.run()
    for _round in range(4):
        for side in (env.a, env.b):
            for contact in rng.sample(side.user.contacts(), 4):
                _random_edit(rng, side, contact.id)
        report = await env.run()
        assert report.status == "succeeded", report.errors
    assert await inspect.conflicts(env) == []
    assert agree(env)
    await _assert_bases_agree(env)


def _random_edit(rng: random.Random, side: MemorySide, contact_id: str) -> None:
    what = rng.choice(["name", "tag", "untag", "note", "edit_note", "drop_note"])
    notes = side.user.notes(contact_id)
    if what == "name":
        side.user.edit_contact(contact_id, last_name=rng.choice(["Lee", "Kim", "Ortiz"]))
    elif what == "tag":
        side.user.add_tag(contact_id, rng.choice(["t1", "t2", "t3"]))
    elif what == "untag":
        side.user.remove_tag(contact_id, "t1")
    elif what == "note" or not notes:
        side.user.add_note(contact_id, f"added {rng.randint(0, 10**6)}")
    elif what == "edit_note":
        side.user.edit_note(contact_id, notes[0].id, f"edited {rng.randint(0, 10**6)}")
    else:
        side.user.delete_note(contact_id, notes[-1].id)


async def _assert_bases_agree(env: Env) -> None:
    policy = PairPolicy()
    for link in await inspect.links(env):
        base = (await inspect.bases(env))[link.id]
        a, b = env.a.user.contact(link.a_id), env.b.user.contact(link.b_id)
        assert normalised_fields(a.core()) == normalised_fields(b.core()) == dict(base.fields)
        assert set(contact_state(a, policy).tags) == set(contact_state(b, policy).tags)
        assert set(base.tags) == set(contact_state(a, policy).tags)
        a_notes = {n.id: n.body for n in env.a.user.notes(link.a_id)}
        b_notes = {n.id: n.body for n in env.b.user.notes(link.b_id)}
        assert {nl.a_note_id for nl in base.notes} == set(a_notes)
        assert {nl.b_note_id for nl in base.notes} == set(b_notes)
        for nl in base.notes:
            assert a_notes[nl.a_note_id] == b_notes[nl.b_note_id] == nl.body


async def test_invariant_4_second_run_does_nothing(env: Env) -> None:
    a_id, _ = await _linked_pair(env)
    env.b.user.add_contact(first_name="Cy", email="cy@example.com", tags=["lead"])
    env.a.user.edit_contact(a_id, last_name="Li")
    await env.run()
    before = (writes(env.a), writes(env.b), len(await inspect.journal(env)))

    report = await env.run()

    assert report.status == "succeeded"
    assert report.counts == {}
    assert report.conflicts_opened == report.conflicts_closed == 0
    assert (writes(env.a), writes(env.b), len(await inspect.journal(env))) == before
    assert await inspect.unsettled(env) == []


async def test_invariant_5_partial_snapshot_never_deletes(store: Store) -> None:
    """A contact missing from an incomplete listing is not deleted (nor archived)."""
    env = await make_env(store, page_size=2)
    for n in range(6):
        env.a.user.add_contact(first_name=f"N{n}", email=f"n{n}@example.com")
    await env.run()
    gone = env.a.user.contacts()[0]
    env.a.user.delete_contact(gone.id)
    env.a.set_faults(MemoryFaults(incomplete_page=1.0, seed=1))

    report = await env.run(full_scan=True)

    assert report.complete == {"a": False, "b": True}
    assert len(await inspect.links(env)) == 6
    assert all("reconciler-archived" not in c.tags for c in env.b.user.contacts())
    assert report.counts == {}


async def test_invariant_5_delete_guard_stops_the_run(env: Env) -> None:
    for n in range(10):
        env.a.user.add_contact(first_name=f"G{n}", email=f"g{n}@example.com")
    await env.run()
    for contact in env.a.user.contacts()[:6]:
        env.a.user.delete_contact(contact.id)
    b_writes = writes(env.b)

    report = await env.run(full_scan=True)

    assert report.status == "awaiting_approval"
    assert report.plan_id is not None
    assert writes(env.b) == b_writes  # nothing applied
    assert len(await inspect.links(env)) == 10
    approved = await env.apply(report.plan_id)
    assert approved.status == "succeeded"
    assert approved.counts == {"archive_contact": 6}
    archived = [c for c in env.b.user.contacts() if "reconciler-archived" in c.tags]
    assert len(archived) == 6
    assert len(await inspect.links(env)) == 4


async def test_invariant_6_echo_suppression(env: Env) -> None:
    """Our own writes come back in the next listing and are not taken for changes."""
    a_id, b_id = await _linked_pair(env)
    env.a.user.edit_contact(a_id, first_name="Annie")
    env.a.user.add_tag(a_id, "vip")
    await env.run()
    # What we wrote to B is in B's snapshot exactly as B's listing will return it.
    async with env.store.session() as s:
        rows = await repo_sync.load_rows(s, env.pair_id, "b", [b_id])
    listed = contact_state(env.b.user.contact(b_id), PairPolicy())
    assert rows[b_id].hash == contact_hash(listed.fields, listed.tags)
    searches = env.b.usage().requests.get("POST /contacts/search", 0)

    report = await env.run()

    assert env.b.usage().requests["POST /contacts/search"] > searches  # B was listed again
    assert report.counts == {}
    assert await inspect.unsettled(env) == []


class _CrashAt:
    def __init__(self, at: str, occurrence: int = 1) -> None:
        self.at, self.left = at, occurrence

    async def step(self, name: str, *, action: Action | None = None) -> None:
        if name == self.at:
            self.left -= 1
            if self.left == 0:
                raise SimulatedCrash(name)


async def _runs(env: Env) -> list[RunRow]:
    async with env.store.session() as s:
        return await repo_runs.list_runs(s, env.pair_id)


def _scenario(env: Env) -> None:
    ann = env.a.user.add_contact(first_name="Ann", email="ann@example.com", tags=["vip"])
    env.a.user.add_note(ann.id, "called Ann")
    env.a.user.add_note(ann.id, "Ann wants a demo")
    bob = env.b.user.add_contact(first_name="Bob", phone="+15550100200", tags=["lead"])
    env.b.user.add_note(bob.id, "met Bob")


async def test_invariant_7_crash_then_next_run_finishes(store: Store) -> None:
    reference = await make_env(store)
    _scenario(reference)
    await reference.run()
    expected = (person(reference.a), person(reference.b))
    for step, occurrence in (
        ("intent_committed", 1),
        ("write_returned", 2),
        ("result_committed", 3),
        ("conflicts_committed", 1),
    ):
        env = await make_env(store, name=step)
        _scenario(env)
        try:
            await env.run(hooks=_CrashAt(step, occurrence))
        except SimulatedCrash:
            pass
        else:
            raise AssertionError(f"no crash at {step}")
        (crashed,) = await _runs(env)
        assert crashed.status == "running"  # as a kill -9 leaves it
        report = await env.run()
        assert report.status == "succeeded", (step, report.errors)
        assert (await inspect.run_row(env, crashed.id)).status == "failed"
        pending = [e for e in await inspect.journal(env) if e.status is JournalStatus.PENDING]
        assert pending == []
        assert (person(env.a), person(env.b)) == expected, step
        again = await env.run()
        assert again.counts == {}, (step, again)


async def test_invariant_8_permanent_error_parks_the_item_and_the_run_goes_on(
    store: Store,
) -> None:
    env = await make_env(store, side_class=ScriptedSide)
    assert isinstance(env.b, ScriptedSide)
    env.b.fail[("create_contact", "bad@example.com")] = PermanentItemError(
        "422 phone is invalid", status=422
    )
    env.a.user.add_contact(first_name="Bad", email="bad@example.com")
    env.a.user.add_contact(first_name="Good", email="good@example.com")

    report = await env.run()

    assert report.status == "succeeded"
    assert report.parked == 1
    assert [c.email for c in env.b.user.contacts()] == ["good@example.com"]
    (item,) = await inspect.parked(env)
    assert (item.side, item.item_kind) == ("b", "contact_create")
    assert "422" in item.error
    assert [e.status for e in await inspect.journal(env) if e.status is JournalStatus.PARKED]
    assert await inspect.audit(env, "action.parked")
    creates = env.b.usage().requests["POST /contacts/"]
    await env.run()  # not retried until the contact changes
    assert env.b.usage().requests["POST /contacts/"] == creates


async def test_invariant_8_retriable_errors_back_off(store: Store) -> None:
    env = await make_env(store, side_class=ScriptedSide)
    assert isinstance(env.b, ScriptedSide)
    emails = [f"r{n}@example.com" for n in range(BREAKER + 5)]
    for email in emails:
        env.a.user.add_contact(first_name="R", email=email)
        env.b.fail[("create_contact", email)] = RetriableError("503", status=503)

    report = await env.run()

    assert report.status == "succeeded"
    assert env.b.user.contacts() == []
    # After BREAKER failures in a row the side gets no more writes in this run.
    assert env.b.attempts["create_contact"] == BREAKER
    assert any("no more writes" in e for e in report.errors)
    env.b.fail.clear()
    report = await env.run()
    assert sorted(c.email or "" for c in env.b.user.contacts()) == sorted(emails)
    assert await inspect.conflicts(env, ConflictStatus.OPEN) == []
