"""Recovery of writes whose outcome a crash left unknown (the journal's pending intents), and
creates the side refuses as duplicates."""

from __future__ import annotations

import pytest

from reconciler.store import repo_snapshots
from reconciler.store.db import Store
from reconciler.store.schema import JournalStatus
from reconciler.sync.model import Action, ActionKind
from reconciler.sync.run import SimulatedCrash
from tests.engine import inspect
from tests.engine.conftest import Env, agree, make_env
from tests.engine.sides import ScriptedSide


class CrashAfter:
    """Crash right after the side answered the first write of ``kind``."""

    def __init__(self, kind: ActionKind) -> None:
        self.kind = kind

    async def step(self, name: str, *, action: Action | None = None) -> None:
        if name == "write_returned" and action is not None and action.kind is self.kind:
            raise SimulatedCrash(f"after {self.kind.value}")


async def _crash(env: Env, kind: ActionKind) -> None:
    try:
        await env.run(hooks=CrashAfter(kind))
    except SimulatedCrash:
        return
    raise AssertionError("the run did not crash")


async def test_a_created_contact_without_email_or_phone_is_found_not_made_twice(
    env: Env,
) -> None:
    env.a.user.add_contact(first_name="Nora", last_name="Nameless")
    await _crash(env, ActionKind.CREATE_CONTACT)
    assert len(env.b.user.contacts()) == 1  # created, but the run died before recording it

    report = await env.run()

    assert report.status == "succeeded"
    assert len(env.b.user.contacts()) == 1
    (link,) = await inspect.links(env)
    assert link.b_id == env.b.user.contacts()[0].id
    recovered = [e for e in await inspect.journal(env) if (e.result or {}).get("recovered")]
    assert [e.action.kind for e in recovered] == [ActionKind.CREATE_CONTACT]
    assert (await env.run()).counts == {}


async def test_a_created_note_is_found_by_its_body_not_made_twice(env: Env) -> None:
    ann = env.a.user.add_contact(first_name="Ann", email="ann@example.com")
    await env.run()
    env.a.user.add_note(ann.id, "Ann asked for a quote")
    await _crash(env, ActionKind.CREATE_NOTE)
    (copy,) = env.b.user.contacts()
    assert [n.body for n in env.b.user.notes(copy.id)] == ["Ann asked for a quote"]

    await env.run()

    assert [n.body for n in env.b.user.notes(copy.id)] == ["Ann asked for a quote"]
    statuses = [e.status for e in await inspect.journal(env)]
    assert JournalStatus.PENDING not in statuses
    (base,) = (await inspect.bases(env)).values()
    assert len(base.notes) == 1
    assert (await env.run()).counts == {}


async def test_an_interrupted_update_is_planned_again(env: Env) -> None:
    ann = env.a.user.add_contact(first_name="Ann", email="ann@example.com")
    await env.run()
    env.a.user.edit_contact(ann.id, first_name="Anna")
    await _crash(env, ActionKind.UPDATE_FIELDS)

    report = await env.run()

    assert report.status == "succeeded"
    assert agree(env)
    (entry,) = [e for e in await inspect.journal(env) if e.action.kind is ActionKind.UPDATE_FIELDS]
    assert entry.status is JournalStatus.FAILED  # outcome unknown: re-planned, not replayed
    assert (await env.run()).counts == {}


async def test_a_duplicate_refused_by_the_side_is_linked_instead(store: Store) -> None:
    env = await make_env(store, side_class=ScriptedSide)
    assert isinstance(env.b, ScriptedSide)
    # B's Anne exists but B's search index has not caught up: the plan creates A's Anne on B,
    # which B refuses as a duplicate of its own Anne; the engine links the two instead.
    b_anne = env.b.user.add_contact(first_name="Anne", email="anne@example.com", tags=["b"])
    env.b.hidden.add(b_anne.id)
    a_anne = env.a.user.add_contact(first_name="Anne", email="anne@example.com", tags=["a"])

    report = await env.run()

    assert report.status == "succeeded"
    assert env.b.user.contacts() == [env.b.user.contact(b_anne.id)]  # no second Anne
    (link,) = await inspect.links(env)
    assert (link.a_id, link.b_id) == (a_anne.id, b_anne.id)
    (linked,) = await inspect.audit(env, "action.linked_existing")
    assert linked.detail["result"]["existing_id"] == b_anne.id
    await env.run()  # the next run merges the new link like any matched pair
    assert env.a.user.contact(a_anne.id).tags == env.b.user.contact(b_anne.id).tags
    assert set(env.a.user.contact(a_anne.id).tags) == {"a", "b"}


class CrashAt:
    """Crash at a journal step of the first action of ``kind``."""

    def __init__(self, step: str, kind: ActionKind) -> None:
        self.step_name, self.kind = step, kind

    async def step(self, name: str, *, action: Action | None = None) -> None:
        if name == self.step_name and action is not None and action.kind is self.kind:
            raise SimulatedCrash(f"{name} of {self.kind.value}")


async def test_a_copy_found_after_its_source_was_deleted_is_archived(env: Env) -> None:
    """The source of a create left pending is deleted before the next run, whose full scan
    confirms the deletion and whose recovery then finds the copy: the deletion reaches the
    copy (delete policy ``archive``) instead of the copy living on, linked to nothing.

    Found by the state machine: the unlinked source was forgotten when its deletion was
    confirmed, before recovery linked the copy to it."""
    nora = env.a.user.add_contact(first_name="Nora", email="nora@example.com")
    with pytest.raises(SimulatedCrash):
        await env.run(hooks=CrashAt("write_returned", ActionKind.CREATE_CONTACT))
    (copy,) = env.b.user.contacts()  # made, but the run died before recording it
    env.a.user.delete_contact(nora.id)

    report = await env.run(full_scan=True)

    assert report.status == "succeeded", report.errors
    # The create is recorded (found by recovery, not made again), then its copy archived.
    assert report.counts == {"create_contact": 1, "archive_contact": 1}
    assert len(env.b.user.contacts()) == 1
    assert env.b.user.contact(copy.id).tags == frozenset({"reconciler-archived"})
    assert await inspect.links(env) == []  # the link ended (only active ones are listed)
    assert await inspect.conflicts(env) == []
    assert (await env.run(full_scan=True)).counts == {}


async def test_a_deleted_source_whose_copy_was_never_made_is_forgotten(env: Env) -> None:
    nora = env.a.user.add_contact(first_name="Nora", email="nora@example.com")
    with pytest.raises(SimulatedCrash):
        await env.run(hooks=CrashAt("intent_committed", ActionKind.CREATE_CONTACT))
    assert env.b.user.contacts() == []  # the intent is pending, the call was never made
    env.a.user.delete_contact(nora.id)

    report = await env.run(full_scan=True)

    assert report.status == "succeeded", report.errors
    assert report.counts == {}
    assert env.b.user.contacts() == []
    assert await inspect.links(env) == []
    async with env.store.session() as s:
        assert await repo_snapshots.load_contacts(s, env.pair_id, "a", [nora.id]) == {}
    assert [e.status for e in await inspect.journal(env)] == [JournalStatus.FAILED]
