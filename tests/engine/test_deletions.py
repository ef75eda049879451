"""Deletions: the pair's delete policy for an unchanged survivor, a conflict for an edited
one, re-creation when a person decides the survivor stands."""

from __future__ import annotations

from reconciler.store import repo_conflicts
from reconciler.store.db import Store
from reconciler.sync.model import DeletePolicy, PairPolicy, Resolution, ResolutionChoice
from tests.engine import inspect
from tests.engine.conftest import make_env


async def test_an_edited_survivor_is_a_conflict_and_can_be_recreated(store: Store) -> None:
    env = await make_env(store)
    ann = env.a.user.add_contact(first_name="Ann", email="ann@example.com", tags=["vip"])
    env.a.user.add_note(ann.id, "Ann's history")
    await env.run()
    (survivor,) = env.b.user.contacts()
    env.a.user.delete_contact(ann.id)
    env.b.user.edit_contact(survivor.id, last_name="Lee")

    await env.run(full_scan=True)

    (conflict,) = await inspect.conflicts(env)
    assert (conflict.kind, conflict.a_value) == ("contact_delete", None)
    assert conflict.b_value["fields"]["last_name"] == "Lee"
    assert env.a.user.contacts() == []
    assert "reconciler-archived" not in env.b.user.contact(survivor.id).tags
    async with env.store.transaction() as s:
        await repo_conflicts.resolve_conflict(
            s, conflict.id, Resolution(ResolutionChoice.B), resolved_by="user:op", now=env.clock()
        )

    report = await env.run()

    assert report.conflicts_closed == 1
    (again,) = env.a.user.contacts()
    assert (again.first_name, again.last_name, again.email) == ("Ann", "Lee", "ann@example.com")
    assert again.tags == frozenset({"vip"})
    assert [n.body for n in env.a.user.notes(again.id)] == ["Ann's history"]
    (link,) = await inspect.links(env)
    assert (link.a_id, link.b_id) == (again.id, survivor.id)
    assert (await env.run(full_scan=True)).counts == {}


async def test_delete_policy_delete_and_both_sides_gone(store: Store) -> None:
    env = await make_env(store, policy=PairPolicy(delete=DeletePolicy.DELETE))
    ann = env.a.user.add_contact(first_name="Ann", email="ann@example.com")
    bob = env.a.user.add_contact(first_name="Bob", email="bob@example.com")
    await env.run()
    env.a.user.delete_contact(ann.id)
    env.a.user.delete_contact(bob.id)
    (b_bob,) = env.b.user.find(email="bob@example.com")
    env.b.user.delete_contact(b_bob.id)

    report = await env.run(full_scan=True)

    assert report.counts == {"delete_contact": 1, "unlink_contacts": 1}
    assert env.b.user.contacts() == []
    assert await inspect.links(env) == []
    assert (await env.run(full_scan=True)).counts == {}
