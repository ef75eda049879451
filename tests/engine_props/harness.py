"""What the property and crash tests share: a pair of memory sides over a real store, a clock
that moves only when told, and read-backs of everything a run leaves behind (both sides by
person, the bases, open conflicts, the journal), compared by content, never by ids (ids differ
between a run that crashed and one that did not)."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from sqlalchemy import select

from reconciler.sides.base import Contact
from reconciler.sides.memory import MemorySide
from reconciler.store import repo_conflicts, repo_journal, repo_links, repo_pairs
from reconciler.store.db import Store
from reconciler.store.repo_links import Link
from reconciler.store.schema import AccountKind, ConflictStatus
from reconciler.store.tables import ConflictRow, JournalRow, PairRow
from reconciler.sync.model import LinkBase, PairPolicy
from reconciler.sync.normalise import note_body
from tests.engine.conftest import Clock, Env
from tests.engine.conftest import writes as writes  # the property tests count writes too

_pair_names = itertools.count(1)


@dataclass
class PairEnv(Env):
    """One pair of memory sides on a store. Many can share one store (one per example)."""

    spacing_s: ClassVar[float] = 61.0  # > notes_period_s below: every run reads every note

    def side(self, name: str) -> MemorySide:
        return self.a if name == "a" else self.b


async def new_pair(
    store: Store,
    *,
    policy: PairPolicy | None = None,
    side_class: type[MemorySide] = MemorySide,
    clock: Clock | None = None,
    **side_options: Any,
) -> PairEnv:
    """A new pair (its own two accounts) on ``store``; every run reads every link's notes."""
    clock = clock or Clock()
    n = next(_pair_names)
    async with store.transaction() as s:
        acc_a = await repo_pairs.create_side_account(
            s, label=f"A{n}", kind=AccountKind.MEMORY, location_id=f"mem-a-{n}", now=clock()
        )
        acc_b = await repo_pairs.create_side_account(
            s, label=f"B{n}", kind=AccountKind.MEMORY, location_id=f"mem-b-{n}", now=clock()
        )
        pair = await repo_pairs.create_pair(
            s,
            name=f"props-{n}",
            side_a_account_id=acc_a.id,
            side_b_account_id=acc_b.id,
            now=clock(),
            policy=policy,
        )
        row = await s.get(PairRow, pair.id)
        assert row is not None
        row.scan = {"notes_period_s": 60.0}
    a = side_class("a", clock=clock, id_seed=1, **side_options)
    b = side_class("b", clock=clock, id_seed=2, **side_options)
    return PairEnv(store=store, pair_id=pair.id, a=a, b=b, clock=clock)


# ------------------------------------------------------------------------------ read-backs

Person = tuple[Any, ...]


def person_key(contact: Contact) -> str:
    """Who a contact is, the same on both sides and in every rerun (ids are not)."""
    return contact.email or contact.phone or f"name:{contact.first_name} {contact.last_name}"


def people(side: MemorySide) -> dict[str, Person]:
    """Each contact by ``person_key``: (first, last, phone, tags, note bodies)."""
    out: dict[str, Person] = {}
    for contact in side.user.contacts():
        key = person_key(contact)
        assert key not in out, f"two contacts {key} on {side.name}"
        notes = sorted(note_body(n.body) for n in side.user.notes(contact.id))
        out[key] = (
            contact.first_name,
            contact.last_name,
            contact.phone,
            tuple(sorted(contact.tags)),
            tuple(notes),
        )
    return out


async def active_links(store: Store, pair_id: str) -> list[Link]:
    out: list[Link] = []
    async with store.session() as s:
        async for batch in repo_links.stream_links(s, pair_id):
            out.extend(batch)
    return out


async def bases(store: Store, pair_id: str) -> dict[str, tuple[Link, LinkBase | None]]:
    links = await active_links(store, pair_id)
    async with store.session() as s:
        loaded = await repo_links.load_bases(s, [link.id for link in links])
    return {link.id: (link, loaded.get(link.id)) for link in links}


async def bases_by_person(env: PairEnv) -> dict[str, Person | None]:
    """Each active link's base keyed like ``people`` (A's email): fields, tag keys, bodies."""
    out: dict[str, Person | None] = {}
    for link, base in (await bases(env.store, env.pair_id)).values():
        found = [
            c
            for side, cid in ((env.a, link.a_id), (env.b, link.b_id))
            for c in side.user.contacts()
            if c.id == cid
        ]
        key = person_key(found[0]) if found else f"link:{link.id}"
        out[key] = (
            None
            if base is None
            else (
                base.fields.get("first_name"),
                base.fields.get("last_name"),
                base.fields.get("phone"),
                tuple(sorted(base.tags)),
                tuple(sorted(n.body for n in base.notes)),
            )
        )
    return out


async def conflicts(
    store: Store, pair_id: str, status: ConflictStatus | None = ConflictStatus.OPEN
) -> list[ConflictRow]:
    async with store.session() as s:
        return await repo_conflicts.list_conflicts(s, pair_id=pair_id, status=status, limit=10_000)


async def conflict_summary(env: PairEnv) -> list[tuple[Any, ...]]:
    """Open conflicts by content (kind and the three values; scopes carry ids)."""
    return sorted(
        (c.kind, repr(c.base_value), repr(c.a_value), repr(c.b_value))
        for c in await conflicts(env.store, env.pair_id)
    )


async def pending_entries(store: Store, pair_id: str) -> list[repo_journal.JournalEntry]:
    async with store.session() as s:
        return await repo_journal.pending(s, pair_id)


async def replaced_values(store: Store, pair_id: str) -> set[tuple[str, str]]:
    """(side, value) of every value a write meant to overwrite, as its journal intent keeps it
    (whatever the outcome: a write answered 5xx may have landed)."""
    out: set[tuple[str, str]] = set()
    async with store.session() as s:
        rows = await s.execute(
            select(JournalRow.action).where(JournalRow.pair_id == pair_id)  # type: ignore[call-overload]
        )
        for (action,) in rows:
            payload: Mapping[str, Any] = action.get("payload") or {}
            replaced = payload.get("replaced")
            side = str(action.get("side"))
            if isinstance(replaced, str):
                out.add((side, replaced))
            elif isinstance(replaced, Mapping):
                out.update((side, str(v)) for v in replaced.values() if v is not None)
    return out


async def final_state(env: PairEnv) -> dict[str, Any]:
    """Everything the crash tests compare: both sides, the bases, open conflicts, links."""
    return {
        "a": people(env.a),
        "b": people(env.b),
        "bases": await bases_by_person(env),
        "conflicts": await conflict_summary(env),
    }


def duplicates(side: MemorySide) -> list[str]:
    """Contacts sharing an email, and notes sharing a body on one contact (invariant 2)."""
    found: list[str] = []
    emails: dict[str, str] = {}
    for contact in side.user.contacts():
        if contact.email is not None:
            key = contact.email.lower()
            if key in emails:
                found.append(f"{side.name}: contacts {emails[key]} and {contact.id} are {key}")
            emails[key] = contact.id
        bodies: dict[str, str] = {}
        for note in side.user.notes(contact.id):
            body = note_body(note.body)
            if body in bodies:
                found.append(f"{side.name}: contact {contact.id} has note {body!r} twice")
            bodies[body] = note.id
    return found
