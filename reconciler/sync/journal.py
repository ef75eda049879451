"""The journal's commits: what a run stages between two commits, and the one transaction that
commits it.

The rule (DESIGN invariant 7): a write's intent is committed BEFORE the call to the side; after
the call, its result, the link's new base, the target's snapshot row and notes as we wrote them
(echo suppression), new or ended links, parked items and the audit event are committed
TOGETHER. ``Batch`` collects exactly that; ``flush`` commits it in one transaction. To keep a
100,000-contact run fast, one flush carries the results of a whole wave of calls, the actions
that write nothing, and the intents of the next wave: every intent is still committed before
its call, and nothing is recorded as done before its call returned.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from reconciler.sides.base import SideName
from reconciler.store import repo_audit, repo_journal, repo_links, repo_snapshots, repo_sync
from reconciler.store.repo_journal import JournalEntry
from reconciler.store.repo_sync import JournalOutcome, SideContact
from reconciler.sync.model import Action, ContactState, LinkBase
from reconciler.sync.runtime import RunContext

NoteKey = tuple[SideName, str]  # (side, note id)


@dataclass(slots=True)
class Batch:
    """Changes staged for the next commit."""

    intents: list[Action] = field(default_factory=list)
    outcomes: list[JournalOutcome] = field(default_factory=list)
    new_links: dict[str, tuple[str, str]] = field(default_factory=dict)  # id -> (a, b)
    ended_links: set[str] = field(default_factory=set)
    repoints: list[tuple[str, SideName, str]] = field(default_factory=list)
    dropped_bases: set[str] = field(default_factory=set)
    bases: dict[str, LinkBase] = field(default_factory=dict)
    # For links whose base the store holds as the run knows it (their first change in this
    # batch): that base, so that only what changed is written (``repo_links.save_bases``).
    stored_bases: dict[str, LinkBase] = field(default_factory=dict)
    states: dict[SideContact, ContactState] = field(default_factory=dict)
    forgotten: set[SideContact] = field(default_factory=set)
    retired: set[SideContact] = field(default_factory=set)
    unsettled: set[SideContact] = field(default_factory=set)
    notes: dict[NoteKey, tuple[str, str, str]] = field(default_factory=dict)  # cid, body, hash
    dropped_notes: set[NoteKey] = field(default_factory=set)
    parked: dict[tuple[SideName, str, str], str] = field(default_factory=dict)
    unparked: set[tuple[SideName, str, str]] = field(default_factory=set)
    dirty: set[SideContact] = field(default_factory=set)
    audit: list[repo_audit.AuditEntry] = field(default_factory=list)
    # Actions whose outcome this batch records (the "result_committed" hook follows the commit).
    finished: list[Action] = field(default_factory=list)

    @property
    def size(self) -> int:
        return len(self.finished) + len(self.intents)

    def is_empty(self) -> bool:
        return not any(
            (
                self.intents,
                self.outcomes,
                self.new_links,
                self.ended_links,
                self.repoints,
                self.dropped_bases,
                self.bases,
                self.states,
                self.forgotten,
                self.retired,
                self.unsettled,
                self.notes,
                self.dropped_notes,
                self.parked,
                self.unparked,
                self.dirty,
                self.audit,
                self.finished,
            )
        )

    def put_state(self, side: SideName, state: ContactState) -> None:
        key = (side, state.contact_id)
        self.forgotten.discard(key)
        self.states[key] = state

    def forget(self, side: SideName, contact_id: str) -> None:
        key = (side, contact_id)
        self.states.pop(key, None)
        self.forgotten.add(key)

    def put_note(
        self, side: SideName, contact_id: str, note_id: str, body: str, digest: str
    ) -> None:
        self.dropped_notes.discard((side, note_id))
        self.notes[(side, note_id)] = (contact_id, body, digest)

    def drop_note(self, side: SideName, note_id: str) -> None:
        self.notes.pop((side, note_id), None)
        self.dropped_notes.add((side, note_id))

    def end_link(self, link_id: str) -> None:
        self.ended_links.add(link_id)
        self.bases.pop(link_id, None)


def _by_side(keys: Iterable[tuple[SideName, Any]]) -> dict[SideName, list[Any]]:
    out: dict[SideName, list[Any]] = {"a": [], "b": []}
    for side, value in keys:
        out[side].append(value)
    return out


async def flush(ctx: RunContext, batch: Batch) -> list[JournalEntry]:
    """Commit ``batch`` in one transaction; the journal entries of its intents, in order."""
    if batch.is_empty():
        return []
    now = ctx.now()
    pair_id = ctx.pair_id
    async with ctx.store.transaction() as s:
        # Links first (bases and note links refer to them); ended ones before new ones, so a
        # contact may leave one link and join another in the same commit.
        await repo_links.unlink(s, batch.ended_links, now=now)
        new = [(lid, ab) for lid, ab in batch.new_links.items() if lid not in batch.ended_links]
        if new:
            await repo_links.create_links(
                s, pair_id, [ab for _, ab in new], now=now, link_ids=[lid for lid, _ in new]
            )
        for link_id, side, contact_id in batch.repoints:
            await repo_sync.repoint_link(s, link_id, side, contact_id, now=now)
        await repo_sync.drop_bases(s, batch.dropped_bases)
        bases = {
            lid: base
            for lid, base in batch.bases.items()
            if lid not in batch.ended_links and lid not in batch.dropped_bases
        }
        await repo_links.save_bases(s, pair_id, bases, now=now, stored=batch.stored_bases)
        for side, ids in _by_side(batch.forgotten).items():
            await repo_snapshots.delete_contacts(s, pair_id, side, ids)
        states = _by_side((side, state) for (side, _), state in batch.states.items())
        for side, side_states in states.items():
            await repo_sync.put_states(s, pair_id, side, side_states, now=now, run_id=ctx.run_id)
        for side, ids in _by_side(batch.retired).items():
            await repo_sync.retire(s, pair_id, side, ids, now=now)
        for side, ids in _by_side(batch.unsettled).items():
            await repo_sync.unsettle(s, pair_id, side, ids)
        for side, ids in _by_side(batch.dropped_notes).items():
            await repo_snapshots.drop_notes(s, pair_id, side, ids)
        notes = _by_side(
            (side, (cid, nid, body, h)) for (side, nid), (cid, body, h) in batch.notes.items()
        )
        for side, rows in notes.items():
            await repo_sync.put_notes(s, pair_id, side, rows, now=now)
        entries = await repo_journal.append_intents(s, ctx.run_id, pair_id, batch.intents, now=now)
        await repo_sync.finish_entries(s, batch.outcomes, now=now)
        for (side, kind, item_id), error in batch.parked.items():
            await repo_journal.park(s, pair_id, side, kind, item_id, error=error, now=now)
        for side, kind, item_id in batch.unparked:
            await repo_journal.unpark(s, pair_id, side, kind, item_id)
        for side, ids in _by_side(batch.dirty).items():
            await repo_snapshots.mark_dirty(s, pair_id, side, ids, reason="retry", now=now)
        await repo_audit.append(s, batch.audit)
    return entries
