"""Links between contacts, their bases (last agreed state) and note links, by the set.

A base is written together with the journal entry whose write produced it (one transaction,
the caller's), so these functions never commit.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from reconciler.sides.base import CoreField, SideName
from reconciler.store.bulk import insert_rows
from reconciler.store.codec import agreed_fields
from reconciler.store.schema import LinkStatus, table_of
from reconciler.store.sql import CHUNK, chunks, in_values, unique, upsert
from reconciler.store.tables import ContactLinkRow, LinkBaseRow, NoteLinkRow
from reconciler.store.types import new_id
from reconciler.sync.model import LinkBase, NoteLinkBase

_LINK = table_of(ContactLinkRow)
_BASE = table_of(LinkBaseRow)
_NOTE_LINK = table_of(NoteLinkRow)


@dataclass(frozen=True, slots=True)
class Link:
    id: str
    pair_id: str
    a_id: str
    b_id: str
    status: LinkStatus
    excluded: bool
    created_at: datetime
    updated_at: datetime

    @property
    def active(self) -> bool:
        return self.status is LinkStatus.ACTIVE

    def contact_id(self, side: SideName) -> str:
        return self.a_id if side == "a" else self.b_id


def _link(row: Any) -> Link:
    return Link(
        id=row.id,
        pair_id=row.pair_id,
        a_id=row.a_id,
        b_id=row.b_id,
        status=LinkStatus(row.status),
        excluded=bool(row.excluded),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


# ------------------------------------------------------------------------------------ links


async def create_links(
    s: AsyncSession,
    pair_id: str,
    contacts: Sequence[tuple[str, str]],
    *,
    now: datetime,
    link_ids: Sequence[str] | None = None,
) -> list[Link]:
    """Active links for (a_id, b_id) pairs, in order; ids are made unless given.

    A contact already actively linked raises ``StoreConflictError`` (no duplicate links).
    """
    if link_ids is not None and len(link_ids) != len(contacts):
        raise ValueError("link_ids must match contacts one to one")
    ids = list(link_ids) if link_ids is not None else [new_id() for _ in contacts]
    links = [
        Link(
            id=link_id,
            pair_id=pair_id,
            a_id=a_id,
            b_id=b_id,
            status=LinkStatus.ACTIVE,
            excluded=False,
            created_at=now,
            updated_at=now,
        )
        for link_id, (a_id, b_id) in zip(ids, contacts, strict=True)
    ]
    await insert_rows(
        s,
        _LINK,
        [
            {
                "id": link.id,
                "pair_id": pair_id,
                "a_id": link.a_id,
                "b_id": link.b_id,
                "status": LinkStatus.ACTIVE.value,
                "excluded": False,
                "created_at": now,
                "updated_at": now,
            }
            for link in links
        ],
    )
    return links


async def get_link(s: AsyncSession, link_id: str) -> Link | None:
    return (await load_links(s, [link_id])).get(link_id)


async def load_links(s: AsyncSession, link_ids: Collection[str]) -> dict[str, Link]:
    out: dict[str, Link] = {}
    for batch in chunks(unique(link_ids)):
        result = await s.execute(select(_LINK).where(in_values(s, _LINK.c.id, batch)))
        out.update((row.id, _link(row)) for row in result)
    return out


async def links_by_contact(
    s: AsyncSession, pair_id: str, side: SideName, contact_ids: Collection[str]
) -> dict[str, Link]:
    """contact id on ``side`` -> its active link, for the contacts that have one."""
    column = _LINK.c.a_id if side == "a" else _LINK.c.b_id
    out: dict[str, Link] = {}
    for batch in chunks(unique(contact_ids)):
        # The status is tested here: see ``repo_sync.link_ids_by_contact``.
        result = await s.execute(
            select(_LINK).where(_LINK.c.pair_id == pair_id, in_values(s, column, batch))
        )
        for row in result:
            link = _link(row)
            if link.active:
                out[link.contact_id(side)] = link
    return out


async def stream_links(
    s: AsyncSession, pair_id: str, *, active_only: bool = True, chunk_size: int = CHUNK
) -> AsyncIterator[list[Link]]:
    """The pair's links in chunks ordered by id (keyset paging)."""
    after: str | None = None
    while True:
        query = select(_LINK).where(_LINK.c.pair_id == pair_id)
        if active_only:
            query = query.where(_LINK.c.status == LinkStatus.ACTIVE.value)
        if after is not None:
            query = query.where(_LINK.c.id > after)
        result = await s.execute(query.order_by(_LINK.c.id).limit(chunk_size))
        batch = [_link(row) for row in result]
        if not batch:
            return
        yield batch
        if len(batch) < chunk_size:
            return
        after = batch[-1].id


async def unlink(s: AsyncSession, link_ids: Collection[str], *, now: datetime) -> None:
    """Mark links unlinked (kept for history); their contacts may be linked again."""
    for batch in chunks(unique(link_ids)):
        await s.execute(
            update(_LINK)
            .where(in_values(s, _LINK.c.id, batch))
            .values(status=LinkStatus.UNLINKED.value, updated_at=now)
        )


async def set_excluded(s: AsyncSession, link_id: str, excluded: bool, *, now: datetime) -> None:
    await s.execute(
        update(_LINK).where(_LINK.c.id == link_id).values(excluded=excluded, updated_at=now)
    )


# ------------------------------------------------------------------------------------ bases


async def load_bases(s: AsyncSession, link_ids: Collection[str]) -> dict[str, LinkBase]:
    """link id -> its base (with its note links), for the links that have one."""
    out: dict[str, LinkBase] = {}
    for batch in chunks(unique(link_ids)):
        notes: dict[str, list[NoteLinkBase]] = {}
        result = await s.execute(
            select(_NOTE_LINK)
            .where(in_values(s, _NOTE_LINK.c.link_id, batch))
            .order_by(_NOTE_LINK.c.link_id, _NOTE_LINK.c.id)
        )
        for row in result:
            notes.setdefault(row.link_id, []).append(_note_link(row))
        bases = await s.execute(select(_BASE).where(in_values(s, _BASE.c.link_id, batch)))
        for row in bases:
            out[row.link_id] = LinkBase(
                fields=agreed_fields(row.fields or {}),
                tags=dict(row.tags or {}),
                notes=tuple(notes.get(row.link_id, ())),
            )
    return out


async def save_bases(
    s: AsyncSession,
    pair_id: str,
    bases: Mapping[str, LinkBase],
    *,
    now: datetime,
    stored: Mapping[str, LinkBase] | None = None,
) -> None:
    """Replace whole bases: fields, tags and the exact set of note links of each link.

    ``stored``: for some of the links, the base the store holds now (the caller knows it):
    only what differs from it is written. An applied action changes one part of a base (a
    tag, a field, a note); rewriting the rest cost a first sync's "changes" run a third of its
    note-link writes and the index pages they dirty. Links without it are rewritten whole.
    """
    known = stored or {}
    rows: list[dict[str, Any]] = []
    stale: list[str] = []
    notes: list[tuple[str, NoteLinkBase]] = []  # new note links, or linking other notes
    rebased: list[tuple[str, NoteLinkBase]] = []  # the same notes with a new base body
    unknown: list[str] = []
    for link_id, base in bases.items():
        before = known.get(link_id)
        if before is None or base.fields != before.fields or base.tags != before.tags:
            rows.append({"link_id": link_id, "fields": dict(base.fields), "tags": dict(base.tags)})
        if before is None:
            unknown.append(link_id)
            notes.extend((link_id, note) for note in base.notes)
            continue
        kept = {note.note_link_id for note in base.notes}
        stale.extend(n.note_link_id for n in before.notes if n.note_link_id not in kept)
        old = {n.note_link_id: n for n in before.notes}
        for note in base.notes:
            was = old.get(note.note_link_id)
            if was is None or (was.a_note_id, was.b_note_id) != (note.a_note_id, note.b_note_id):
                notes.append((link_id, note))
            elif was != note:
                rebased.append((link_id, note))
    for batch in chunks(unknown):
        # Their stale note links are found in the store.
        keep = {note.note_link_id for link_id in batch for note in bases[link_id].notes}
        existing = await s.execute(
            select(_NOTE_LINK.c.id).where(in_values(s, _NOTE_LINK.c.link_id, batch))
        )
        stale.extend(note_id for note_id in existing.scalars() if note_id not in keep)
    for row_batch in chunks(rows):
        await _upsert_base_rows(s, row_batch, now=now)
    # Every stale note link goes before any is written: a note may move to a new note link.
    await delete_note_links(s, stale)
    for note_batch in chunks(notes):
        await upsert_note_links(s, pair_id, note_batch, now=now)
    for note_batch in chunks(rebased):
        await upsert_note_links(s, pair_id, note_batch, now=now, same_notes=True)


async def save_base_fields_tags(
    s: AsyncSession,
    link_id: str,
    *,
    now: datetime,
    fields: Mapping[CoreField, str | None] | None = None,
    tags: Mapping[str, str] | None = None,
) -> None:
    """Update part of one base (after one write): fields and/or tags; creates it if needed.

    One upsert that sets only what is given, so the other part is never rewritten from a
    possibly older read.
    """
    stmt = upsert(s, _BASE).values(
        link_id=link_id,
        fields=dict(fields) if fields is not None else {},
        tags=dict(tags) if tags is not None else {},
        updated_at=now,
    )
    changes: dict[str, Any] = {"updated_at": now}
    if fields is not None:
        changes["fields"] = stmt.excluded.fields
    if tags is not None:
        changes["tags"] = stmt.excluded.tags
    await s.execute(stmt.on_conflict_do_update(index_elements=[_BASE.c.link_id], set_=changes))


async def _upsert_base_rows(
    s: AsyncSession, rows: Sequence[dict[str, Any]], *, now: datetime
) -> None:
    await insert_rows(
        s,
        _BASE,
        [{**row, "updated_at": now} for row in rows],
        conflict=("link_id",),
        update=("fields", "tags", "updated_at"),
    )


# ------------------------------------------------------------------------------- note links


def _note_link(row: Any) -> NoteLinkBase:
    return NoteLinkBase(
        note_link_id=row.id,
        a_note_id=row.a_note_id,
        b_note_id=row.b_note_id,
        body=row.base_body,
        hash=row.base_hash,
    )


async def upsert_note_links(
    s: AsyncSession,
    pair_id: str,
    note_links: Sequence[tuple[str, NoteLinkBase]],
    *,
    now: datetime,
    same_notes: bool = False,
) -> None:
    """Create or update note links (link id, note link) by note link id.

    A note already linked under another note link id raises ``StoreConflictError``.
    ``same_notes``: every one exists already and links the notes it linked; only the base
    body and hash are written (setting the note ids, indexed, to the same values would
    rewrite a random page of each note index per row on SQLite).
    """
    await insert_rows(
        s,
        _NOTE_LINK,
        [
            {
                "id": note.note_link_id,
                "pair_id": pair_id,
                "link_id": link_id,
                "a_note_id": note.a_note_id,
                "b_note_id": note.b_note_id,
                "base_body": note.body,
                "base_hash": note.hash,
                "created_at": now,
                "updated_at": now,
            }
            for link_id, note in note_links
        ],
        conflict=("id",),
        update=(
            ("base_body", "base_hash", "updated_at")
            if same_notes
            else ("a_note_id", "b_note_id", "base_body", "base_hash", "updated_at")
        ),
    )


async def delete_note_links(s: AsyncSession, note_link_ids: Collection[str]) -> None:
    for batch in chunks(unique(note_link_ids)):
        await s.execute(delete(_NOTE_LINK).where(in_values(s, _NOTE_LINK.c.id, batch)))


async def note_links_by_note(
    s: AsyncSession, pair_id: str, side: SideName, note_ids: Collection[str]
) -> dict[str, tuple[str, NoteLinkBase]]:
    """note id on ``side`` -> (link id, its note link), for the notes that are linked."""
    column = _NOTE_LINK.c.a_note_id if side == "a" else _NOTE_LINK.c.b_note_id
    out: dict[str, tuple[str, NoteLinkBase]] = {}
    for batch in chunks(unique(note_ids)):
        result = await s.execute(
            select(_NOTE_LINK).where(_NOTE_LINK.c.pair_id == pair_id, in_values(s, column, batch))
        )
        for row in result:
            note = _note_link(row)
            out[note.a_note_id if side == "a" else note.b_note_id] = (row.link_id, note)
    return out
