"""A large matching pool in batches: a run with many unlinked contacts (a pair's first sync,
or a big import on one side) plans, applies and finishes them a batch at a time, so what it
holds while planning and applying (notes, views, plans, the ledger) is bounded by the batch,
not by the size of the pair.

A batch is made of whole *identity groups*: unlinked contacts connected by a shared email or
phone key, or named together by one open CONTACT_MATCH conflict. Matching only ever relates
contacts that share an identity (``match.match_contacts``; a match resolution names its
candidates by the conflict's identity), so planning each batch alone makes exactly the matches,
ambiguities and creations that planning the whole pool at once would. An open CONTACT_MATCH
conflict goes with the batch holding its candidates; one without any goes with the links.

The links come first, in a part of their own (with every note read the rolling scan chose), so
the delete guard still sees every deletion of the run before anything is written; batches of
unlinked contacts never delete anything. The note selection is made once for the whole run, in
its priority order and within its budget, then divided among the parts: batching changes when
notes are read, never which.

Dry runs and applications of a stored plan are never batched: their plan is one document.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from reconciler.sides.base import SideName
from reconciler.store.repo_sync import ActiveConflict, SideContact
from reconciler.sync.model import ConflictKind
from reconciler.sync.notes import NoteSelection
from reconciler.sync.views import Work

POOL_BATCH = 10_000  # unlinked contacts (both sides) per batch; a bigger group stays whole
_SIDES: tuple[SideName, ...] = ("a", "b")


@dataclass(slots=True)
class Part:
    """One piece of a run: planned, applied and finished on its own."""

    work: Work
    selection: NoteSelection


def split_work(work: Work, selection: NoteSelection, limit: int | None = None) -> list[Part]:
    """The run's parts: ``work`` whole when its pool is small, else its links and then its
    pool in batches of at most ``limit`` contacts (``POOL_BATCH``; see the module docstring).
    The parts take over ``work``'s rows and pool entries: ``work`` is left without them."""
    limit = POOL_BATCH if limit is None else limit
    if len(work.pool) <= limit:
        return [Part(work, selection)]
    groups, owner = _identity_groups(work)
    batches = _pack(groups, limit)
    match_conflicts: list[list[ActiveConflict]] = [[] for _ in batches]
    link_conflicts: list[ActiveConflict] = []
    batch_of = {key: index for index, batch in enumerate(batches) for key in batch}
    for conflict in work.conflicts:
        member = owner.get(conflict.ref.conflict_id)
        if conflict.ref.kind is ConflictKind.CONTACT_MATCH and member is not None:
            match_conflicts[batch_of[member]].append(conflict)
        else:
            link_conflicts.append(conflict)
    entries = work.entries
    links = replace(work, pool=[], conflicts=link_conflicts, entries={})
    parts = [Part(links, _share(selection, links.rows))]
    for batch, conflicts in zip(batches, match_conflicts, strict=True):
        part = Work(
            links={},
            rows={},  # loaded when the batch's turn comes (``views.load_pool``)
            pool=sorted(batch),
            dirty=set(),
            unsettled=set(),
            conflicts=conflicts,
            overrides=work.overrides,
            priority_links=[],
            entries={key: entries[key] for key in batch},
        )
        parts.append(Part(part, _share(selection, part.pool)))
    work.rows, work.entries = {}, {}
    return parts


def _identity_groups(work: Work) -> tuple[list[list[SideContact]], dict[str, SideContact]]:
    """The pool's identity groups (in pool order), and for each open CONTACT_MATCH conflict
    with a candidate in the pool, one of its members."""
    pool = work.pool
    index = {key: i for i, key in enumerate(pool)}
    parent = list(range(len(pool)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def join(members: Iterable[int]) -> None:
        first: int | None = None
        for member in members:
            if first is None:
                first = root(member)
            else:
                parent[root(member)] = first

    by_identity: dict[str, int] = {}
    for i, key in enumerate(pool):
        entry = work.entries[key]
        for identity in (entry.email, entry.phone):
            if identity:
                seen = by_identity.setdefault(identity, i)
                if seen != i:
                    join((seen, i))
    owner: dict[str, SideContact] = {}
    for conflict in work.conflicts:
        if conflict.ref.kind is not ConflictKind.CONTACT_MATCH:
            continue
        members = [
            index[(side, cid)]
            for side in _SIDES
            for cid in conflict.candidate_ids(side)
            if (side, cid) in index
        ]
        at_scope = by_identity.get(conflict.ref.scope)
        if at_scope is not None:
            members.append(at_scope)
        if members:
            join(members)
            owner[conflict.ref.conflict_id] = pool[members[0]]
    groups: dict[int, list[SideContact]] = {}
    for i, key in enumerate(pool):
        groups.setdefault(root(i), []).append(key)
    return list(groups.values()), owner


def _pack(groups: list[list[SideContact]], limit: int) -> list[list[SideContact]]:
    """Whole groups into batches of at most ``limit`` contacts (a bigger group alone)."""
    batches: list[list[SideContact]] = []
    current: list[SideContact] = []
    for group in groups:
        if current and len(current) + len(group) > limit:
            batches.append(current)
            current = []
        current.extend(group)
    if current:
        batches.append(current)
    return batches


def _share(selection: NoteSelection, contacts: Iterable[SideContact]) -> NoteSelection:
    """The part of the run's note selection that concerns these contacts (order kept)."""
    mine = set(contacts)
    part = NoteSelection(budget=selection.budget)
    for side in _SIDES:
        part.ids[side] = [cid for cid in selection.ids[side] if (side, cid) in mine]
    return part
