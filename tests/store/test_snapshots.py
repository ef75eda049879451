"""Snapshots: bulk upsert, set loads, streaming, missing and dirty marks, notes."""

from __future__ import annotations

import functools
import time
from datetime import UTC, timedelta

import pytest
from sqlalchemy import select

from reconciler.store import repo_snapshots as snaps
from reconciler.store import sql
from reconciler.store.db import Store
from reconciler.store.tables import PairRow, SnapshotNoteRow
from reconciler.sync.model import ContactState, NoteState
from reconciler.sync.normalise import note_hash

from .conftest import NOW

_NOTES = SnapshotNoteRow.__table__  # type: ignore[attr-defined]


def _state(n: int, *, first: str = "Ann", tags: dict[str, str] | None = None) -> ContactState:
    return ContactState(
        contact_id=f"c{n:06d}",
        fields={
            "first_name": first,
            "last_name": f"Smith{n}",
            "email": f"ann{n}@example.com",
            "phone": None,
        },
        tags=tags if tags is not None else {"vip": "VIP", f"t{n % 5}": f"T{n % 5}"},
        date_updated=NOW - timedelta(days=1),
    )


def _note(note_id: str, body: str) -> NoteState:
    return NoteState(note_id=note_id, body=body, hash=note_hash(body))


async def test_upsert_reports_new_and_changed_contacts(store: Store, pair: PairRow) -> None:
    async with store.transaction() as s:
        first = await snaps.upsert_contacts(
            s, pair.id, "a", [_state(1), _state(2)], run_id="r1", seen_at=NOW
        )
    assert first == ["c000001", "c000002"]
    async with store.transaction() as s:
        again = await snaps.upsert_contacts(
            s,
            pair.id,
            "a",
            [_state(1), _state(2, first="Anne"), _state(3)],
            run_id="r2",
            seen_at=NOW,
        )
    assert again == ["c000002", "c000003"]
    async with store.session() as s:
        loaded = await snaps.load_contacts(s, pair.id, "a", ["c000002", "c000009"])
        other_side = await snaps.load_contacts(s, pair.id, "b", ["c000002"])
    assert list(loaded) == ["c000002"]
    contact = loaded["c000002"]
    assert contact.fields == {
        "first_name": "Anne",
        "last_name": "Smith2",
        "email": "ann2@example.com",
        "phone": None,
    }
    assert contact.tags == {"vip": "VIP", "t2": "T2"}
    assert contact.seen_run_id == "r2"
    assert contact.date_updated == NOW - timedelta(days=1)
    assert contact.listed
    assert contact.state().fields == contact.fields
    assert other_side == {}


async def test_tag_rename_is_a_change(store: Store, pair: PairRow) -> None:
    async with store.transaction() as s:
        await snaps.upsert_contacts(
            s, pair.id, "a", [_state(1, tags={"vip": "VIP"})], run_id="r1", seen_at=NOW
        )
        renamed = await snaps.upsert_contacts(
            s, pair.id, "a", [_state(1, tags={"vip": "Vip"})], run_id="r2", seen_at=NOW
        )
    assert renamed == ["c000001"]


async def test_a_listing_repeating_a_contact_keeps_the_last(store: Store, pair: PairRow) -> None:
    async with store.transaction() as s:
        changed = await snaps.upsert_contacts(
            s, pair.id, "a", [_state(1), _state(2), _state(1, first="Bo")], run_id="r1", seen_at=NOW
        )
        loaded = await snaps.load_contacts(s, pair.id, "a", ["c000001"])
    assert changed == ["c000001", "c000002"]
    assert loaded["c000001"].fields["first_name"] == "Bo"


async def test_stream_contacts_in_chunks(store: Store, pair: PairRow) -> None:
    async with store.transaction() as s:
        await snaps.upsert_contacts(
            s, pair.id, "b", [_state(n) for n in range(25)], run_id="r1", seen_at=NOW
        )
    async with store.session() as s:
        chunks = [chunk async for chunk in snaps.stream_contacts(s, pair.id, "b", chunk_size=10)]
    assert [len(c) for c in chunks] == [10, 10, 5]
    ids = [c.contact_id for chunk in chunks for c in chunk]
    assert ids == sorted(ids)
    assert len(set(ids)) == 25


async def test_mark_missing_after_a_complete_listing(store: Store, pair: PairRow) -> None:
    async with store.transaction() as s:
        await snaps.upsert_contacts(
            s, pair.id, "a", [_state(n) for n in range(4)], run_id="r1", seen_at=NOW
        )
        await snaps.mark_dirty(s, pair.id, "a", ["hint-only"], reason="webhook", now=NOW)
        later = NOW + timedelta(hours=1)
        await snaps.upsert_contacts(
            s, pair.id, "a", [_state(0), _state(2)], run_id="r2", seen_at=later
        )
        newly = await snaps.mark_missing(s, pair.id, "a", run_id="r2", now=later)
        # Marking again reports nothing new.
        assert await snaps.mark_missing(s, pair.id, "a", run_id="r2", now=later) == []
        # Seen again: no longer missing.
        await snaps.upsert_contacts(s, pair.id, "a", [_state(3)], run_id="r3", seen_at=later)
        missing = await snaps.missing_contact_ids(s, pair.id, "a")
        await snaps.delete_contacts(s, pair.id, "a", ["c000001"])
        remaining = await snaps.load_contacts(s, pair.id, "a", ["c000001", "c000003"])
    # Hint-only rows were never listed: they cannot be "missing".
    assert newly == ["c000001", "c000003"]
    assert missing == ["c000001"]
    assert list(remaining) == ["c000003"]
    assert remaining["c000003"].missing_since is None


async def test_dirty_hints_survive_until_handled(store: Store, pair: PairRow) -> None:
    run_start = NOW + timedelta(minutes=10)
    async with store.transaction() as s:
        await snaps.upsert_contacts(s, pair.id, "a", [_state(1)], run_id="r1", seen_at=NOW)
        await snaps.mark_dirty(
            s, pair.id, "a", ["c000001", "c-new"], reason="ContactUpdate", now=NOW
        )
        # A webhook during the run (after it started) must be kept for the next run.
        await snaps.mark_dirty(
            s, pair.id, "a", ["c-late"], reason="NoteCreate", now=run_start + timedelta(seconds=1)
        )
        dirty = await snaps.dirty_contact_ids(s, pair.id, "a")
        hinted = await snaps.load_contacts(s, pair.id, "a", ["c000001", "c-new"])
        await snaps.clear_dirty(
            s, pair.id, "a", ["c000001", "c-new", "c-late"], marked_before=run_start
        )
        after = await snaps.dirty_contact_ids(s, pair.id, "a")
        kept = await snaps.load_contacts(s, pair.id, "a", ["c000001", "c-new", "c-late"])
    assert dirty == ["c-new", "c000001", "c-late"]  # oldest hint first, then by id
    assert hinted["c000001"].listed
    assert hinted["c000001"].dirty_reason == "ContactUpdate"
    assert not hinted["c-new"].listed
    assert after == ["c-late"]
    # The listed contact stays (clean); the handled hint-only row is gone.
    assert set(kept) == {"c000001", "c-late"}
    assert not kept["c000001"].dirty


async def test_notes_replace_load_and_scan_order(store: Store, pair: PairRow) -> None:
    later = NOW + timedelta(hours=2)
    async with store.transaction() as s:
        await snaps.upsert_contacts(
            s, pair.id, "a", [_state(n) for n in range(4)], run_id="r1", seen_at=NOW
        )
        await snaps.replace_notes(
            s,
            pair.id,
            "a",
            {"c000001": [_note("n1", "hello"), _note("n2", "world")], "c000002": []},
            fetched_at=NOW,
        )
        await snaps.replace_notes(
            s, pair.id, "a", {"c000001": [_note("n2", "world!")]}, fetched_at=later
        )
        notes = await snaps.load_notes(s, pair.id, "a", ["c000001", "c000002", "c000003"])
        owners = await snaps.note_owner(s, pair.id, "a", ["n1", "n2"])
        await snaps.mark_dirty(s, pair.id, "a", ["c000002"], reason="NoteCreate", now=later)
        due = await snaps.notes_due(s, pair.id, "a", limit=3)
    assert notes == {"c000001": {"n2": _note("n2", "world!")}, "c000002": {}}
    assert owners == {"n2": "c000001"}
    # Webhook-marked first, then never read, then least recently read.
    assert due == ["c000002", "c000000", "c000003"]
    async with store.session() as s:
        contacts = await snaps.load_contacts(s, pair.id, "a", ["c000001"])
    assert contacts["c000001"].notes_fetched_at == later


async def test_note_moving_between_contacts_is_one_row(store: Store, pair: PairRow) -> None:
    async with store.transaction() as s:
        await snaps.replace_notes(s, pair.id, "b", {"x": [_note("n1", "a")]}, fetched_at=NOW)
        await snaps.replace_notes(s, pair.id, "b", {"y": [_note("n1", "a")]}, fetched_at=NOW)
        assert await snaps.note_owner(s, pair.id, "b", ["n1"]) == {"n1": "y"}


async def test_a_note_read_twice_while_moving_keeps_its_last_read(
    store: Store, pair: PairRow
) -> None:
    """Edited under its old contact, then read under a new one with a newer body (it moved
    while the run read notes): the row holds the last read, whatever statement wrote each."""
    async with store.transaction() as s:
        await snaps.replace_notes(s, pair.id, "a", {"x": [_note("n1", "v1")]}, fetched_at=NOW)
        await snaps.replace_notes(
            s,
            pair.id,
            "a",
            {"x": [_note("n1", "v2")], "y": [_note("n1", "v3")]},
            fetched_at=NOW,
        )
        result = await s.execute(
            select(_NOTES.c.contact_id, _NOTES.c.body).where(_NOTES.c.note_id == "n1")
        )
        assert result.all() == [("y", "v3")]


async def test_notes_read_again_write_only_what_changed(
    store: Store, pair: PairRow, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A note read again as stored keeps its row (``fetched_at`` of its first read); a changed
    note, a new one, and one moved between contacts are written; a note gone is deleted. With
    one contact per chunk, a note moving to a contact of a later chunk must not be lost to
    the earlier chunk's deletions."""
    monkeypatch.setattr(snaps, "chunks", functools.partial(sql.chunks, size=1))
    later = NOW + timedelta(hours=1)
    first = {
        "x": [_note("n1", "same"), _note("n2", "old"), _note("n3", "gone")],
        "y": [_note("n4", "moves")],
    }
    again = {
        "x": [_note("n1", "same"), _note("n2", "new"), _note("n5", "added")],
        "y": [],
        "z": [_note("n4", "moves")],
    }
    async with store.transaction() as s:
        await snaps.replace_notes(s, pair.id, "a", first, fetched_at=NOW)
        await snaps.replace_notes(s, pair.id, "a", again, fetched_at=later)
        result = await s.execute(
            select(_NOTES.c.note_id, _NOTES.c.contact_id, _NOTES.c.body, _NOTES.c.fetched_at)
            .where(_NOTES.c.pair_id == pair.id)
            .order_by(_NOTES.c.note_id)
        )
        rows = [(n, c, b, at.replace(tzinfo=UTC)) for n, c, b, at in result]
    assert rows == [
        ("n1", "x", "same", NOW),
        ("n2", "x", "new", later),
        ("n4", "z", "moves", later),
        ("n5", "x", "added", later),
    ]


async def test_parked_error_on_a_contact(store: Store, pair: PairRow) -> None:
    async with store.transaction() as s:
        await snaps.upsert_contacts(s, pair.id, "a", [_state(1)], run_id="r1", seen_at=NOW)
        await snaps.set_parked_error(s, pair.id, "a", "c000001", "400: bad email")
        parked = (await snaps.load_contacts(s, pair.id, "a", ["c000001"]))["c000001"]
        await snaps.set_parked_error(s, pair.id, "a", "c000001", None)
        cleared = (await snaps.load_contacts(s, pair.id, "a", ["c000001"]))["c000001"]
    assert parked.parked_error == "400: bad email"
    assert cleared.parked_error is None


async def test_bulk_upsert_of_20000_rows(store: Store, pair: PairRow) -> None:
    states = [_state(n) for n in range(20_000)]
    started = time.perf_counter()
    async with store.transaction() as s:
        changed = await snaps.upsert_contacts(s, pair.id, "a", states, run_id="r1", seen_at=NOW)
    first_pass = time.perf_counter() - started
    assert len(changed) == 20_000
    edited = [_state(n, first="Zed") if n % 100 == 0 else _state(n) for n in range(20_000)]
    async with store.transaction() as s:
        changed = await snaps.upsert_contacts(s, pair.id, "a", edited, run_id="r2", seen_at=NOW)
        missing = await snaps.mark_missing(s, pair.id, "a", run_id="r2", now=NOW)
    assert len(changed) == 200
    assert missing == []
    async with store.session() as s:
        total = 0
        async for chunk in snaps.stream_contacts(s, pair.id, "a"):
            total += len(chunk)
        some = await snaps.load_contacts(
            s, pair.id, "a", [f"c{n:06d}" for n in range(0, 20_000, 7)]
        )
    assert total == 20_000
    assert len(some) == len(range(0, 20_000, 7))
    assert some["c000000"].fields["first_name"] == "Zed"
    # Generous bound (2 cores, shared CI): a bulk path that went row-by-row would blow it.
    assert first_pass < 20, f"bulk upsert took {first_pass:.1f}s"
