"""An in-memory pair (two sides, links with bases) that executes plans with the engine's own
``state_after`` and ``base_after``: the apply layer without I/O, for convergence tests."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from reconciler.sides.base import SideName
from reconciler.sync.base import base_after, ends_link
from reconciler.sync.context import keyed_tags
from reconciler.sync.model import (
    Absence,
    Action,
    ActionKind,
    ContactState,
    LinkBase,
    LinkView,
    OpenConflictRef,
    Override,
    PairPolicy,
    Plan,
    UnlinkedContact,
)
from reconciler.sync.normalise import normalised_fields
from reconciler.sync.plan import build_plan
from reconciler.sync.simulate import state_after
from tests.sync.builders import NOW


@dataclass(slots=True)
class Link:
    a_id: str
    b_id: str
    base: LinkBase | None


@dataclass(slots=True)
class World:
    a: dict[str, ContactState] = field(default_factory=dict)
    b: dict[str, ContactState] = field(default_factory=dict)
    links: dict[str, Link] = field(default_factory=dict)
    retired: set[tuple[SideName, str]] = field(default_factory=set)
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def file_tags_for(self, policy: PairPolicy) -> World:
        """File every contact's tags under the pair's tag keys, as a snapshot would (bases are
        left as they are: the engine re-files those itself)."""
        ci = policy.tags_case_insensitive
        for contacts in (self.a, self.b):
            for cid, state in contacts.items():
                contacts[cid] = replace(state, tags=keyed_tags(state.tags, case_insensitive=ci))
        return self

    def side(self, side: SideName) -> dict[str, ContactState]:
        return self.a if side == "a" else self.b

    def views(
        self, open_conflicts: dict[str, Sequence[OpenConflictRef]] | None = None
    ) -> list[LinkView]:
        out = []
        for link_id, link in sorted(self.links.items()):
            out.append(
                LinkView(
                    link_id=link_id,
                    a_contact_id=link.a_id,
                    b_contact_id=link.b_id,
                    a=self.a.get(link.a_id, Absence.DELETED),
                    b=self.b.get(link.b_id, Absence.DELETED),
                    base=link.base,
                    open_conflicts=tuple((open_conflicts or {}).get(link_id, ())),
                )
            )
        return out

    def unlinked(self) -> list[UnlinkedContact]:
        linked = {("a", ln.a_id) for ln in self.links.values()} | {
            ("b", ln.b_id) for ln in self.links.values()
        }
        out = []
        for side in ("a", "b"):
            s: SideName = "a" if side == "a" else "b"
            for cid, state in sorted(self.side(s).items()):
                if (s, cid) not in linked:
                    out.append(UnlinkedContact(s, state, retired=(s, cid) in self.retired))
        return out

    def plan(
        self,
        policy: PairPolicy,
        overrides: Sequence[Override] = (),
        now: datetime = NOW,
    ) -> Plan:
        return build_plan(self.views(), self.unlinked(), policy, overrides, now)

    def new_id(self, prefix: str) -> str:
        return f"{prefix}{next(self.ids)}"

    def apply(self, plan: Plan, *, skip: frozenset[int] = frozenset()) -> None:
        """Execute every action of ``plan`` in order (except the indexes in ``skip``, which
        stand for writes that failed and were parked)."""
        refs: dict[str, str] = {}
        for index, action in enumerate(plan.actions):
            if index in skip:
                continue
            self._apply(action, refs)

    def _apply(self, action: Action, refs: dict[str, str]) -> None:
        ref = action.payload.get("link_ref")
        link_id = action.link_id or (refs.get(str(ref)) if ref is not None else None)
        kind = action.kind
        if kind is ActionKind.LINK_CONTACTS:
            new = self.new_id("L")
            self.links[new] = Link(str(action.payload["a_id"]), str(action.payload["b_id"]), None)
            refs[str(ref)] = new
            return
        if kind is ActionKind.CREATE_CONTACT:
            assert action.side is not None
            created = self.new_id(f"{action.side}c")
            state = state_after(None, action, created_id=created)
            assert isinstance(state, ContactState)
            self.side(action.side)[created] = state
            new_base = base_after(None, action, created_id=created)
            if link_id is not None:  # relink: the deleted contact is replaced
                link = self.links[link_id]
                if action.side == "a":
                    link.a_id = created
                else:
                    link.b_id = created
                link.base = new_base
            else:
                source = str(action.source_id)
                a_id, b_id = (created, source) if action.side == "a" else (source, created)
                link_id = self.new_id("L")
                self.links[link_id] = Link(a_id, b_id, new_base)
            refs[str(ref)] = link_id
            return
        if link_id is None or link_id not in self.links:
            # Depends on a link or contact whose creation failed (was skipped): apply parks it.
            return
        link = self.links[link_id]
        if action.side is not None:
            target_id = action.contact_id or (link.a_id if action.side == "a" else link.b_id)
            contacts = self.side(action.side)
            new_note: str | None = None
            if kind is ActionKind.CREATE_NOTE:
                new_note = self.new_id(f"{action.side}n")
            after = state_after(contacts[target_id], action, created_id=new_note)
            if isinstance(after, ContactState):
                contacts[target_id] = after
            else:
                del contacts[target_id]
            if not ends_link(action):
                link.base = base_after(link.base, action, created_id=new_note)
        elif not ends_link(action):
            link.base = base_after(link.base, action)
        if ends_link(action):
            retire = action.payload.get("retire")
            if isinstance(retire, dict) and action.kind is not ActionKind.DELETE_CONTACT:
                side: SideName = "a" if retire["side"] == "a" else "b"
                self.retired.add((side, str(retire["contact_id"])))
            del self.links[link_id]

    def agreed(self, policy: PairPolicy) -> bool:
        """Both sides and the base agree on every link (content, not ids)."""
        ci = policy.tags_case_insensitive
        for link in self.links.values():
            a, b = self.a.get(link.a_id), self.b.get(link.b_id)
            if a is None or b is None or link.base is None:
                return False
            values = [normalised_fields(x) for x in (a.fields, b.fields, link.base.fields)]
            if not values[0] == values[1] == values[2]:
                return False
            keys = [
                set(keyed_tags(t, case_insensitive=ci)) for t in (a.tags, b.tags, link.base.tags)
            ]
            if not keys[0] == keys[1] == keys[2]:
                return False
            if a.notes is not None and b.notes is not None:
                pairs = {(nl.a_note_id, nl.b_note_id): nl.hash for nl in link.base.notes}
                if set(a.notes) != {x for x, _ in pairs} or set(b.notes) != {y for _, y in pairs}:
                    return False
                for (x, y), h in pairs.items():
                    if not a.notes[x].hash == b.notes[y].hash == h:
                        return False
        return True
