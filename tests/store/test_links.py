"""Links, bases and note links: by the set, one active link per contact."""

from __future__ import annotations

from datetime import timedelta

import pytest

from reconciler.errors import StoreConflictError
from reconciler.sides.base import CoreField
from reconciler.store import repo_links as links
from reconciler.store.db import Store
from reconciler.store.schema import LinkStatus
from reconciler.store.tables import PairRow
from reconciler.sync.model import LinkBase, NoteLinkBase
from reconciler.sync.normalise import note_hash

from .conftest import NOW

FIELDS: dict[CoreField, str | None] = {
    "first_name": "Ann",
    "last_name": "Lee",
    "email": "ann@x.com",
    "phone": "+15550001",
}


def _note_link(n: int, body: str) -> NoteLinkBase:
    return NoteLinkBase(
        note_link_id=f"nl{n}",
        a_note_id=f"na{n}",
        b_note_id=f"nb{n}",
        body=body,
        hash=note_hash(body),
    )


async def test_create_and_find_links_by_either_side(store: Store, pair: PairRow) -> None:
    async with store.transaction() as s:
        created = await links.create_links(
            s, pair.id, [("a1", "b1"), ("a2", "b2"), ("a3", "b3")], now=NOW
        )
    async with store.session() as s:
        by_a = await links.links_by_contact(s, pair.id, "a", ["a1", "a3", "a9"])
        by_b = await links.links_by_contact(s, pair.id, "b", ["b2"])
        loaded = await links.load_links(s, [created[0].id, "missing"])
        one = await links.get_link(s, created[1].id)
    assert {k: v.b_id for k, v in by_a.items()} == {"a1": "b1", "a3": "b3"}
    assert by_b["b2"].id == created[1].id
    assert list(loaded) == [created[0].id]
    assert loaded[created[0].id] == created[0]
    assert one == created[1]
    assert one is not None
    assert one.active
    assert one.contact_id("b") == "b2"


async def test_a_contact_has_one_active_link(store: Store, pair: PairRow) -> None:
    async with store.transaction() as s:
        await links.create_links(s, pair.id, [("a1", "b1")], now=NOW)
    for duplicate in [("a1", "b2"), ("a2", "b1")]:
        with pytest.raises(StoreConflictError):
            async with store.transaction() as s:
                await links.create_links(s, pair.id, [duplicate], now=NOW)


async def test_unlinked_contacts_can_be_linked_again(store: Store, pair: PairRow) -> None:
    later = NOW + timedelta(hours=1)
    async with store.transaction() as s:
        (old,) = await links.create_links(s, pair.id, [("a1", "b1")], now=NOW)
        await links.unlink(s, [old.id], now=later)
        (new,) = await links.create_links(s, pair.id, [("a1", "b2")], now=later)
        active = await links.links_by_contact(s, pair.id, "a", ["a1"])
        old_again = await links.get_link(s, old.id)
    assert active["a1"].id == new.id
    assert old_again is not None
    assert old_again.status is LinkStatus.UNLINKED
    assert old_again.updated_at == later


async def test_stream_links_in_chunks(store: Store, pair: PairRow) -> None:
    async with store.transaction() as s:
        created = await links.create_links(
            s, pair.id, [(f"a{n}", f"b{n}") for n in range(7)], now=NOW
        )
        await links.unlink(s, [created[0].id], now=NOW)
        active = [c async for c in links.stream_links(s, pair.id, chunk_size=3)]
        everything = [c async for c in links.stream_links(s, pair.id, active_only=False)]
    assert [len(c) for c in active] == [3, 3]
    assert sum(len(c) for c in everything) == 7


async def test_excluded_flag(store: Store, pair: PairRow) -> None:
    async with store.transaction() as s:
        (link,) = await links.create_links(s, pair.id, [("a1", "b1")], now=NOW)
        await links.set_excluded(s, link.id, True, now=NOW)
        loaded = await links.get_link(s, link.id)
    assert loaded is not None
    assert loaded.excluded


async def test_bases_round_trip_with_note_links(store: Store, pair: PairRow) -> None:
    async with store.transaction() as s:
        l1, l2, l3 = await links.create_links(
            s, pair.id, [("a1", "b1"), ("a2", "b2"), ("a3", "b3")], now=NOW
        )
        base1 = LinkBase(
            fields=FIELDS,
            tags={"vip": "VIP", "lead": "Lead"},
            notes=(_note_link(1, "first"), _note_link(2, "second")),
        )
        base2 = LinkBase(fields={**FIELDS, "phone": None}, tags={})
        await links.save_bases(s, pair.id, {l1.id: base1, l2.id: base2}, now=NOW)
    async with store.session() as s:
        loaded = await links.load_bases(s, [l1.id, l2.id, l3.id])
        by_note = await links.note_links_by_note(s, pair.id, "b", ["nb2", "nb9"])
    assert loaded == {l1.id: base1, l2.id: base2}
    assert by_note == {"nb2": (l1.id, _note_link(2, "second"))}


async def test_save_bases_replaces_the_note_link_set(store: Store, pair: PairRow) -> None:
    async with store.transaction() as s:
        (link,) = await links.create_links(s, pair.id, [("a1", "b1")], now=NOW)
        await links.save_bases(
            s,
            pair.id,
            {link.id: LinkBase(FIELDS, {}, (_note_link(1, "x"), _note_link(2, "y")))},
            now=NOW,
        )
        replaced = LinkBase(FIELDS, {"t": "T"}, (_note_link(2, "y edited"), _note_link(3, "z")))
        await links.save_bases(s, pair.id, {link.id: replaced}, now=NOW)
        loaded = await links.load_bases(s, [link.id])
    assert loaded[link.id] == replaced


async def test_partial_base_updates_touch_only_their_part(store: Store, pair: PairRow) -> None:
    async with store.transaction() as s:
        (link,) = await links.create_links(s, pair.id, [("a1", "b1")], now=NOW)
        await links.save_base_fields_tags(s, link.id, tags={"vip": "VIP"}, now=NOW)
        first = (await links.load_bases(s, [link.id]))[link.id]
        await links.save_base_fields_tags(s, link.id, fields=FIELDS, now=NOW)
        second = (await links.load_bases(s, [link.id]))[link.id]
        await links.upsert_note_links(s, pair.id, [(link.id, _note_link(1, "n"))], now=NOW)
        await links.upsert_note_links(s, pair.id, [(link.id, _note_link(1, "n2"))], now=NOW)
        third = (await links.load_bases(s, [link.id]))[link.id]
        await links.delete_note_links(s, ["nl1"])
        fourth = (await links.load_bases(s, [link.id]))[link.id]
    assert first.tags == {"vip": "VIP"}
    assert first.fields == {}  # no field agreed yet (not "agreed empty")
    assert (second.fields, second.tags) == (FIELDS, {"vip": "VIP"})
    assert third.notes == (_note_link(1, "n2"),)
    assert fourth.notes == ()


async def test_a_note_is_linked_once(store: Store, pair: PairRow) -> None:
    async with store.transaction() as s:
        (link,) = await links.create_links(s, pair.id, [("a1", "b1")], now=NOW)
        await links.upsert_note_links(s, pair.id, [(link.id, _note_link(1, "n"))], now=NOW)
    clash = NoteLinkBase("nl-other", "na1", "nb-other", "n", note_hash("n"))
    with pytest.raises(StoreConflictError):
        async with store.transaction() as s:
            await links.upsert_note_links(s, pair.id, [(link.id, clash)], now=NOW)


async def test_many_links_and_bases_in_few_queries(store: Store, pair: PairRow) -> None:
    count = 5000
    async with store.transaction() as s:
        created = await links.create_links(
            s, pair.id, [(f"a{n}", f"b{n}") for n in range(count)], now=NOW
        )
        bases = {
            link.id: LinkBase(FIELDS, {"t": "T"}, (_note_link(n, f"body {n}"),))
            for n, link in enumerate(created)
        }
        await links.save_bases(s, pair.id, bases, now=NOW)
    async with store.session() as s:
        loaded = await links.load_bases(s, [link.id for link in created])
        by_a = await links.links_by_contact(s, pair.id, "a", [f"a{n}" for n in range(count)])
    assert loaded == bases
    assert len(by_a) == count
