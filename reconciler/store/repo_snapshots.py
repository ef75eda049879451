"""Snapshots: each side's last view of its contacts and notes, written and read in bulk.

A run writes thousands of rows at a time: every write here is one statement per chunk
(``INSERT ... ON CONFLICT DO UPDATE`` with executemany), every read loads a *set* of contacts in
a few ``IN`` queries, and whole-side reads stream in keyset-paged chunks.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from operator import itemgetter
from typing import Any

from sqlalchemy import and_, delete, or_, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession

from reconciler.sides.base import CoreField, SideName
from reconciler.store.bulk import insert_values
from reconciler.store.codec import core_fields, encode_fields, encode_tags, hash_encoded
from reconciler.store.schema import table_of
from reconciler.store.sql import CHUNK, chunks, in_values, unique, upsert
from reconciler.store.tables import SnapshotContactRow, SnapshotNoteRow
from reconciler.sync.model import ContactState, NoteState

_CONTACT = table_of(SnapshotContactRow)
_NOTE = table_of(SnapshotNoteRow)


@dataclass(frozen=True, slots=True)
class SnapshotContact:
    """One side's stored view of a contact (see ``SnapshotContactRow`` for the columns).

    ``listed`` is False for a row known only from a webhook hint: no listing returned it yet,
    so ``fields``/``tags`` are empty and mean nothing.
    """

    contact_id: str
    fields: Mapping[CoreField, str | None]
    tags: Mapping[str, str]
    date_updated: datetime | None
    hash: str | None
    seen_run_id: str | None
    seen_at: datetime | None
    missing_since: datetime | None
    notes_fetched_at: datetime | None
    dirty: bool
    dirty_reason: str | None
    dirty_at: datetime | None
    parked_error: str | None

    @property
    def listed(self) -> bool:
        return self.hash is not None

    def state(self, notes: Mapping[str, NoteState] | None = None) -> ContactState:
        """The engine's ``ContactState``; ``notes`` only when they were read fresh."""
        return ContactState(
            contact_id=self.contact_id,
            fields=self.fields,
            tags=self.tags,
            notes=notes,
            date_updated=self.date_updated,
        )


_CONTACT_COLUMNS = (
    _CONTACT.c.contact_id,
    _CONTACT.c.fields,
    _CONTACT.c.tags,
    _CONTACT.c.date_updated,
    _CONTACT.c.hash,
    _CONTACT.c.seen_run_id,
    _CONTACT.c.seen_at,
    _CONTACT.c.missing_since,
    _CONTACT.c.notes_fetched_at,
    _CONTACT.c.dirty,
    _CONTACT.c.dirty_reason,
    _CONTACT.c.dirty_at,
    _CONTACT.c.parked_error,
)


def _contact(row: Any) -> SnapshotContact:
    return SnapshotContact(
        contact_id=row.contact_id,
        fields=core_fields(row.fields or {}),
        tags=dict(row.tags or {}),
        date_updated=row.date_updated,
        hash=row.hash,
        seen_run_id=row.seen_run_id,
        seen_at=row.seen_at,
        missing_since=row.missing_since,
        notes_fetched_at=row.notes_fetched_at,
        dirty=bool(row.dirty),
        dirty_reason=row.dirty_reason,
        dirty_at=row.dirty_at,
        parked_error=row.parked_error,
    )


_CONTACT_KEY = ("pair_id", "side", "contact_id")
# What a listing sets; dirty hints, note scan progress and parked errors are kept.
_LISTED_COLUMNS = (
    "fields",
    "tags",
    "date_updated",
    "hash",
    "seen_run_id",
    "seen_at",
    "missing_since",
    "deleted_at",
)
# Set where they differ only (``bulk.insert_rows``): indexed, and nearly always unchanged.
_IDENTITY_KEYS = ("email_key", "phone_key")


def _side_of(pair_id: str, side: SideName) -> Any:
    return and_(_CONTACT.c.pair_id == pair_id, _CONTACT.c.side == side)


# ---------------------------------------------------------------------------------- contacts


async def upsert_contacts(
    s: AsyncSession,
    pair_id: str,
    side: SideName,
    states: Sequence[ContactState],
    *,
    run_id: str | None,
    seen_at: datetime,
) -> list[str]:
    """Store contacts as a listing returned them; the ids whose content is new or changed.

    Every stored contact is marked seen by ``run_id`` (what ``mark_missing`` relies on) and is
    no longer missing. Dirty hints stay: ``clear_dirty`` removes them once handled.
    """
    rows = _listed_rows(pair_id, side, states, run_id=run_id, seen_at=seen_at)
    changed: list[str] = []
    for batch in chunks(rows):
        stored = await _stored_hashes(s, pair_id, side, [row[_ID] for row in batch])
        changed.extend(row[_ID] for row in batch if stored.get(row[_ID]) != row[_HASH])
    await _put_listed(s, rows)
    return unique(changed)


async def put_listed(
    s: AsyncSession,
    pair_id: str,
    side: SideName,
    states: Sequence[ContactState],
    *,
    run_id: str | None,
    seen_at: datetime,
    first_listing: bool = False,
) -> None:
    """``upsert_contacts`` without telling what changed (the engine finds that out from
    ``settled_hash``): no read before the write.

    ``first_listing``: the side was never listed whole, so nearly every row is new and the
    matching keys are written by the upsert, not looked at again where they changed.
    """
    rows = _listed_rows(pair_id, side, states, run_id=run_id, seen_at=seen_at)
    await _put_listed(s, rows, first_listing=first_listing)


# What a listing writes, in this order (``_listed_rows``); the key, then ``_LISTED_COLUMNS``.
_LISTED_INSERT = (*_CONTACT_KEY, *_LISTED_COLUMNS, *_IDENTITY_KEYS, "dirty")
_ID, _HASH = _LISTED_INSERT.index("contact_id"), _LISTED_INSERT.index("hash")


def _listed_rows(
    pair_id: str,
    side: SideName,
    states: Sequence[ContactState],
    *,
    run_id: str | None,
    seen_at: datetime,
) -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = []
    for state in states:
        fields = state.fields
        fields_json, tags_json = encode_fields(fields), encode_tags(state.tags)
        rows.append(
            (
                pair_id,
                side,
                state.contact_id,
                fields_json,
                tags_json,
                state.date_updated,
                hash_encoded(fields_json, tags_json),
                run_id,
                seen_at,
                None,  # missing_since
                None,  # deleted_at: listed again, whatever made us believe it deleted is void
                # Matching keys: the fields are stored normalised, so these are copies.
                fields.get("email"),
                fields.get("phone"),
                False,  # dirty (a new row's; an existing row keeps its hint)
            )
        )
    return rows


async def _put_listed(
    s: AsyncSession, rows: Sequence[tuple[Any, ...]], *, first_listing: bool = False
) -> None:
    await insert_values(
        s,
        _CONTACT,
        _LISTED_INSERT,
        rows,
        conflict=_CONTACT_KEY,
        update=(*_LISTED_COLUMNS, *_IDENTITY_KEYS) if first_listing else _LISTED_COLUMNS,
        update_indexed=() if first_listing else _IDENTITY_KEYS,
    )


async def _stored_hashes(
    s: AsyncSession, pair_id: str, side: SideName, contact_ids: Sequence[str]
) -> dict[str, str | None]:
    result = await s.execute(
        select(_CONTACT.c.contact_id, _CONTACT.c.hash).where(
            _side_of(pair_id, side), in_values(s, _CONTACT.c.contact_id, contact_ids)
        )
    )
    return {row.contact_id: row.hash for row in result}


async def load_contacts(
    s: AsyncSession, pair_id: str, side: SideName, contact_ids: Collection[str]
) -> dict[str, SnapshotContact]:
    """The stored contacts among ``contact_ids`` (absent ids are simply not in the result)."""
    out: dict[str, SnapshotContact] = {}
    for batch in chunks(unique(contact_ids)):
        result = await s.execute(
            select(*_CONTACT_COLUMNS).where(
                _side_of(pair_id, side), in_values(s, _CONTACT.c.contact_id, batch)
            )
        )
        for row in result:
            out[row.contact_id] = _contact(row)
    return out


async def stream_contacts(
    s: AsyncSession, pair_id: str, side: SideName, *, chunk_size: int = CHUNK
) -> AsyncIterator[list[SnapshotContact]]:
    """Every stored contact of one side, in chunks ordered by contact id (keyset paging)."""
    after: str | None = None
    while True:
        query = select(*_CONTACT_COLUMNS).where(_side_of(pair_id, side))
        if after is not None:
            query = query.where(_CONTACT.c.contact_id > after)
        result = await s.execute(query.order_by(_CONTACT.c.contact_id).limit(chunk_size))
        batch = [_contact(row) for row in result]
        if not batch:
            return
        yield batch
        if len(batch) < chunk_size:
            return
        after = batch[-1].contact_id


async def mark_missing(
    s: AsyncSession, pair_id: str, side: SideName, *, run_id: str, now: datetime
) -> list[str]:
    """After a COMPLETE listing by ``run_id``: flag listed contacts it did not return.

    Returns the ids newly flagged. Missing is not deleted: a deletion is believed only after a
    per-contact confirmation (the engine's business); ``delete_contacts`` then forgets them.
    """
    result = await s.execute(
        update(_CONTACT)
        .where(
            _side_of(pair_id, side),
            _CONTACT.c.hash.is_not(None),
            _CONTACT.c.missing_since.is_(None),
            or_(_CONTACT.c.seen_run_id.is_(None), _CONTACT.c.seen_run_id != run_id),
        )
        .values(missing_since=now)
        .returning(_CONTACT.c.contact_id)
    )
    return sorted(result.scalars())


async def missing_contact_ids(s: AsyncSession, pair_id: str, side: SideName) -> list[str]:
    result = await s.execute(
        select(_CONTACT.c.contact_id)
        .where(_side_of(pair_id, side), _CONTACT.c.missing_since.is_not(None))
        .order_by(_CONTACT.c.contact_id)
    )
    return list(result.scalars())


async def delete_contacts(
    s: AsyncSession, pair_id: str, side: SideName, contact_ids: Collection[str]
) -> None:
    """Forget contacts gone for good (confirmed deleted, or replaced), with their notes."""
    for batch in chunks(unique(contact_ids)):
        await s.execute(
            delete(_NOTE).where(
                _NOTE.c.pair_id == pair_id,
                _NOTE.c.side == side,
                in_values(s, _NOTE.c.contact_id, batch),
            )
        )
        await s.execute(
            delete(_CONTACT).where(
                _side_of(pair_id, side), in_values(s, _CONTACT.c.contact_id, batch)
            )
        )


async def set_parked_error(
    s: AsyncSession, pair_id: str, side: SideName, contact_id: str, error: str | None
) -> None:
    await s.execute(
        update(_CONTACT)
        .where(_side_of(pair_id, side), _CONTACT.c.contact_id == contact_id)
        .values(parked_error=error)
    )


# ------------------------------------------------------------------------------ dirty hints


async def mark_dirty(
    s: AsyncSession,
    pair_id: str,
    side: SideName,
    contact_ids: Collection[str],
    *,
    reason: str,
    now: datetime,
) -> None:
    """Webhook hints: look at these contacts first. Unknown ids get a hint-only row."""
    for batch in chunks(unique(contact_ids)):
        stmt = upsert(s, _CONTACT)
        stmt = stmt.on_conflict_do_update(
            index_elements=[_CONTACT.c.pair_id, _CONTACT.c.side, _CONTACT.c.contact_id],
            set_={"dirty": True, "dirty_reason": stmt.excluded.dirty_reason, "dirty_at": now},
        )
        rows = [
            {
                "pair_id": pair_id,
                "side": side,
                "contact_id": contact_id,
                "fields": {},
                "tags": {},
                "dirty": True,
                "dirty_reason": reason,
                "dirty_at": now,
            }
            for contact_id in batch
        ]
        await s.execute(stmt, rows)


async def dirty_contact_ids(
    s: AsyncSession, pair_id: str, side: SideName, *, limit: int | None = None
) -> list[str]:
    """Contacts with a pending hint, oldest hint first."""
    query = (
        select(_CONTACT.c.contact_id)
        .where(_side_of(pair_id, side), _CONTACT.c.dirty == true())
        .order_by(_CONTACT.c.dirty_at, _CONTACT.c.contact_id)
    )
    if limit is not None:
        query = query.limit(limit)
    return list((await s.execute(query)).scalars())


async def clear_dirty(
    s: AsyncSession,
    pair_id: str,
    side: SideName,
    contact_ids: Collection[str],
    *,
    marked_before: datetime,
) -> None:
    """Drop hints the run has handled: only those set before ``marked_before`` (the run's
    start), so a webhook arriving during the run is kept for the next one."""
    # Only the hinted rows (few, and found by their partial index) are touched: a first sync
    # looks at every contact, and testing each by id took over 0.8 s at 100,000.
    hinted = set(await dirty_contact_ids(s, pair_id, side))
    handled = [cid for cid in unique(contact_ids) if cid in hinted]
    for batch in chunks(handled):
        await s.execute(
            update(_CONTACT)
            .where(
                _side_of(pair_id, side),
                in_values(s, _CONTACT.c.contact_id, batch),
                _CONTACT.c.dirty == true(),
                _CONTACT.c.dirty_at < marked_before,
            )
            .values(dirty=False, dirty_reason=None, dirty_at=None)
        )
    # Hint-only rows of contacts the side never listed and the run has looked at: gone.
    for batch in chunks(handled):
        await s.execute(
            delete(_CONTACT).where(
                _side_of(pair_id, side),
                in_values(s, _CONTACT.c.contact_id, batch),
                _CONTACT.c.hash.is_(None),
                _CONTACT.c.dirty.is_(False),
            )
        )


# ------------------------------------------------------------------------------------ notes


async def replace_notes(
    s: AsyncSession,
    pair_id: str,
    side: SideName,
    notes_by_contact: Mapping[str, Sequence[NoteState]],
    *,
    fetched_at: datetime,
) -> None:
    """Store the complete, freshly read note lists of these contacts (replacing the old).

    Only what differs from the stored rows is written: most notes a run reads (the rolling
    scan's, a changed contact's other notes) are as stored, and rewriting them dirtied as many
    random index pages as there were notes. ``fetched_at`` of a note row is when that version
    of the note was first read; the contact's ``notes_fetched_at`` is when its list was.
    Rows are written in key order: SQLite then changes each index page once for many rows
    rather than once per row (note and contact ids are random).
    """
    rows: list[tuple[Any, ...]] = []  # notes new to these contacts (or moved to them)
    edited: list[tuple[Any, ...]] = []  # notes stored under the same contact, changed
    gone: list[str] = []
    for batch in chunks(sorted(notes_by_contact)):
        stored = await s.execute(
            select(_NOTE.c.note_id, _NOTE.c.contact_id, _NOTE.c.hash, _NOTE.c.body).where(
                _NOTE.c.pair_id == pair_id,
                _NOTE.c.side == side,
                in_values(s, _NOTE.c.contact_id, batch),
            )
        )
        known = {note_id: (cid, digest, body) for note_id, cid, digest, body in stored}
        for contact_id in batch:
            for note in notes_by_contact[contact_id]:
                was = known.pop(note.note_id, None)
                if was == (contact_id, note.hash, note.body):
                    continue
                row = (pair_id, side, note.note_id, contact_id, note.body, note.hash, fetched_at)
                (edited if was is not None and was[0] == contact_id else rows).append(row)
        # Left over: stored under these contacts, not in their lists now. A note that moved
        # to one of these contacts was popped above; one that moved elsewhere is upserted
        # under its new contact by that contact's list (if read) and must not be deleted
        # after, hence deleting before writing.
        gone.extend(known)
        await s.execute(
            update(_CONTACT)
            .where(_side_of(pair_id, side), in_values(s, _CONTACT.c.contact_id, batch))
            .values(notes_fetched_at=fetched_at)
        )
    await drop_notes(s, pair_id, side, sorted(gone))
    # An edited note keeps its contact, which is not set again: that would rewrite its entry
    # in the contact index. A note that moved between contacts is still one row: the upsert
    # moves it. Of one note read twice (it moved while being read), the last read wins: its
    # first read alone can be "edited", so the edited go first, and each list is sorted
    # stably (the last of a key wins within a statement).
    for changed, columns in (
        (edited, ("body", "hash", "fetched_at")),
        (rows, ("contact_id", "body", "hash", "fetched_at")),
    ):
        changed.sort(key=_NOTE_ID)
        await insert_values(
            s, _NOTE, _NOTE_INSERT, changed, conflict=("pair_id", "side", "note_id"), update=columns
        )


async def drop_notes(
    s: AsyncSession, pair_id: str, side: SideName, note_ids: Collection[str]
) -> None:
    for batch in chunks(unique(note_ids)):
        await s.execute(
            delete(_NOTE).where(
                _NOTE.c.pair_id == pair_id,
                _NOTE.c.side == side,
                in_values(s, _NOTE.c.note_id, batch),
            )
        )


_NOTE_INSERT = ("pair_id", "side", "note_id", "contact_id", "body", "hash", "fetched_at")
_NOTE_ID = itemgetter(_NOTE_INSERT.index("note_id"))


async def load_notes(
    s: AsyncSession, pair_id: str, side: SideName, contact_ids: Collection[str]
) -> dict[str, dict[str, NoteState]]:
    """Stored notes by contact, for the contacts whose notes were ever read.

    A contact whose notes were read and found empty maps to ``{}``; one whose notes were never
    read is absent (the diff must not take "never read" for "no notes").
    """
    out: dict[str, dict[str, NoteState]] = {}
    for batch in chunks(unique(contact_ids)):
        fetched = await s.execute(
            select(_CONTACT.c.contact_id).where(
                _side_of(pair_id, side),
                in_values(s, _CONTACT.c.contact_id, batch),
                _CONTACT.c.notes_fetched_at.is_not(None),
            )
        )
        for contact_id in fetched.scalars():
            out[contact_id] = {}
        result = await s.execute(
            select(_NOTE.c.contact_id, _NOTE.c.note_id, _NOTE.c.body, _NOTE.c.hash).where(
                _NOTE.c.pair_id == pair_id,
                _NOTE.c.side == side,
                in_values(s, _NOTE.c.contact_id, batch),
            )
        )
        for row in result:
            out.setdefault(row.contact_id, {})[row.note_id] = NoteState(
                note_id=row.note_id, body=row.body, hash=row.hash
            )
    return out


async def notes_due(s: AsyncSession, pair_id: str, side: SideName, *, limit: int) -> list[str]:
    """The contacts whose notes to read next on a rolling budget: webhook-marked first, then
    never read, then least recently read. Missing contacts are skipped."""
    query = (
        select(_CONTACT.c.contact_id)
        .where(
            _side_of(pair_id, side),
            _CONTACT.c.missing_since.is_(None),
            or_(_CONTACT.c.hash.is_not(None), _CONTACT.c.dirty == true()),
        )
        .order_by(
            _CONTACT.c.dirty.desc(),
            _CONTACT.c.notes_fetched_at.asc().nulls_first(),
            _CONTACT.c.contact_id,
        )
        .limit(limit)
    )
    return list((await s.execute(query)).scalars())


async def note_owner(
    s: AsyncSession, pair_id: str, side: SideName, note_ids: Collection[str]
) -> dict[str, str]:
    """note id -> the contact it was last seen on."""
    out: dict[str, str] = {}
    for batch in chunks(unique(note_ids)):
        result = await s.execute(
            select(_NOTE.c.note_id, _NOTE.c.contact_id).where(
                _NOTE.c.pair_id == pair_id,
                _NOTE.c.side == side,
                in_values(s, _NOTE.c.note_id, batch),
            )
        )
        out.update({row.note_id: row.contact_id for row in result})
    return out
