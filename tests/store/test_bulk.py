"""The bulk write path's upsert of indexed columns (``update_indexed``): written where they
changed, left alone where they did not; the note links' unique note indexes; PostgreSQL's
planner statistics of a table filled a wave at a time; no catalog writes on PostgreSQL; and
awkward values stored as given on both databases."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, text

from reconciler.errors import StoreConflictError
from reconciler.store import repo_links, repo_snapshots
from reconciler.store.bulk import _DUE, ANALYZE_AFTER_ROWS, _Growth, insert_values
from reconciler.store.db import Store
from reconciler.store.tables import PairRow, SnapshotContactRow, SnapshotNoteRow
from reconciler.sync.model import ContactState, NoteLinkBase, NoteState

from .conftest import NOW

_CONTACT = SnapshotContactRow.__table__  # type: ignore[attr-defined]
_NOTE = SnapshotNoteRow.__table__  # type: ignore[attr-defined]
_NOTE_COLUMNS = ("pair_id", "side", "note_id", "contact_id", "body", "hash", "fetched_at")


def _person(n: int, email: str, phone: str | None = None) -> ContactState:
    return ContactState(
        contact_id=f"c{n}",
        fields={"first_name": f"P{n}", "last_name": None, "email": email, "phone": phone},
        tags={"vip": "vip"},
        date_updated=NOW - timedelta(days=1),
    )


async def _keys(store: Store, pair_id: str) -> dict[str, tuple[str | None, str | None]]:
    async with store.session() as s:
        result = await s.execute(
            select(_CONTACT.c.contact_id, _CONTACT.c.email_key, _CONTACT.c.phone_key).where(
                _CONTACT.c.pair_id == pair_id
            )
        )
        return {cid: (email, phone) for cid, email, phone in result}


async def test_a_listing_updates_identity_keys_that_changed(store: Store, pair: PairRow) -> None:
    first = [_person(1, "a@x.io"), _person(2, "b@x.io", "+15550001111"), _person(3, "c@x.io")]
    again = [
        _person(1, "a@x.io"),  # as stored
        _person(2, "b@x.io"),  # phone cleared
        _person(3, "new@x.io", "+15550002222"),  # both changed
        _person(4, "d@x.io"),  # new
    ]
    for states in (first, again):
        async with store.transaction() as s:
            await repo_snapshots.put_listed(s, pair.id, "a", states, run_id="r", seen_at=NOW)
    assert await _keys(store, pair.id) == {
        "c1": ("a@x.io", None),
        "c2": ("b@x.io", None),
        "c3": ("new@x.io", "+15550002222"),
        "c4": ("d@x.io", None),
    }
    async with store.session() as s:
        found = await repo_snapshots.load_contacts(s, pair.id, "a", ["c3"])
    assert found["c3"].fields["email"] == "new@x.io"


async def test_sqlite_leaves_rows_whose_indexed_columns_did_not_change(
    store: Store, pair: PairRow
) -> None:
    """The point of ``update_indexed``: of three rows upserted again, only the one whose email
    changed is written a second time (``total_changes``: 3 for the upsert, 1 for the email).
    Set in the upsert, the unchanged emails' index entries would be rewritten too."""
    if store.dialect != "sqlite":
        pytest.skip("PostgreSQL sets them in the upsert (HOT compares the values itself)")
    columns = ("pair_id", "side", "contact_id", "fields", "tags", "dirty", "email_key")
    rows = [(pair.id, "a", f"c{n}", {}, {}, False, f"{n}@x.io") for n in range(3)]
    async with store.transaction() as s:
        await insert_values(s, _CONTACT, columns, rows)
    changed = [*rows[:2], (pair.id, "a", "c2", {}, {}, True, "moved@x.io")]
    async with store.transaction() as s:
        before = (await s.execute(text("SELECT total_changes()"))).scalar_one()
        await insert_values(
            s,
            _CONTACT,
            columns,
            changed,
            conflict=("pair_id", "side", "contact_id"),
            update=("dirty",),
            update_indexed=("email_key",),
        )
        after = (await s.execute(text("SELECT total_changes()"))).scalar_one()
    assert after - before == 3 + 1
    assert (await _keys(store, pair.id))["c2"] == ("moved@x.io", None)


async def test_a_note_link_moved_onto_a_linked_note_is_a_conflict(
    store: Store, pair: PairRow
) -> None:
    """A note link's notes may change (the whole row is set then), but never onto a note that
    another note link holds; a base edit (``same_notes``) keeps the note ids."""
    async with store.transaction() as s:
        [link] = await repo_links.create_links(s, pair.id, [("ca", "cb")], now=NOW)
        await repo_links.upsert_note_links(
            s,
            pair.id,
            [
                (link.id, NoteLinkBase("nl1", "na1", "nb1", "one", "h1")),
                (link.id, NoteLinkBase("nl2", "na2", "nb2", "two", "h2")),
            ],
            now=NOW,
        )
    with pytest.raises(StoreConflictError):
        async with store.transaction() as s:
            await repo_links.upsert_note_links(
                s, pair.id, [(link.id, NoteLinkBase("nl2", "na2", "nb1", "two", "h2"))], now=NOW
            )
    async with store.transaction() as s:
        await repo_links.upsert_note_links(
            s, pair.id, [(link.id, NoteLinkBase("nl2", "na2", "nb3", "2", "h3"))], now=NOW
        )
        await repo_links.upsert_note_links(
            s,
            pair.id,
            [(link.id, NoteLinkBase("nl1", "na1", "nb1", "one!", "h4"))],
            now=NOW,
            same_notes=True,
        )
        stored = await repo_links.note_links_by_note(s, pair.id, "b", ["nb1", "nb2", "nb3"])
    assert sorted(stored) == ["nb1", "nb3"]
    assert stored["nb3"][1].body == "2"
    assert stored["nb1"][1] == NoteLinkBase("nl1", "na1", "nb1", "one!", "h4")


async def test_postgres_gathers_statistics_of_a_table_filled_a_wave_at_a_time(
    store: Store, pair: PairRow
) -> None:
    """A first sync writes its links and notes in waves of a few hundred rows. Left to
    autovacuum (minutes later), the planner would see no rows in them for the rest of the run
    and the next: the rolling notes scan joined a pair's links by ``pair_id`` alone and
    filtered them all for each contact (142 ms instead of 0.2 ms at 10,000 links). Six
    waves of 1,000 rows must leave the table's row count where the planner reads it; and the
    ANALYZE runs after the commit, so no writing transaction holds its lock (two runs holding
    two tables' locks in opposite orders would deadlock)."""
    if store.dialect != "postgresql":
        pytest.skip("SQLite's planner keeps no statistics the engine relies on")
    async with store.transaction() as s:
        # So that only the store's own ANALYZE can have counted the rows.
        await s.execute(text("ALTER TABLE snapshot_note SET (autovacuum_enabled = false)"))
    for wave in range(6):
        rows = [(pair.id, "a", f"n{wave}-{i}", f"c{i}", "b", "h", NOW) for i in range(1000)]
        async with store.transaction() as s:
            await insert_values(s, _NOTE, _NOTE_COLUMNS, rows)
            held = await s.execute(
                text(
                    "SELECT count(*) FROM pg_locks WHERE pid = pg_backend_pid()"
                    " AND relation = 'snapshot_note'::regclass"
                    " AND mode = 'ShareUpdateExclusiveLock'"
                )
            )
            assert held.scalar_one() == 0
    async with store.session() as s:
        estimate = await s.execute(
            text("SELECT reltuples FROM pg_class WHERE relname = 'snapshot_note'")
        )
        assert estimate.scalar_one() >= 5000


async def test_postgres_bulk_writes_leave_the_catalog_alone(store: Store, pair: PairRow) -> None:
    """A service writes in bulk dozens of times a run, for every pair, all day. Each write
    that made a staging table inserted and deleted rows of ``pg_class``, ``pg_attribute``
    and ``pg_type`` (bloat only autovacuum undoes); a bulk write must touch no catalog."""
    if store.dialect != "postgresql":
        pytest.skip("SQLite's bulk path makes no tables")
    catalog_writes = text(
        "SELECT coalesce(sum(n_tup_ins + n_tup_del), 0) FROM pg_stat_xact_sys_tables"
        " WHERE relname IN ('pg_class', 'pg_attribute', 'pg_type')"
    )
    rows = [(pair.id, "a", f"n{i}", f"c{i}", "b", "h", NOW) for i in range(3)]
    async with store.transaction() as s:
        await insert_values(s, _NOTE, _NOTE_COLUMNS, rows, conflict=("pair_id", "side", "note_id"))
        await insert_values(
            s, _NOTE, _NOTE_COLUMNS, rows, conflict=("pair_id", "side", "note_id"), update=("body",)
        )
        assert (await s.execute(catalog_writes)).scalar_one() == 0
        stored = await s.execute(select(func.count()).where(_NOTE.c.pair_id == pair.id))
        assert stored.scalar_one() == 3


def test_statistics_are_gathered_at_doubling_intervals() -> None:
    """Often enough for a table growing from nothing, seldom enough for a large load: at
    5,000 rows, 10,000, 20,000, 40,000 (log2 of the load, not one per wave)."""
    growth = _Growth()
    due = [n for n in range(1, 41) if growth.due(1000)]
    assert [n * 1000 for n in due] == [
        ANALYZE_AFTER_ROWS,
        2 * ANALYZE_AFTER_ROWS,
        4 * ANALYZE_AFTER_ROWS,
        8 * ANALYZE_AFTER_ROWS,
    ]


async def test_a_failed_statistics_refresh_does_not_fail_the_committed_write(
    store: Store, pair: PairRow, caplog: pytest.LogCaptureFixture
) -> None:
    """The refresh runs after the commit: its failure is a warning, and the write stands."""
    async with store.transaction() as s:
        await insert_values(s, _NOTE, _NOTE_COLUMNS, [(pair.id, "a", "n1", "c1", "b", "h", NOW)])
        s.info[_DUE] = {"no_such_table"}
    assert "could not refresh planner statistics of no_such_table" in caplog.text
    async with store.session() as s:
        stored = await s.execute(select(_NOTE.c.note_id).where(_NOTE.c.pair_id == pair.id))
        assert list(stored.scalars()) == ["n1"]


# Text that array literals, COPY and JSON each quote or escape in their own way.
_AWKWARD = (
    "NULL",
    "",
    " ",
    'say "hi", {you}',
    "back\\slash \\N tab\there\nnew line",
    "{}",
    "[1,2]",
    "naïve café 😀 ✓",
    "',); DROP TABLE snapshot_note; --",
)


async def test_awkward_values_are_stored_as_given(store: Store, pair: PairRow) -> None:
    """What the bulk path stores reads back unchanged: strings that look like NULL, arrays or
    JSON, quotes, backslashes, control characters and non-ASCII text, in plain and JSON
    columns, next to real NULLs, booleans and timestamps."""
    states = [
        ContactState(
            contact_id=f"c{i}",
            fields={"first_name": text_, "last_name": None, "email": f"{i}@x.io", "phone": None},
            tags={f"k{i}": text_} if text_ else {},
            date_updated=NOW - timedelta(seconds=i),
        )
        for i, text_ in enumerate(_AWKWARD)
    ]
    notes = {f"c{i}": [NoteState(f"n{i}", text_, f"h{i}")] for i, text_ in enumerate(_AWKWARD)}
    async with store.transaction() as s:
        await repo_snapshots.put_listed(s, pair.id, "a", states, run_id="r", seen_at=NOW)
        await repo_snapshots.replace_notes(s, pair.id, "a", notes, fetched_at=NOW)
    ids = [state.contact_id for state in states]
    async with store.session() as s:
        contacts = await repo_snapshots.load_contacts(s, pair.id, "a", ids)
        stored_notes = await repo_snapshots.load_notes(s, pair.id, "a", ids)
    for i, (state, text_) in enumerate(zip(states, _AWKWARD, strict=True)):
        got = contacts[state.contact_id]
        assert got.fields["first_name"] == text_
        assert got.fields["last_name"] is None
        assert dict(got.tags) == dict(state.tags)
        assert got.date_updated == state.date_updated
        assert got.seen_at == NOW
        assert got.missing_since is None
        assert got.dirty is False
        assert got.notes_fetched_at == NOW
        assert stored_notes[state.contact_id] == {f"n{i}": NoteState(f"n{i}", text_, f"h{i}")}
