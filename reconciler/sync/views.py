"""Views: what the diff reads, for the links and unlinked contacts that NEED a diff.

A link needs a diff when one of its contacts changed since the engine last settled it (the
row's ``hash`` differs from its ``settled_hash``: new content, or a write of ours that a run
could not finish), was confirmed deleted, is webhook-marked, has fresh notes this run; or when
a resolution of one of its conflicts waits, a person's override names it (or a pair- or
tag-wide override exists and the link has an open conflict), or a crashed run left it
unfinished. Everything else agrees with its base already: a run with no changes loads no
link.

Unlinked contacts (the matching pool) are the changed or new ones, the candidates of open
ambiguous-match conflicts, and every unlinked contact sharing an email or phone with those
(otherwise a new contact would be created on the other side next to an old unlinked twin).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from reconciler.sides.base import SideName
from reconciler.store import repo_links, repo_overrides, repo_snapshots, repo_sync
from reconciler.store.repo_links import Link
from reconciler.store.repo_sync import ActiveConflict, ContactRow, PoolRow, SideContact
from reconciler.sync.model import (
    Absence,
    ConflictKind,
    ContactState,
    LinkBase,
    LinkView,
    OpenConflictRef,
    Override,
    OverrideScope,
    SideView,
    UnlinkedContact,
)
from reconciler.sync.notes import FreshNotes
from reconciler.sync.runtime import RunContext

# Resolutions that cannot be carried out without the link's fresh notes.
NOTE_KINDS = frozenset({ConflictKind.NOTE, ConflictKind.NOTE_DELETE, ConflictKind.CONTACT_DELETE})


@dataclass(slots=True)
class Work:
    """The links and unlinked contacts this run looks at, with their snapshot rows.

    The unlinked contacts (``pool``) are held as ``PoolRow``s (their identities) until the
    part of the run that plans them loads their rows (``load_pool``): a first sync's pool is
    the whole pair, and a run plans it in batches (``batches``)."""

    links: dict[str, Link]
    rows: dict[SideContact, ContactRow]
    pool: list[SideContact]
    dirty: set[SideContact]
    unsettled: set[SideContact]  # the linked ones (the pool is unsettled by definition)
    conflicts: list[ActiveConflict]
    overrides: list[Override]
    priority_links: list[str]  # their notes are read first (resolutions, recovered writes)
    by_contact: dict[SideContact, str] = field(default_factory=dict)  # -> link id
    entries: dict[SideContact, PoolRow] = field(default_factory=dict)  # the pool's

    def link_of(self, side: SideName, contact_id: str) -> Link | None:
        link_id = self.by_contact.get((side, contact_id))
        return self.links.get(link_id) if link_id is not None else None


async def collect_work(
    ctx: RunContext,
    *,
    forced_links: Collection[str] = (),
    held_links: Collection[str] = (),
    held_contacts: Collection[SideContact] = (),
) -> Work:
    held_link_set = set(held_links)
    held_contact_set = set(held_contacts)
    now = ctx.now()
    async with ctx.store.session() as s:
        unsettled = set(await repo_sync.unsettled_contacts(s, ctx.pair_id))
        dirty: set[SideContact] = set()
        for side in ("a", "b"):
            name: SideName = "a" if side == "a" else "b"
            ids = await repo_snapshots.dirty_contact_ids(s, ctx.pair_id, name)
            dirty.update((name, cid) for cid in ids)
        deleted = set(await repo_sync.deleted_contacts(s, ctx.pair_id))
        conflicts = await repo_sync.active_conflicts(s, ctx.pair_id)
        overrides = await repo_overrides.active_overrides(s, ctx.pair_id, now=now)

        touched = unsettled | dirty | deleted
        linked = await _links_of(s, ctx.pair_id, touched)
        link_ids = set(linked.values())
        # An open conflict whose sides did not change plans the same again; it needs a look
        # when a resolution waits, or when an override for every link (a pair or tag pin)
        # may settle it now.
        broad = any(o.link_id is None for o in overrides)
        link_ids.update(
            c.link_id
            for c in conflicts
            if c.link_id is not None and (broad or c.ref.resolution is not None)
        )
        link_ids.update(o.link_id for o in overrides if o.link_id is not None)
        link_ids.update(forced_links)
        link_ids -= held_link_set
        links = {
            lid: link
            for lid, link in (await repo_links.load_links(s, link_ids)).items()
            if link.active and link.pair_id == ctx.pair_id
        }

        candidates = {c for c in touched if c not in linked}
        # Only the linked ones are kept (``Work.unsettled``); a first sync's other sets are
        # as large as the pair, and let go of before the pool is read.
        unsettled = {c for c in unsettled if c in linked}
        del touched
        for conflict in conflicts:
            if conflict.ref.kind is ConflictKind.CONTACT_MATCH:
                candidates.update(("a", cid) for cid in conflict.candidate_ids("a"))
                candidates.update(("b", cid) for cid in conflict.candidate_ids("b"))
        entries = await _pool_entries(ctx, s, candidates - held_contact_set)
        del candidates
        neighbours = await repo_sync.find_by_identity(
            s,
            ctx.pair_id,
            emails={e for entry in entries.values() if (e := entry.email)},
            phones={p for entry in entries.values() if (p := entry.phone)},
            besides=entries,
        )
        extra = set(neighbours) - held_contact_set
        extra_linked = await _links_of(s, ctx.pair_id, extra)
        entries.update(await _pool_entries(ctx, s, extra - set(extra_linked)))

        link_contacts: set[SideContact] = set()
        for link in links.values():
            link_contacts.update({("a", link.a_id), ("b", link.b_id)})
        rows = await repo_sync.load_rows_of(s, ctx.pair_id, link_contacts)

    priority = [
        c.link_id
        for c in conflicts
        if c.ref.resolution is not None and c.ref.kind in NOTE_KINDS and c.link_id in links
    ]
    priority.extend(lid for lid in forced_links if lid in links)
    by_contact: dict[SideContact, str] = {}
    for link in links.values():
        by_contact[("a", link.a_id)] = link.id
        by_contact[("b", link.b_id)] = link.id
    return Work(
        links=links,
        rows=rows,
        pool=sorted(entries),
        dirty=dirty,
        unsettled=unsettled,
        conflicts=conflicts,
        overrides=overrides,
        priority_links=list(dict.fromkeys(p for p in priority if p is not None)),
        by_contact=by_contact,
        entries=entries,
    )


async def extend_work(ctx: RunContext, work: Work, link_ids: Collection[str]) -> None:
    """Add links to the work (those the rolling note scan picked), with their rows."""
    new = [lid for lid in link_ids if lid not in work.links]
    if not new:
        return
    async with ctx.store.session() as s:
        links = await repo_links.load_links(s, new)
        contacts: set[SideContact] = set()
        for link in links.values():
            if link.active and link.pair_id == ctx.pair_id:
                work.links[link.id] = link
                work.by_contact[("a", link.a_id)] = link.id
                work.by_contact[("b", link.b_id)] = link.id
                contacts.update({("a", link.a_id), ("b", link.b_id)})
        work.rows.update(await repo_sync.load_rows_of(s, ctx.pair_id, contacts))


async def _links_of(
    s: AsyncSession, pair_id: str, contacts: Iterable[SideContact]
) -> dict[SideContact, str]:
    """Contact -> its active link id, for the contacts that have one."""
    out: dict[SideContact, str] = {}
    by_side = repo_sync.sides_of(contacts)
    for side, ids in by_side.items():
        found = await repo_sync.link_ids_by_contact(s, pair_id, side, ids)
        out.update(((side, cid), link_id) for cid, link_id in found.items())
    return out


async def _pool_entries(
    ctx: RunContext, s: AsyncSession, contacts: Iterable[SideContact]
) -> dict[SideContact, PoolRow]:
    """Unlinked contacts that can take part in matching: listed, present, not stale."""
    out: dict[SideContact, PoolRow] = {}
    for side, ids in repo_sync.sides_of(contacts).items():
        for entry in await repo_sync.load_pool_rows(s, ctx.pair_id, side, ids):
            if _eligible(ctx, side, entry):
                out[(side, entry.contact_id)] = entry
    return out


def _eligible(ctx: RunContext, side: SideName, entry: PoolRow) -> bool:
    return _may_match(ctx, side, entry.listed, entry.present, entry.seen_run_id)


async def load_pool(ctx: RunContext, work: Work) -> None:
    """Load the rows of ``work``'s unlinked contacts, and let go of their entries. A contact
    that went since ``collect_work``, or was linked meanwhile by an earlier part of the run
    (a side that refused a create as a duplicate of it), is left out of this run."""
    if not work.pool:
        return
    async with ctx.store.session() as s:
        found = await repo_sync.load_rows_of(s, ctx.pair_id, work.pool)
    kept: list[SideContact] = []
    for key in work.pool:
        row = found.get(key)
        if row is not None and key not in ctx.adopted and _matchable(ctx, key[0], row):
            work.rows[key] = row
            kept.append(key)
    work.pool = kept
    work.entries = {}


def _matchable(ctx: RunContext, side: SideName, row: ContactRow) -> bool:
    present = row.missing_since is None and row.deleted_at is None
    return _may_match(ctx, side, row.listed, present, row.seen_run_id)


def _may_match(
    ctx: RunContext, side: SideName, listed: bool, present: bool, seen_run_id: str | None
) -> bool:
    """An unlinked contact takes part in matching when listed, present and not stale: one
    rule for its ``PoolRow`` in ``collect_work`` and its row in ``load_pool``."""
    return listed and present and not _unseen(ctx, side, seen_run_id)


def stale(ctx: RunContext, side: SideName, row: ContactRow) -> bool:
    """A row this run's listing did not return although the listing was incomplete: the
    contact may have changed since it was stored. Acting on it could overwrite an edit never
    seen (invariant 1), so its link waits for a complete listing (``Absence.UNKNOWN``) and,
    unlinked, it is neither matched nor created."""
    return _unseen(ctx, side, row.seen_run_id)


def _unseen(ctx: RunContext, side: SideName, seen_run_id: str | None) -> bool:
    return not ctx.tally.complete.get(side, True) and seen_run_id != ctx.run_id


def side_view(
    row: ContactRow | None, notes: FreshNotes, side: SideName, *, stale: bool = False
) -> SideView:
    """A link's contact as the diff sees it. Only a confirmed deletion is a deletion."""
    if row is None or not row.listed or stale:
        return Absence.UNKNOWN
    if row.deleted_at is not None:
        return Absence.DELETED
    if row.missing_since is not None:
        return Absence.UNKNOWN
    return _state(row, notes, side)


def _state(row: ContactRow, notes: FreshNotes, side: SideName) -> ContactState:
    return ContactState(
        contact_id=row.contact_id,
        fields=row.fields,
        tags=row.tags,
        notes=notes.get(side, row.contact_id),
        date_updated=row.date_updated,
    )


@dataclass(slots=True)
class ViewSet:
    views: list[LinkView]
    unlinked: list[UnlinkedContact]
    match_refs: list[OpenConflictRef]
    # Links whose outcome may settle their rows: not excluded, no side unknown.
    settleable: set[str]
    states: dict[SideContact, SideView]
    bases: dict[str, LinkBase | None]


async def build_views(ctx: RunContext, work: Work, notes: FreshNotes) -> ViewSet:
    async with ctx.store.session() as s:
        bases: dict[str, LinkBase | None] = dict(await repo_links.load_bases(s, list(work.links)))
    refs: dict[str, list[OpenConflictRef]] = {}
    match_refs: list[OpenConflictRef] = []
    for conflict in work.conflicts:
        if conflict.link_id is None:
            if conflict.ref.kind is ConflictKind.CONTACT_MATCH:
                match_refs.append(conflict.ref)
        elif conflict.link_id in work.links:
            refs.setdefault(conflict.link_id, []).append(conflict.ref)
    excluded_by_override = {
        o.link_id
        for o in work.overrides
        if o.scope is OverrideScope.CONTACT and o.exclude and o.link_id is not None
    }
    views: list[LinkView] = []
    states: dict[SideContact, SideView] = {}
    settleable: set[str] = set()
    for link in sorted(work.links.values(), key=lambda ln: ln.id):
        row_a, row_b = work.rows.get(("a", link.a_id)), work.rows.get(("b", link.b_id))
        a = side_view(row_a, notes, "a", stale=row_a is not None and stale(ctx, "a", row_a))
        b = side_view(row_b, notes, "b", stale=row_b is not None and stale(ctx, "b", row_b))
        excluded = link.excluded or link.id in excluded_by_override
        views.append(
            LinkView(
                link_id=link.id,
                a_contact_id=link.a_id,
                b_contact_id=link.b_id,
                a=a,
                b=b,
                base=bases.get(link.id),
                open_conflicts=tuple(refs.get(link.id, ())),
                excluded=excluded,
            )
        )
        states[("a", link.a_id)] = a
        states[("b", link.b_id)] = b
        if not excluded and Absence.UNKNOWN not in (a, b):
            settleable.add(link.id)
    unlinked: list[UnlinkedContact] = []
    for side, contact_id in work.pool:
        row = work.rows[(side, contact_id)]
        state = _state(row, notes, side)
        states[(side, contact_id)] = state
        unlinked.append(UnlinkedContact(side, state, retired=row.retired_at is not None))
    return ViewSet(views, unlinked, match_refs, settleable, states, bases)
