"""Prefetching a page's relations in a few rounds, before its fields are resolved.

A list resolver (conflicts, contact links) knows its rows and which fields the operation
selects; loading what those fields will ask for right away, in bulk, lets the relation
resolvers answer from the loaders' cache without an await each (``loaders.now_or_later``).
Only what the operation selects is loaded, so a page of ids costs no more than before.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterable, Sequence
from typing import Any

from strawberry.types.nodes import FragmentSpread, InlineFragment, SelectedField

from reconciler.api.context import ApiInfo
from reconciler.api.loaders import Loaders
from reconciler.store.repo_links import Link
from reconciler.store.sql import unique
from reconciler.store.tables import ConflictRow

_SIDE_FIELDS = frozenset({"a", "b", "displayName"})
_BASE_FIELDS = frozenset({"base", "displayName"})


def selected_names(info: ApiInfo) -> frozenset[str]:
    """Every field name selected anywhere below this resolver's field (fragments included)."""
    names: set[str] = set()

    def walk(selections: Iterable[Any]) -> None:
        for selection in selections:
            if isinstance(selection, SelectedField):
                names.add(selection.name)
                walk(selection.selections)
            elif isinstance(selection, FragmentSpread | InlineFragment):
                walk(selection.selections)

    for field in info.selected_fields:
        walk(field.selections)
    return frozenset(names)


async def conflicts(info: ApiInfo, rows: Sequence[ConflictRow]) -> None:
    loaders = info.context.loaders
    for row in rows:
        loaders.conflict.prime(row.id, row)
    names = selected_names(info)
    waits: list[Awaitable[Any]] = []
    if "pair" in names:
        waits.append(loaders.pair.load_many(unique(row.pair_id for row in rows)))
    if "link" in names:
        waits.append(
            _links_then(
                loaders, unique(row.link_id for row in rows if row.link_id is not None), names
            )
        )
    await asyncio.gather(*waits)


async def _links_then(loaders: Loaders, link_ids: list[str], names: frozenset[str]) -> None:
    found = await loaders.link.load_many(link_ids)
    await links(loaders, [link for link in found if link is not None], names)


async def links(loaders: Loaders, rows: Sequence[Link], names: frozenset[str]) -> None:
    """Prefetch what the selected fields of these links need."""
    for link in rows:
        loaders.link.prime(link.id, link)
    link_ids = [link.id for link in rows]
    keys = [(link.pair_id, "a", link.a_id) for link in rows] + [
        (link.pair_id, "b", link.b_id) for link in rows
    ]
    waits: list[Awaitable[Any]] = []
    if names & _SIDE_FIELDS:
        waits.append(loaders.snapshot_contact.load_many(keys))
    if names & _BASE_FIELDS:
        waits.append(loaders.base.load_many(link_ids))
    if "pair" in names:
        waits.append(loaders.pair.load_many(unique(link.pair_id for link in rows)))
    if "notes" in names:
        waits.append(loaders.snapshot_notes.load_many(keys))
        waits.append(loaders.note_links.load_many(link_ids))
    if "openConflicts" in names:
        waits.append(loaders.open_conflicts_of_link.load_many(link_ids))
    if "overrides" in names:
        waits.append(loaders.overrides_of_link.load_many(link_ids))
    await asyncio.gather(*waits)
