"""Invariant 7: a crash anywhere, then the next runs, give the same final state as no crash.

For each scenario (a pair prepared to a point, then one run that has work to do), the run is
made once uninterrupted: that gives the reference final state (both sides' contacts, tags and
notes by content, the bases, the open conflicts) and the number of journal steps it takes
(every ``RunHooks.step``: snapshot_done, plan_built, intent_committed, write_returned,
result_committed, conflicts_committed, run_finished). Then, for EVERY step index k, the
scenario is made again from scratch, the run is crashed at step k (``SimulatedCrash``, which
nothing in the engine catches, as kill -9), and the pair is run to completion and once more:
the final state must equal the reference, with no duplicate, nothing pending in the journal,
and nothing written by the last run (which had nothing to do). The same is done for every
write of the run answered "5xx after a successful write", and for every write timing out
before it reached the side.

SQLite runs everything. PostgreSQL (same code, other transaction semantics) runs the crashes
of two scenarios under the default ``HYPOTHESIS_PROFILE=ci``, everything under ``long``.

A real kill -9 of a process in the middle of a run is in ``test_kill_9.py``.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from reconciler.service.conflicts import resolve_conflict
from reconciler.store.db import Store
from reconciler.sync import apply, batches
from reconciler.sync.model import (
    DeletePolicy,
    FieldConflictPolicy,
    NoteConflictPolicy,
    PairPolicy,
    Resolution,
    ResolutionChoice,
)
from reconciler.sync.run import SimulatedCrash
from tests.engine_props import harness
from tests.engine_props.crashes import FaultyWrites, Steps, WriteFault, WriteFaults
from tests.engine_props.harness import PairEnv

Setup = Callable[[PairEnv], Awaitable[None]]
MAX_RUNS_TO_FINISH = 4
LONG = os.environ.get("HYPOTHESIS_PROFILE", "ci") == "long"
POSTGRES_CI_SCENARIOS = {"deletes", "resolution_applied"}


def _skip_on_postgres_in_ci(store: Store, scenario: str | None) -> None:
    if store.dialect == "postgresql" and not LONG and scenario not in POSTGRES_CI_SCENARIOS:
        pytest.skip("on SQLite only unless HYPOTHESIS_PROFILE=long (same code, 3x the time)")


@dataclass(frozen=True)
class Scenario:
    name: str
    setup: Setup  # prepares the pair; the run after it is the one that crashes
    policy: PairPolicy = field(default_factory=PairPolicy)


async def _run_ok(env: PairEnv) -> None:
    report = await env.run(full_scan=True)
    assert report.status == "succeeded", report.errors


def _person(env: PairEnv, side: str, email: str) -> str:
    (found,) = env.side(side).user.find(email=email)
    return found.id


async def initial_sync(env: PairEnv) -> None:
    """New people on both sides, one of them on both (matched: tags unioned, the same note
    linked, the others copied)."""
    a, b = env.a.user, env.b.user
    ann = a.add_contact(first_name="Ann", last_name="Lee", email="ann@example.com", tags=["vip"])
    a.add_note(ann.id, "called Ann")
    a.add_note(ann.id, "sent the quote")
    a.add_contact(first_name="Bob", phone="+15550100", tags=["lead", "cold"])
    cy = b.add_contact(first_name="Cy", email="cy@example.com")
    b.add_note(cy.id, "met Cy at the fair")
    dee_a = a.add_contact(first_name="Dee", email="dee@example.com", tags=["hot"])
    dee_b = b.add_contact(first_name="Dee", email="DEE@example.com", tags=["lead"])
    a.add_note(dee_a.id, "Dee wants a demo")
    b.add_note(dee_b.id, "Dee wants a demo")
    b.add_note(dee_b.id, "Dee's budget is small")


async def _baseline(env: PairEnv) -> None:
    """Ann and Bob, agreed on both sides, with notes."""
    ann = env.a.user.add_contact(first_name="Ann", email="ann@example.com", tags=["vip"])
    for body in ("first call", "sent the quote", "line one\nline two\n--\nline three"):
        env.a.user.add_note(ann.id, body)
    bob = env.b.user.add_contact(first_name="Bob", email="bob@example.com", tags=["lead"])
    env.b.user.add_note(bob.id, "met Bob")
    await _run_ok(env)


def _note(env: PairEnv, side: str, email: str, body: str) -> str:
    contact_id = _person(env, side, email)
    (found,) = [n for n in env.side(side).user.notes(contact_id) if n.body == body]
    return found.id


async def notes_edited_on_one_side(env: PairEnv) -> None:
    await _baseline(env)
    ann = _person(env, "a", "ann@example.com")
    env.a.user.edit_note(ann, _note(env, "a", "ann@example.com", "first call"), "first call, again")
    env.a.user.delete_note(ann, _note(env, "a", "ann@example.com", "sent the quote"))
    env.a.user.add_note(ann, "wants a demo on Friday")
    env.b.user.add_tag(_person(env, "b", "ann@example.com"), "hot")
    bob = _person(env, "b", "bob@example.com")
    env.b.user.add_note(bob, "Bob called back")
    env.b.user.edit_contact(bob, last_name="Brown")


async def clashing_edits(env: PairEnv) -> None:
    """The same field and the same note changed on both sides (settled by the pair's policy:
    a_wins, or a clean three-way merge of the note)."""
    await _baseline(env)
    text = "line one\nline two\n--\nline three"
    for side, first, note in (
        ("a", "Anne", "line one, from A\nline two\n--\nline three"),
        ("b", "Annie", "line one\nline two\n--\nline three, from B"),
    ):
        contact = _person(env, side, "ann@example.com")
        env.side(side).user.edit_contact(contact, first_name=first)
        env.side(side).user.edit_note(contact, _note(env, side, "ann@example.com", text), note)
    bob_b = _person(env, "b", "bob@example.com")
    env.b.user.edit_note(bob_b, _note(env, "b", "bob@example.com", "met Bob"), "met Bob twice")


async def deletes(env: PairEnv) -> None:
    """A contact deleted on A (deleted on B too, by policy), a note deleted on each side, a
    contact deleted on B while edited on A (a conflict, nothing deleted)."""
    await _baseline(env)
    cy = env.a.user.add_contact(first_name="Cy", email="cy@example.com")
    env.a.user.add_note(cy.id, "Cy's note")
    await _run_ok(env)
    env.a.user.delete_contact(_person(env, "a", "bob@example.com"))
    env.b.user.delete_note(
        _person(env, "b", "ann@example.com"), _note(env, "b", "ann@example.com", "first call")
    )
    env.a.user.delete_note(
        _person(env, "a", "ann@example.com"), _note(env, "a", "ann@example.com", "sent the quote")
    )
    env.b.user.delete_contact(_person(env, "b", "cy@example.com"))
    env.a.user.add_tag(_person(env, "a", "cy@example.com"), "vip")


async def resolution_applied(env: PairEnv) -> None:
    """Conflicts on a field and two notes, resolved by a person: A, a custom note text, and
    back to the base (the last two write both sides)."""
    await _baseline(env)
    for side, first, call, quote in (
        ("a", "Anne", "first call: yes", "quote: 10k"),
        ("b", "Annie", "first call: no", "quote: 12k"),
    ):
        contact = _person(env, side, "ann@example.com")
        env.side(side).user.edit_contact(contact, first_name=first)
        for before, after in (("first call", call), ("sent the quote", quote)):
            note = _note(env, side, "ann@example.com", before)
            env.side(side).user.edit_note(contact, note, after)
    await _run_ok(env)
    for conflict in await harness.conflicts(env.store, env.pair_id):
        if conflict.kind == "field":
            resolution = Resolution(ResolutionChoice.A)
        elif conflict.base_value == "first call":
            resolution = Resolution(ResolutionChoice.CUSTOM, "first call: maybe, call in May")
        else:
            resolution = Resolution(ResolutionChoice.BASE)
        await resolve_conflict(env.store, conflict.id, resolution, actor="ops", clock=env.clock)


async def new_people_next_to_links(env: PairEnv) -> None:
    """An edit on a link, and new people: Eve on both sides (matched), Flo twice on A (one
    phone, two emails) and once on B with that phone (an ambiguous match: a conflict), Gus on
    B only (created on A with his note), Hal on A and B with the same phone but not the same
    email (matched by phone)."""
    await _baseline(env)
    a, b = env.a.user, env.b.user
    a.add_tag(_person(env, "a", "ann@example.com"), "hot")
    eve = a.add_contact(first_name="Eve", email="eve@example.com")
    a.add_note(eve.id, "Eve's note")
    b.add_contact(first_name="Eve", email="eve@example.com", tags=["lead"])
    a.add_contact(first_name="Flo", email="flo@example.com", phone="+15550177")
    a.add_contact(first_name="Florence", email="florence@example.com", phone="+15550177")
    b.add_contact(first_name="Flo", phone="+15550177")
    gus = b.add_contact(first_name="Gus", phone="+15550199")
    b.add_note(gus.id, "Gus's note")
    a.add_contact(first_name="Hal", email="hal@example.com", phone="+15550142")
    b.add_contact(first_name="Hal", email="hal@work.example", phone="+15550142")


SCENARIOS = [
    Scenario("initial_sync", initial_sync),
    Scenario("new_people_next_to_links", new_people_next_to_links),
    Scenario("notes_edited_on_one_side", notes_edited_on_one_side),
    Scenario(
        "clashing_edits_a_wins",
        clashing_edits,
        PairPolicy(
            note_conflict=NoteConflictPolicy.A_WINS, field_conflict=FieldConflictPolicy.A_WINS
        ),
    ),
    Scenario(
        "clashing_edits_merge",
        clashing_edits,
        PairPolicy(
            note_conflict=NoteConflictPolicy.MERGE, field_conflict=FieldConflictPolicy.B_WINS
        ),
    ),
    Scenario("deletes", deletes, PairPolicy(delete=DeletePolicy.DELETE)),
    Scenario("resolution_applied", resolution_applied),
]


async def _prepare(store: Store, scenario: Scenario, faults: WriteFaults) -> PairEnv:
    # Duplicates allowed: a second copy made by a replay would stay, and be seen.
    env = await harness.new_pair(
        store,
        policy=scenario.policy,
        side_class=FaultyWrites,
        allow_duplicates=True,
        faults=faults,
    )
    await scenario.setup(env)
    faults.writes = 0  # count from the run under test
    return env


async def _finish(env: PairEnv) -> dict[str, Any]:
    """Run to completion: until a run has nothing to do, which must then write nothing."""
    for _ in range(MAX_RUNS_TO_FINISH):
        written = harness.writes(env.a) + harness.writes(env.b)
        report = await env.run(full_scan=True)
        if not report.counts and not report.errors:
            assert report.status == "succeeded"
            assert harness.writes(env.a) + harness.writes(env.b) == written
            break
    else:
        raise AssertionError(f"not finished after {MAX_RUNS_TO_FINISH} runs: {env.reports[-1]}")
    assert not harness.duplicates(env.a) + harness.duplicates(env.b)
    assert not await harness.pending_entries(env.store, env.pair_id)
    return await harness.final_state(env)


async def _reference(store: Store, scenario: Scenario) -> tuple[dict[str, Any], list[str], int]:
    faults = WriteFaults()
    env = await _prepare(store, scenario, faults)
    steps = Steps()
    report = await env.run(hooks=steps, full_scan=True)
    assert report.status == "succeeded", report.errors
    writes = faults.writes
    assert writes > 0, "the scenario's run has nothing to write"
    return await _finish(env), steps.names, writes


async def _crash_at_each(
    store: Store, scenario: Scenario, names: list[str], expected: dict[str, Any]
) -> None:
    """The scenario made afresh and its run crashed at step k, for every k: each must end
    like ``expected`` once run to completion."""
    for k, name in enumerate(names):
        env = await _prepare(store, scenario, WriteFaults())
        with pytest.raises(SimulatedCrash):
            await env.run(hooks=Steps(crash_at=k), full_scan=True)
        assert await _finish(env) == expected, f"crash at step {k} ({name})"


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
async def test_a_crash_at_any_step_ends_like_no_crash(store: Store, scenario: Scenario) -> None:
    _skip_on_postgres_in_ci(store, scenario.name)
    expected, names, _ = await _reference(store, scenario)
    await _crash_at_each(store, scenario, names, expected)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
async def test_a_crash_at_any_step_with_tiny_batches_ends_like_no_crash(
    store: Store, scenario: Scenario, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same with a commit forced after every job: batches of actions that write nothing
    are then committed behind the staging of the next ones (as in a large first run), so a
    crash falls between, during and after such commits too."""
    _skip_on_postgres_in_ci(store, scenario.name)
    monkeypatch.setattr(apply, "STAGE_LIMIT", 1)
    expected, names, _ = await _reference(store, scenario)
    await _crash_at_each(store, scenario, names, expected)


@pytest.mark.parametrize(
    "scenario",
    [s for s in SCENARIOS if s.name in ("initial_sync", "new_people_next_to_links")],
    ids=lambda s: s.name,
)
async def test_a_crash_at_any_step_of_a_run_in_pool_batches_ends_like_no_crash(
    store: Store, scenario: Scenario, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same with the unlinked contacts planned and applied one identity group at a time
    (``batches.POOL_BATCH``, as in a large first sync): a crash between two batches leaves
    one applied and the next untouched. The reference is the run without batches: batching
    must not change the outcome either."""
    _skip_on_postgres_in_ci(store, scenario.name)
    expected, _, _ = await _reference(store, scenario)
    monkeypatch.setattr(batches, "POOL_BATCH", 1)
    _, names, _ = await _reference(store, scenario)
    assert names.count("plan_built") > 2, "the run was not made in batches"
    await _crash_at_each(store, scenario, names, expected)


@pytest.mark.parametrize("kind", ["error_after_write", "timeout"])
@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
async def test_a_write_failing_uncertainly_ends_like_no_failure(
    store: Store, scenario: Scenario, kind: WriteFault
) -> None:
    _skip_on_postgres_in_ci(store, None)
    expected, _, writes = await _reference(store, scenario)
    for n in range(writes):
        faults = WriteFaults()
        env = await _prepare(store, scenario, faults)
        faults.fail_at, faults.kind = n, kind  # armed for the run under test only
        await env.run(full_scan=True)
        assert faults.failed, f"write {n} was not made"
        assert await _finish(env) == expected, f"write {n} failed: {faults.failed}"
