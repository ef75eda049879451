"""What a run knows of its links, their bases and its contacts while it applies a plan, and
what each completed action changes there (``Effects``), staged into the journal's ``Batch``.

Base effects are the pure core's ``base.base_after``; what a write did to the target contact is
``simulate.state_after``: the snapshot row is updated with exactly what we wrote, so the next
listing that returns our own write finds no change (echo suppression). A concurrent edit made
by a person between our listing and our write is NOT folded in: the next listing shows it as a
change against the base, which is what it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from reconciler.sides.base import SideName
from reconciler.store.codec import EncodedJSON, encode_action, encode_json
from reconciler.store.repo_audit import AuditEntry
from reconciler.store.repo_sync import SideContact
from reconciler.store.types import new_id
from reconciler.sync.base import base_after, ends_link
from reconciler.sync.journal import Batch
from reconciler.sync.model import (
    Absence,
    Action,
    ActionKind,
    ContactState,
    LinkBase,
    SideView,
)
from reconciler.sync.normalise import note_hash
from reconciler.sync.runtime import RunContext
from reconciler.sync.simulate import state_after


@dataclass(slots=True)
class LinkEntry:
    link_id: str
    a_id: str
    b_id: str
    base: LinkBase | None  # also None once the job of the link ended (``Executor._end``)
    active: bool = True

    def contact_id(self, side: SideName) -> str:
        return self.a_id if side == "a" else self.b_id

    def contacts(self) -> list[SideContact]:
        return [("a", self.a_id), ("b", self.b_id)]


@dataclass(slots=True)
class Ledger:
    states: dict[SideContact, SideView]
    links: dict[str, LinkEntry]

    def state(self, side: SideName, contact_id: str) -> ContactState:
        current = self.states.get((side, contact_id))
        if not isinstance(current, ContactState):
            raise ValueError(f"no current state of contact {contact_id} on side {side}")
        return current


class Effects:
    """Stages the consequences of completed actions (writes that returned, and the actions
    that write nothing) into a batch, keeping the ledger current."""

    def __init__(self, ctx: RunContext, ledger: Ledger, batch: Batch) -> None:
        self.ctx = ctx
        self.ledger = ledger
        self.batch = batch

    def applied(
        self,
        action: Action,
        *,
        created_id: str | None = None,
        found: ContactState | None = None,
        result: dict[str, Any] | None = None,
    ) -> str | None:
        """Record ``action`` as done; returns the link it concerns (a new link's id for
        LINK_CONTACTS and CREATE_CONTACT). ``found``: for a create recovered after a crash, the
        contact as the side has it (stored instead of what we would have written)."""
        kind = action.kind
        if kind is ActionKind.LINK_CONTACTS:
            link_id = self._new_link(str(action.payload["a_id"]), str(action.payload["b_id"]), None)
        elif kind is ActionKind.CREATE_CONTACT:
            assert created_id is not None
            link_id = self._created_contact(action, created_id, found)
        else:
            assert action.link_id is not None
            link_id = action.link_id
            self._on_link(action, link_id, created_id)
        self.ctx.tally.count(kind.value)
        if created_id is not None:
            result = {"created_id": created_id, **(result or {})}
        self.audit("action.applied", action, link_id, result)
        self.batch.finished.append(action)
        return link_id

    def linked_existing(self, action: Action, existing: ContactState) -> str:
        """A create refused as a duplicate of ``existing``: link to it instead. The link starts
        without a base, so the next run merges it like any newly matched pair."""
        assert action.side is not None
        side = action.side
        self.ctx.adopted.add((side, existing.contact_id))
        self.batch.put_state(side, existing)
        self.ledger.states[(side, existing.contact_id)] = existing
        if action.link_id is not None:
            entry = self.ledger.links[action.link_id]
            self.batch.forget(side, entry.contact_id(side))
            self._repoint(entry, side, existing.contact_id)
            entry.base = None
            self.batch.dropped_bases.add(entry.link_id)
            link_id = entry.link_id
        else:
            source = str(action.source_id)
            a_id, b_id = (
                (existing.contact_id, source) if side == "a" else (source, existing.contact_id)
            )
            link_id = self._new_link(a_id, b_id, None)
        for key in self.ledger.links[link_id].contacts():
            self.batch.unsettled.add(key)
        self.audit("action.linked_existing", action, link_id, {"existing_id": existing.contact_id})
        self.batch.finished.append(action)
        return link_id

    # -- per kind ----------------------------------------------------------------------------

    def _new_link(self, a_id: str, b_id: str, base: LinkBase | None) -> str:
        link_id = new_id()
        self.ledger.links[link_id] = LinkEntry(link_id, a_id, b_id, base)
        self.batch.new_links[link_id] = (a_id, b_id)
        if base is not None:
            self.batch.bases[link_id] = base
        return link_id

    def _repoint(self, entry: LinkEntry, side: SideName, contact_id: str) -> None:
        if side == "a":
            entry.a_id = contact_id
        else:
            entry.b_id = contact_id
        self.batch.repoints.append((entry.link_id, side, contact_id))

    def _created_contact(self, action: Action, created_id: str, found: ContactState | None) -> str:
        assert action.side is not None
        side = action.side
        predicted = state_after(None, action, created_id=created_id)
        assert isinstance(predicted, ContactState)
        self.ledger.states[(side, created_id)] = predicted
        self.batch.put_state(side, found or predicted)
        base = base_after(None, action, created_id=created_id)
        assert base is not None
        if action.link_id is not None:  # a deleted contact re-created: the link points at it
            entry = self.ledger.links[action.link_id]
            self.batch.forget(side, entry.contact_id(side))
            self._repoint(entry, side, created_id)
            entry.base = base
            self.batch.bases[entry.link_id] = base
            return entry.link_id
        source = str(action.source_id)
        a_id, b_id = (created_id, source) if side == "a" else (source, created_id)
        return self._new_link(a_id, b_id, base)

    def _on_link(self, action: Action, link_id: str, created_id: str | None) -> None:
        entry = self.ledger.links[link_id]
        if action.side is not None and action.contact_id is not None:
            self._echo(action, created_id)
        if ends_link(action):
            self._end(entry, action)
            return
        if entry.base is not None and link_id not in self.batch.bases:
            # Its first change in this batch: what the store holds is this base (committed
            # with an earlier batch, or loaded by the run); a base first staged in this batch
            # by a new link or a re-created contact has none and is written whole.
            self.batch.stored_bases[link_id] = entry.base
        entry.base = base_after(entry.base, action, created_id=created_id)
        assert entry.base is not None
        self.batch.bases[link_id] = entry.base

    def _echo(self, action: Action, created_id: str | None) -> None:
        """The target contact as our write left it, into the snapshot."""
        assert action.side is not None
        assert action.contact_id is not None
        side, contact_id = action.side, action.contact_id
        kind = action.kind
        if kind is ActionKind.DELETE_CONTACT:
            self.ledger.states[(side, contact_id)] = Absence.DELETED
            self.batch.forget(side, contact_id)
            return
        before = self.ledger.state(side, contact_id)
        after = state_after(before, action, created_id=created_id)
        assert isinstance(after, ContactState)
        self.ledger.states[(side, contact_id)] = after
        payload = action.payload
        if kind is ActionKind.CREATE_NOTE:
            assert created_id is not None
            body = str(payload["body"])
            self.batch.put_note(side, contact_id, created_id, body, note_hash(body))
        elif kind is ActionKind.UPDATE_NOTE:
            body = str(payload["body"])
            self.batch.put_note(side, contact_id, str(payload["note_id"]), body, note_hash(body))
        elif kind is ActionKind.DELETE_NOTE:
            self.batch.drop_note(side, str(payload["note_id"]))
        else:
            self.batch.put_state(side, replace(after, notes=None))

    def _end(self, entry: LinkEntry, action: Action) -> None:
        """The link ends: the survivor retires (never matched or created again), contacts
        that are gone are forgotten."""
        entry.active = False
        self.batch.end_link(entry.link_id)
        retire = action.payload.get("retire")
        if isinstance(retire, dict) and action.kind is not ActionKind.DELETE_CONTACT:
            side: SideName = "a" if retire.get("side") == "a" else "b"
            self.batch.retired.add((side, str(retire["contact_id"])))
        for side, contact_id in entry.contacts():
            if self.ledger.states.get((side, contact_id)) is Absence.DELETED:
                self.batch.forget(side, contact_id)

    def audit(
        self, kind: str, action: Action, link_id: str | None, result: Mapping[str, Any] | None
    ) -> None:
        """The audit event of ``action``: ``{"action": <the action>, "result": {...}}``, its
        JSON built here in one pass (a first run audits several actions per contact)."""
        kept = {k: v for k, v in result.items() if v is not None} if result else None
        outcome = encode_json(kept) if kept else "{}"
        detail = f'{{"action":{encode_action(action)},"result":{outcome}}}'
        ctx = self.ctx
        self.batch.audit.append(
            AuditEntry(
                actor=ctx.actor,
                kind=kind,
                at=ctx.now(),
                pair_id=ctx.pair_id,
                subject=link_id,
                detail=EncodedJSON(detail),
            )
        )
