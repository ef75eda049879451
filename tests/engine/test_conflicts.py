"""Conflicts: stored with base, A and B; both sides untouched until resolved; a resolution
takes effect in the next run; a resolution that cannot be carried out reopens the conflict."""

from __future__ import annotations

import pytest

from reconciler.service import events
from reconciler.service.conflicts import resolve_conflict
from reconciler.service.errors import InvalidInputError
from reconciler.store import repo_conflicts
from reconciler.store.db import Store
from reconciler.sync.model import Resolution, ResolutionChoice
from tests.engine import inspect
from tests.engine.conftest import Env, make_env, writes


async def _clash(env: Env) -> tuple[str, str]:
    ann = env.a.user.add_contact(first_name="Ann", last_name="Lee", email="ann@example.com")
    await env.run()
    (copy,) = env.b.user.contacts()
    env.a.user.edit_contact(ann.id, last_name="Lee-Smith")
    env.b.user.edit_contact(copy.id, last_name="Lee-Jones")
    return ann.id, copy.id


async def test_conflicts_persisted_with_base_a_b_and_not_touched_until_resolved(env: Env) -> None:
    a_id, b_id = await _clash(env)
    async with events.bus.subscribe() as received:
        report = await env.run()
        opened = await received.get()

    (conflict,) = await inspect.conflicts(env)
    assert (conflict.kind, conflict.scope) == ("field", "last_name")
    assert (conflict.base_value, conflict.a_value, conflict.b_value) == (
        "Lee",
        "Lee-Smith",
        "Lee-Jones",
    )
    assert conflict.reason["rule"] == "field.changed_both_differently"
    assert report.conflicts_opened == 1
    assert opened == events.ConflictOpened(env.pair_id, conflict.id)
    assert env.a.user.contact(a_id).last_name == "Lee-Smith"
    assert env.b.user.contact(b_id).last_name == "Lee-Jones"
    before = (writes(env.a), writes(env.b))
    again = await env.run()
    assert again.conflicts_opened == 0
    assert (writes(env.a), writes(env.b)) == before
    assert [c.id for c in await inspect.conflicts(env)] == [conflict.id]
    # A new edit on one side refreshes the same conflict with the new value.
    env.b.user.edit_contact(b_id, last_name="Lee-Brown")
    await env.run()
    (refreshed,) = await inspect.conflicts(env)
    assert refreshed.id == conflict.id
    assert refreshed.b_value == "Lee-Brown"


async def test_a_resolution_takes_effect_in_the_next_run(env: Env) -> None:
    a_id, b_id = await _clash(env)
    await env.run()
    (conflict,) = await inspect.conflicts(env)
    async with env.store.transaction() as s:
        await repo_conflicts.resolve_conflict(
            s, conflict.id, Resolution(ResolutionChoice.B), resolved_by="user:op", now=env.clock()
        )

    report = await env.run()

    assert report.conflicts_closed == 1
    assert env.a.user.contact(a_id).last_name == "Lee-Jones"
    assert env.b.user.contact(b_id).last_name == "Lee-Jones"
    assert await inspect.conflicts(env) == []
    closed = await inspect.conflicts(env, status=None)
    assert [c.status for c in closed] == ["closed"]
    (applied,) = await inspect.audit(env, "conflict.resolution_applied")
    assert applied.subject == conflict.id
    assert (await env.run()).counts == {}


async def test_a_resolution_that_cannot_be_applied_reopens_the_conflict(env: Env) -> None:
    ann = env.a.user.add_contact(first_name="Ann", email="ann@example.com")
    env.a.user.add_note(ann.id, "base text")
    await env.run()
    (copy,) = env.b.user.contacts()
    (a_note,) = env.a.user.notes(ann.id)
    (b_note,) = env.b.user.notes(copy.id)
    env.a.user.edit_note(ann.id, a_note.id, "text from A")
    env.b.user.edit_note(copy.id, b_note.id, "text from B")
    await env.run()
    (conflict,) = await inspect.conflicts(env)
    async with env.store.transaction() as s:  # bypasses the service's own check on purpose
        await repo_conflicts.resolve_conflict(
            s,
            conflict.id,
            Resolution(ResolutionChoice.CUSTOM, value=42),
            resolved_by="user:op",
            now=env.clock(),
        )

    await env.run()

    (reopened,) = await inspect.conflicts(env)
    assert reopened.id == conflict.id
    assert reopened.resolution is None
    (rejected,) = await inspect.audit(env, "conflict.resolution_rejected")
    assert "text" in rejected.detail["message"]
    assert env.a.user.note(ann.id, a_note.id).body == "text from A"
    assert env.b.user.note(copy.id, b_note.id).body == "text from B"


async def test_an_ambiguous_match_is_a_conflict_until_resolved(store: Store) -> None:
    env = await make_env(store, allow_duplicates=True)
    one = env.a.user.add_contact(first_name="Ann", email="ann@example.com")
    env.a.user.add_contact(first_name="Annie", email="ann@example.com")
    b_ann = env.b.user.add_contact(first_name="Ann", email="ann@example.com")
    await env.run()
    (conflict,) = await inspect.conflicts(env)
    assert conflict.kind == "contact_match"
    assert conflict.link_id is None
    assert len(env.a.user.contacts()) == 2
    assert len(env.b.user.contacts()) == 1
    assert (await env.run()).conflicts_opened == 0  # still the same one
    async with env.store.transaction() as s:
        await repo_conflicts.resolve_conflict(
            s,
            conflict.id,
            Resolution(ResolutionChoice.CUSTOM, value={"a_id": one.id, "b_id": b_ann.id}),
            resolved_by="user:op",
            now=env.clock(),
        )

    report = await env.run()

    assert report.conflicts_closed == 1
    pairs = {(link.a_id, link.b_id) for link in await inspect.links(env)}
    assert (one.id, b_ann.id) in pairs
    assert await inspect.conflicts(env) == []


async def test_keep_base_is_refused_at_once_for_a_field_that_never_had_an_agreed_value(
    env: Env,
) -> None:
    """The service answers in the request (InvalidInputError -> userErrors in the API) rather
    than storing a resolution the engine would refuse one run later."""
    env.a.user.add_contact(first_name="Anne", email="ann@example.com")
    env.b.user.add_contact(first_name="Annie", email="ann@example.com")
    await env.run()
    (first,) = await inspect.conflicts(env)
    assert (first.kind, first.scope, first.base_value) == ("field", "first_name", None)

    with pytest.raises(InvalidInputError, match="never had an agreed value") as refused:
        await resolve_conflict(env.store, first.id, Resolution(ResolutionChoice.BASE), actor="op")
    assert refused.value.field == "choice"
    (still,) = await inspect.conflicts(env)
    assert still.resolution is None

    # Once agreed, the field has a base to go back to.
    await resolve_conflict(env.store, first.id, Resolution(ResolutionChoice.A), actor="op")
    await env.run()
    (ann_a,) = env.a.user.contacts()
    (ann_b,) = env.b.user.contacts()
    env.a.user.edit_contact(ann_a.id, first_name="Ann")
    env.b.user.edit_contact(ann_b.id, first_name="Anna")
    await env.run()
    (second,) = await inspect.conflicts(env)
    await resolve_conflict(env.store, second.id, Resolution(ResolutionChoice.BASE), actor="op")
    await env.run()
    assert env.a.user.contact(ann_a.id).first_name == "Anne"
    assert env.b.user.contact(ann_b.id).first_name == "Anne"


async def test_the_engine_refuses_keep_base_for_a_field_never_agreed_after_the_base_is_stored(
    env: Env,
) -> None:
    """Regression: the stored base filled every absent field with None, so one run after the
    match "keep base" erased both first names instead of being refused."""
    env.a.user.add_contact(first_name="Anne", email="ann@example.com")
    env.b.user.add_contact(first_name="Annie", email="ann@example.com")
    await env.run()
    (conflict,) = await inspect.conflicts(env)
    async with env.store.transaction() as s:  # bypasses the service's own check on purpose
        await repo_conflicts.resolve_conflict(
            s, conflict.id, Resolution(ResolutionChoice.BASE), resolved_by="op", now=env.clock()
        )

    report = await env.run()

    assert report.counts == {}
    assert [c.first_name for c in env.a.user.contacts()] == ["Anne"]
    assert [c.first_name for c in env.b.user.contacts()] == ["Annie"]
    (reopened,) = await inspect.conflicts(env)
    assert reopened.id == conflict.id
    (rejected,) = await inspect.audit(env, "conflict.resolution_rejected")
    assert "never had an agreed value" in rejected.detail["message"]
