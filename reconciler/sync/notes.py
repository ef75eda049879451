"""Notes: which contacts' notes a run reads, and reading them.

HighLevel notes have no update time and writing one does not move the contact's
``dateUpdated``, so notes cannot be listed incrementally: they are read per contact, one request
each, within a per-run budget (``ScanSettings.notes_per_run`` per side). In order:

1. webhook-marked (dirty) contacts;
2. links with a resolution waiting that needs notes, and links a crashed run left unfinished;
3. links whose contact changed;
4. unlinked contacts about to be matched or created (their notes travel with them);
5. the rolling scan: the links whose notes were read longest ago, paced so that every link is
   read once per ``notes_period`` (and any link overdue is read as the budget allows).

A link's two contacts are always read together: ``ContactState.notes`` is None unless read in
this run, and the diff compares notes only when BOTH sides are fresh, so a fresh list is never
compared with a stale one.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from reconciler.errors import AuthError, FatalRunError, SideError
from reconciler.sides.base import SideName
from reconciler.store import repo_snapshots, repo_sync
from reconciler.store.repo_sync import PoolRow, SideContact
from reconciler.sync.match import match_identities
from reconciler.sync.model import (
    CreateDirection,
    NoteState,
    PairPolicy,
)
from reconciler.sync.normalise import note_hash
from reconciler.sync.runtime import RunContext

if TYPE_CHECKING:
    from reconciler.sync.views import Work


@dataclass(slots=True)
class FreshNotes:
    """Notes read in this run, by side and contact (absent: not read, or the read failed)."""

    by_side: dict[SideName, dict[str, dict[str, NoteState]]] = field(
        default_factory=lambda: {"a": {}, "b": {}}
    )

    def get(self, side: SideName, contact_id: str) -> Mapping[str, NoteState] | None:
        return self.by_side[side].get(contact_id)

    def has(self, side: SideName, contact_id: str) -> bool:
        return contact_id in self.by_side[side]

    @property
    def note_count(self) -> int:
        return sum(len(notes) for per in self.by_side.values() for notes in per.values())

    def read(self) -> dict[SideName, list[str]]:
        return {side: sorted(per) for side, per in self.by_side.items()}


@dataclass(slots=True)
class NoteSelection:
    """Contact ids to read per side, within the budget, in priority order."""

    budget: int
    ids: dict[SideName, list[str]] = field(default_factory=lambda: {"a": [], "b": []})
    _taken: set[SideContact] = field(default_factory=set)

    def room(self, side: SideName) -> int:
        return self.budget - len(self.ids[side])

    def taken(self, contact: SideContact) -> bool:
        return contact in self._taken

    @property
    def taken_count(self) -> int:
        return len(self._taken)

    def add(self, contacts: Sequence[SideContact]) -> bool:
        """Take these contacts together (a link's two sides), or none of them."""
        new = [c for c in contacts if c not in self._taken]
        need = {"a": sum(1 for s, _ in new if s == "a"), "b": sum(1 for s, _ in new if s == "b")}
        if any(need[side] > self.room(side) for side in ("a", "b")):
            return False
        for side, contact_id in new:
            self.ids[side].append(contact_id)
            self._taken.add((side, contact_id))
        return True


def will_link(pool: Mapping[SideContact, PoolRow], policy: PairPolicy) -> list[list[SideContact]]:
    """Unlinked contacts this run will probably match (as pairs) or create (alone): their
    notes are worth reading now, since a match compares them and a creation copies them.

    Matched on the identities the store holds (already in normal form: nothing to normalise
    again), without building a state per contact: a first sync's pool is the whole pair."""
    found = match_identities(
        sorted(
            (key, key[0], entry.email, entry.phone)
            for key, entry in pool.items()
            if not entry.retired
        )
    )
    out: list[list[SideContact]] = [[a, b] for a, b, _, _ in found.pairs]
    out.extend([key] for key in found.unmatched if _may_create(key[0], policy.create))
    return out


def _may_create(source: SideName, direction: CreateDirection) -> bool:
    return direction is CreateDirection.BOTH or (
        (direction is CreateDirection.A_TO_B and source == "a")
        or (direction is CreateDirection.B_TO_A and source == "b")
    )


def rolling_quota(linked: int, since_last_run: timedelta, period: timedelta) -> int:
    """Links to read this run so that all are read once per period, spread over the runs
    (rounded up: a schedule whose interval jitters around the period still reads them all)."""
    share = min(max(since_last_run / period, 0.0), 1.0)
    return math.ceil(linked * share - 1e-9)


async def rolling_links(
    ctx: RunContext,
    selection: NoteSelection,
    *,
    period: timedelta,
    previous_run: datetime | None,
) -> list[repo_sync.DueLink]:
    """The links the rolling scan adds this run, oldest first: its paced quota, and every link
    overdue (not read for a whole period), within the budget left. Links read for another
    reason in this run do not count against the quota."""
    now = ctx.now()
    room = min(selection.room("a"), selection.room("b"))
    if room <= 0:
        return []
    since = period if previous_run is None else now - previous_run
    overdue_before = now - period

    def overdue(link: repo_sync.DueLink) -> bool:
        return link.notes_fetched_at is None or link.notes_fetched_at <= overdue_before

    async with ctx.store.session() as s:
        linked = await repo_sync.count_active_links(s, ctx.pair_id)
        quota = rolling_quota(linked, since, period)
        # Oldest first, so the overdue links come first: the quota's worth (at least one) is
        # enough unless its last one is overdue too (a backlog: then as many as the budget
        # allows). Links taken already may be among them: they do not count.
        limit = min(room, max(quota, 1)) + selection.taken_count
        due = await repo_sync.links_by_note_age(s, ctx.pair_id, limit=limit)
        if len(due) == limit and due and overdue(due[-1]) and limit < room + selection.taken_count:
            due = await repo_sync.links_by_note_age(
                s, ctx.pair_id, limit=room + selection.taken_count
            )
    fresh = [link for link in due if not selection.taken(("a", link.a_id))]
    return [link for index, link in enumerate(fresh[:room]) if index < quota or overdue(link)]


async def read_notes(ctx: RunContext, selection: NoteSelection) -> FreshNotes:
    """Read the selected contacts' notes; in a real run, store them (``notes_fetched_at``).
    The two sides are read side by side: they are different accounts with their own budgets,
    and one side's notes are stored while the other's are still being read."""
    fresh = FreshNotes()
    await ctx.both_sides(lambda name: _read_side(ctx, selection, name, fresh.by_side[name]))
    return fresh


async def _read_side(
    ctx: RunContext,
    selection: NoteSelection,
    side_name: SideName,
    out: dict[str, dict[str, NoteState]],
) -> None:
    side = ctx.side(side_name)
    ids = selection.ids[side_name]
    if not ids or not side.capabilities.supports_notes:
        return
    failed = 0
    try:
        async for item in side.list_notes(ids):
            if item.notes is None:
                failed += 1
                continue
            out[item.contact_id] = {
                note.id: NoteState(note.id, note.body, note_hash(note.body)) for note in item.notes
            }
    except (AuthError, FatalRunError):
        raise
    except SideError as exc:
        # The listing broke off: what was read is fresh, the rest is simply not read.
        ctx.tally.error(f"side {side_name.upper()}: reading notes stopped: {exc}")
    if failed:
        ctx.tally.error(f"side {side_name.upper()}: notes of {failed} contact(s) not read")
    if not ctx.dry_run:
        await _store(ctx, side_name, out)


async def _store(
    ctx: RunContext, side: SideName, notes: Mapping[str, Mapping[str, NoteState]]
) -> None:
    # A dry run leaves them out: the contacts stay due, so the run that applies reads them.
    # One transaction per side: with random ids, every row written lands on its own index
    # pages, which small transactions would each write out again.
    if not notes:
        return
    async with ctx.side_transaction() as s:
        await repo_snapshots.replace_notes(
            s,
            ctx.pair_id,
            side,
            {cid: list(per.values()) for cid, per in notes.items()},
            fetched_at=ctx.now(),
        )


def select_priority(ctx: RunContext, work: Work, budget: int) -> NoteSelection:
    """Steps 1 to 4 of the module docstring; the rolling scan fills what budget is left."""
    selection = NoteSelection(budget)

    def link_contacts(link_id: str) -> list[SideContact]:
        link = work.links[link_id]
        out: list[SideContact] = []
        for key in (("a", link.a_id), ("b", link.b_id)):
            row = work.rows.get(key)
            if row is not None and row.listed and row.deleted_at is None:
                out.append(key)
        return out

    pool = set(work.pool)
    for side, contact_id in sorted(work.dirty):
        link = work.link_of(side, contact_id)
        if link is not None:
            selection.add(link_contacts(link.id))
        elif (side, contact_id) in pool:
            selection.add([(side, contact_id)])
    for link_id in work.priority_links:
        selection.add(link_contacts(link_id))
    for link_id in sorted(work.links):
        link = work.links[link_id]
        if ("a", link.a_id) in work.unsettled or ("b", link.b_id) in work.unsettled:
            selection.add(link_contacts(link_id))
    for group in will_link(work.entries, ctx.policy):
        selection.add(group)
    return selection
