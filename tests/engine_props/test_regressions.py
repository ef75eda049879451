"""Engine bugs the state machine found, each pinned by a plain test through real runs."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime

import pytest

from reconciler.errors import DuplicateContactError, RetriableError, UncertainWriteError
from reconciler.service.conflicts import resolve_conflict
from reconciler.sides import labels
from reconciler.sides.base import Contact, ContactDraft, ContactPage
from reconciler.sides.memory import MemorySide
from reconciler.store import repo_audit
from reconciler.store.db import Store
from reconciler.sync import batches
from reconciler.sync.model import Resolution, ResolutionChoice
from tests.engine_props import harness
from tests.engine_props.harness import PairEnv


async def test_a_resolution_made_before_a_new_edit_does_not_overwrite_that_edit(
    store: Store,
) -> None:
    """A person resolved "A" seeing Ann/Anna; then B was edited to "Annabel". Carrying the
    resolution out would overwrite "Annabel", which nobody saw: it is refused and the conflict
    shows the new values (invariant 1)."""
    env = await harness.new_pair(store)
    env.a.user.add_contact(first_name="Ann", email="ann@example.com")
    on_b = env.b.user.add_contact(first_name="Anna", email="ann@example.com")
    assert (await env.run()).status == "succeeded"
    (conflict,) = await harness.conflicts(store, env.pair_id)
    assert (conflict.a_value, conflict.b_value) == ("Ann", "Anna")
    await resolve_conflict(
        store, conflict.id, Resolution(ResolutionChoice.A), actor="test", clock=env.clock
    )
    env.clock.advance(seconds=1)
    env.b.user.edit_contact(on_b.id, first_name="Annabel")

    report = await env.run()

    assert report.status == "succeeded", report.errors
    assert env.b.user.contact(on_b.id).first_name == "Annabel"
    (still,) = await harness.conflicts(store, env.pair_id)
    assert still.id == conflict.id
    assert (still.a_value, still.b_value) == ("Ann", "Annabel")
    async with store.session() as s:
        events = await repo_audit.list_events(
            s, pair_id=env.pair_id, kind="conflict.resolution_rejected", limit=10
        )
    assert [e.subject for e in events] == [conflict.id]


async def test_a_note_resolution_made_before_a_new_edit_does_not_overwrite_that_edit(
    store: Store,
) -> None:
    env = await harness.new_pair(store)
    ann = env.a.user.add_contact(first_name="Ann", email="ann@example.com")
    note = env.a.user.add_note(ann.id, "first call")
    assert (await env.run()).status == "succeeded"
    (copy,) = env.b.user.contacts()
    (copied,) = env.b.user.notes(copy.id)
    env.a.user.edit_note(ann.id, note.id, "first call: wants a demo")
    env.b.user.edit_note(copy.id, copied.id, "first call: not interested")
    assert (await env.run()).status == "succeeded"
    (conflict,) = await harness.conflicts(store, env.pair_id)
    await resolve_conflict(
        store, conflict.id, Resolution(ResolutionChoice.B), actor="test", clock=env.clock
    )
    env.a.user.edit_note(ann.id, note.id, "first call: wants a demo on Friday")

    report = await env.run()

    assert report.status == "succeeded", report.errors
    assert env.a.user.note(ann.id, note.id).body == "first call: wants a demo on Friday"
    assert env.b.user.note(copy.id, copied.id).body == "first call: not interested"
    (still,) = await harness.conflicts(store, env.pair_id)
    assert (still.a_value, still.b_value) == (
        "first call: wants a demo on Friday",
        "first call: not interested",
    )
    # Resolved again, with nothing changed since, it is carried out.
    await resolve_conflict(
        store, still.id, Resolution(ResolutionChoice.B), actor="test", clock=env.clock
    )
    assert (await env.run()).status == "succeeded"
    assert env.a.user.note(ann.id, note.id).body == "first call: not interested"
    assert not await harness.conflicts(store, env.pair_id)


class _ListingBreaksOff(MemorySide):
    """A side whose contact listing fails after the first page (retries exhausted)."""

    broken = True

    async def stream_contacts(self, *, since: datetime | None = None) -> AsyncIterator[ContactPage]:
        async for page in super().stream_contacts(since=since):
            yield page
            if self.broken:
                raise RetriableError("503 (listing broke off)", status=503)


async def _ann_beyond_a_broken_listing(store: Store) -> tuple[PairEnv, _ListingBreaksOff]:
    """Zed and Ann on A, whose listing breaks off after Zed; Ann on B too."""
    env = await harness.new_pair(store, side_class=_ListingBreaksOff, page_size=1)
    a, b = env.a, env.b
    assert isinstance(a, _ListingBreaksOff)
    assert isinstance(b, _ListingBreaksOff)
    b.broken = False
    env.a.user.add_contact(first_name="Zed", email="zed@example.com")
    env.clock.advance(seconds=1)  # listed after Zed: beyond the first page
    env.a.user.add_contact(first_name="Ann", email="ann@example.com")
    env.a.user.allow_duplicates = True
    env.b.user.add_contact(first_name="Ann", email="ann@example.com")
    return env, a


async def test_no_contact_is_created_on_a_side_whose_listing_was_incomplete(store: Store) -> None:
    """Ann exists on both sides; A's listing breaks off before reaching her. Creating B's Ann on
    A would make a second Ann where duplicates are allowed (invariant 2): the creation waits
    for a complete listing, which then matches the two."""
    env, a = await _ann_beyond_a_broken_listing(store)

    report = await env.run()

    assert report.complete == {"a": False, "b": True}
    assert len(env.a.user.find(email="ann@example.com")) == 1
    assert any(
        "not created on side A in this run: its listing was incomplete" in e for e in report.errors
    )
    a.broken = False
    assert (await env.run()).status == "succeeded"
    assert len(env.a.user.find(email="ann@example.com")) == 1
    assert len(env.b.user.find(email="zed@example.com")) == 1  # created once A was complete
    assert len(await harness.active_links(store, env.pair_id)) == 2


async def test_a_run_in_batches_defers_creations_and_says_so_once(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same with the matching pool in batches (one person each): every batch defers its
    creation on A, and the report says so once, not once per batch."""
    monkeypatch.setattr(batches, "POOL_BATCH", 1)
    env, a = await _ann_beyond_a_broken_listing(store)
    env.b.user.add_contact(first_name="Bea", email="bea@example.com")

    report = await env.run()

    assert report.complete == {"a": False, "b": True}
    assert [e for e in report.errors if "listing was incomplete" in e] == [
        "contacts not created on side A in this run: its listing was incomplete "
        "(one of them may be there already)"
    ]
    assert not env.a.user.find(email="bea@example.com")
    a.broken = False
    assert (await env.run()).status == "succeeded"
    for email in ("ann@example.com", "bea@example.com"):
        assert len(env.a.user.find(email=email)) == 1
    assert len(await harness.active_links(store, env.pair_id)) == 3


class _RefusesAnnAsBo(MemorySide):
    """A side whose duplicate rule is not ours: it refuses to create Ann, naming Bo (another
    email, another phone) as the contact she duplicates."""

    async def create_contact(self, draft: ContactDraft) -> Contact:
        if draft.email == "ann@example.com":
            (bo,) = self.user.find(email="bo@example.com")
            raise DuplicateContactError("duplicate (by name)", existing_id=bo.id)
        return await super().create_contact(draft)


async def test_a_contact_linked_by_an_earlier_batch_is_not_planned_again(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ann (A) and Bo (B) are in different identity groups, so in different batches. The
    first batch's create of Ann on B is refused as a duplicate of Bo, which links them; the
    second batch must not then plan Bo as unlinked (a copy of him on A, and a second active
    link of his: invariant 2)."""
    monkeypatch.setattr(batches, "POOL_BATCH", 1)
    env = await harness.new_pair(store, side_class=_RefusesAnnAsBo)
    env.a.user.add_contact(first_name="Ann", email="ann@example.com")
    env.b.user.add_contact(first_name="Bo", email="bo@example.com")

    report = await env.run()

    assert report.status == "succeeded", report.errors
    assert not env.a.user.find(email="bo@example.com")
    assert len(await harness.active_links(store, env.pair_id)) == 1


async def test_the_notes_of_a_contact_confirmed_deleted_are_not_read(store: Store) -> None:
    """The rolling notes scan used to read a deleted contact's notes: a 404, reported as an
    error of a run that had nothing wrong."""
    env = await harness.new_pair(store)
    ann = env.a.user.add_contact(first_name="Ann", email="ann@example.com")
    assert (await env.run()).status == "succeeded"
    env.a.user.delete_contact(ann.id)
    notes_read = env.a.usage().requests.get(labels.LIST_NOTES, 0)

    report = await env.run(full_scan=True)

    assert report.status == "succeeded"
    assert report.errors == []
    assert report.counts == {"archive_contact": 1}
    assert env.a.usage().requests.get(labels.LIST_NOTES, 0) == notes_read


async def test_an_incomplete_listing_never_overwrites_an_edit_it_did_not_see(store: Store) -> None:
    """Ann's first name changed on both sides; A's listing broke off before reaching her. Her
    stored A snapshot still showed the old name, so the change on B looked like the only one
    and was copied over A's edit, which was lost for good (the journal's "replaced" held the
    stale value). Now a contact the incomplete listing did not return is not acted on."""
    env = await harness.new_pair(store, side_class=_ListingBreaksOff, page_size=1)
    a, b = env.a, env.b
    assert isinstance(a, _ListingBreaksOff)
    assert isinstance(b, _ListingBreaksOff)
    a.broken = b.broken = False
    a.user.add_contact(first_name="Zed", email="zed@example.com")
    env.clock.advance(seconds=1)
    ann = a.user.add_contact(first_name="Ann", email="ann@example.com")
    assert (await env.run()).status == "succeeded"
    (ann_b,) = b.user.find(email="ann@example.com")
    env.clock.advance(seconds=1)
    a.user.add_tag(a.user.find(email="zed@example.com")[0].id, "vip")  # listed: fresh
    env.clock.advance(seconds=1)
    a.user.edit_contact(ann.id, first_name="Anne")  # beyond the first page
    b.user.edit_contact(ann_b.id, first_name="Annie")
    a.broken = True

    report = await env.run()

    assert report.complete == {"a": False, "b": True}
    assert a.user.contact(ann.id).first_name == "Anne"
    assert b.user.contact(ann_b.id).first_name == "Annie"
    assert "vip" in b.user.find(email="zed@example.com")[0].tags
    a.broken = False
    assert (await env.run()).status == "succeeded"
    (conflict,) = await harness.conflicts(store, env.pair_id)
    assert (conflict.scope, conflict.a_value, conflict.b_value) == ("first_name", "Anne", "Annie")


class _UncertainCreates(MemorySide):
    """Creates are applied, then answered 502; lookups fail while ``lookups_fail``."""

    lookups_fail = False

    async def create_contact(self, draft: ContactDraft) -> Contact:
        await super().create_contact(draft)
        raise UncertainWriteError("502 after the write was applied", status=502)

    async def find_contacts(
        self, *, email: str | None = None, phone: str | None = None
    ) -> Sequence[Contact]:
        if self.lookups_fail:
            raise RetriableError("503", status=503)
        return await super().find_contacts(email=email, phone=phone)


async def test_a_create_whose_recovery_is_postponed_is_not_created_back(store: Store) -> None:
    """Ann's create on B was applied but answered 502; the next run could not look for it (B
    failed the lookup), held Ann on A back, but took B's copy, which its listing returned, for
    a new contact and created it on A: a second Ann there (invariant 2)."""
    env = await harness.new_pair(store, side_class=_UncertainCreates, allow_duplicates=True)
    b = env.b
    assert isinstance(b, _UncertainCreates)
    env.a.user.add_contact(first_name="Ann", email="ann@example.com")
    await env.run()
    assert len(b.user.find(email="ann@example.com")) == 1
    b.lookups_fail = True

    report = await env.run()

    assert any("recovery of create_contact postponed" in e for e in report.errors)
    assert len(env.a.user.find(email="ann@example.com")) == 1
    b.lookups_fail = False
    assert (await env.run()).status == "succeeded"
    assert len(env.a.user.find(email="ann@example.com")) == 1
    assert len(b.user.find(email="ann@example.com")) == 1
    assert len(await harness.active_links(store, env.pair_id)) == 1
    assert not await harness.pending_entries(store, env.pair_id)
