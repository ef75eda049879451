"""Recovery: finish the journal entries an interrupted run left pending (outcome unknown).

Runs at the start of every run, right after the listing (so a contact created just before a
crash can be found among the fresh listing too) and before anything is planned:

- a pending CREATE_CONTACT: the contact is looked for on the target (``find_contacts`` by email
  and phone; without either, an unlinked new contact with exactly the draft's fields). Found:
  the create is recorded as done with that contact (link, base, snapshot row). Not found: the
  entry fails and the plan creates it again. Without this, a create whose answer was lost
  would be made twice. A source deleted meanwhile is kept, confirmed deleted, by the listing
  until this moment: a copy found is linked to it and the diff carries the deletion over (the
  pair's delete policy); with no copy it is forgotten;
- a pending CREATE_NOTE: a note with the same normalised body that no note link holds is
  looked for among the target contact's notes; found: done with it; else failed;
- any other write: idempotent to plan again, so the entry fails and the link is diffed again
  from the fresh state (a write that did happen then reads as the same edit on both sides).

Every link concerned is looked at in this run with fresh notes. When a lookup itself fails
(a side error), the entry stays pending and its link or contact is held out of this run's plan.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from reconciler.errors import AuthError, FatalRunError, NotFoundError, SideError
from reconciler.sides.base import CORE_FIELDS, SideName
from reconciler.store import repo_journal, repo_links, repo_sync
from reconciler.store.repo_journal import JournalEntry
from reconciler.store.repo_sync import JournalOutcome, SideContact
from reconciler.store.schema import JournalStatus
from reconciler.sync.journal import Batch, flush
from reconciler.sync.ledger import Effects, Ledger, LinkEntry
from reconciler.sync.model import Action, ActionKind, ContactState
from reconciler.sync.normalise import normalised_fields, note_hash
from reconciler.sync.runtime import RunContext
from reconciler.sync.snapshot import contact_state

_INTERRUPTED = "interrupted before its outcome was recorded; planned again from fresh state"


@dataclass(slots=True)
class Recovered:
    links: set[str] = field(default_factory=set)  # diff these now, notes first
    held_links: set[str] = field(default_factory=set)  # leave these out of this run
    held_contacts: set[SideContact] = field(default_factory=set)
    finished: int = 0


async def recover(ctx: RunContext) -> Recovered:
    out = Recovered()
    async with ctx.store.session() as s:
        pending = [e for e in await repo_journal.pending(s, ctx.pair_id) if e.run_id != ctx.run_id]
        if not pending:
            return out
        link_ids = {e.action.link_id for e in pending if e.action.link_id is not None}
        links = await repo_links.load_links(s, link_ids)
        bases = await repo_links.load_bases(s, link_ids)
        contacts: set[SideContact] = set()
        for link in links.values():
            contacts.update({("a", link.a_id), ("b", link.b_id)})
        rows = await repo_sync.load_rows_of(s, ctx.pair_id, contacts)
        # The contacts that pending creates copy (their deletion may need cleaning up).
        sources = await repo_sync.load_rows_of(
            s, ctx.pair_id, {key for e in pending if (key := e.action.copied_contact()) is not None}
        )
        for side, ids in repo_sync.sides_of(sources).items():
            for cid in await repo_links.links_by_contact(s, ctx.pair_id, side, ids):
                del sources[(side, cid)]  # linked some other way meanwhile: the diff's business
    ledger = Ledger(
        states={
            key: row.state() for key, row in rows.items() if row.listed and row.deleted_at is None
        },
        links={
            lid: LinkEntry(lid, link.a_id, link.b_id, bases.get(lid))
            for lid, link in links.items()
            if link.active
        },
    )
    batch = Batch()
    effects = Effects(ctx, ledger, batch)
    for entry in pending:
        await _recover_one(ctx, entry, ledger, effects, batch, out)
    # A contact confirmed deleted whose copy a create left pending was kept for this moment
    # (``snapshot._confirm_deletions``); if no copy was found, nothing depends on it any more.
    failed = {o.entry_id for o in batch.outcomes if o.status is JournalStatus.FAILED}
    taken = {key for link in ledger.links.values() if link.active for key in link.contacts()}
    for entry in pending:
        key = entry.action.copied_contact()
        if key is None or key in taken or entry.id not in failed:
            continue
        row = sources.get(key)
        if row is not None and row.deleted_at is not None:
            batch.forget(*key)
    await flush(ctx, batch)
    return out


async def _recover_one(
    ctx: RunContext,
    entry: JournalEntry,
    ledger: Ledger,
    effects: Effects,
    batch: Batch,
    out: Recovered,
) -> None:
    action = entry.action
    if action.link_id is not None:
        out.links.add(action.link_id)
    try:
        if action.kind is ActionKind.CREATE_CONTACT:
            done = await _recover_contact(ctx, action, ledger, effects)
        elif action.kind is ActionKind.CREATE_NOTE:
            done = await _recover_note(ctx, action, ledger, effects)
        else:
            done = None
    except (AuthError, FatalRunError):
        raise
    except SideError as exc:
        # Still unknown: keep the entry pending and keep its subject out of this run.
        if action.link_id is not None:
            out.held_links.add(action.link_id)
        elif action.source_side is not None and action.source_id is not None:
            out.held_contacts.add((action.source_side, action.source_id))
        if action.kind is ActionKind.CREATE_CONTACT:
            out.held_contacts |= await _maybe_created(ctx, action)
        ctx.tally.error(f"recovery of {action.kind.value} postponed: {type(exc).__name__}: {exc}")
        return
    if done is None:
        batch.outcomes.append(JournalOutcome(entry.id, JournalStatus.FAILED, error=_INTERRUPTED))
        return
    out.finished += 1
    result = {"created_id": done, "recovered": True}
    batch.outcomes.append(JournalOutcome(entry.id, JournalStatus.DONE, result=result))
    # The link the write belongs to (a contact's create made a new one): diffed now, notes too.
    for link in ledger.links.values():
        if link.link_id == action.link_id or (
            action.side is not None and link.contact_id(action.side) == done
        ):
            out.links.add(link.link_id)
            batch.unsettled.update(link.contacts())


async def _recover_contact(
    ctx: RunContext, action: Action, ledger: Ledger, effects: Effects
) -> str | None:
    """The created contact's id if the create happened (and it is now recorded), else None."""
    assert action.side is not None
    if action.link_id is not None and action.link_id not in ledger.links:
        return None  # the link ended meanwhile
    side = ctx.side(action.side)
    payload_fields = action.payload.get("fields")
    draft = normalised_fields(
        payload_fields if isinstance(payload_fields, dict) else {},
        default_region=ctx.policy.default_phone_region,
    )
    email, phone = draft.get("email"), draft.get("phone")
    if email is not None or phone is not None:
        candidates = [
            contact_state(c, ctx.policy) for c in await side.find_contacts(email=email, phone=phone)
        ]
    else:
        candidates = await _unsettled_states(ctx, action.side)
    candidates = await _unlinked(ctx, action.side, candidates, ledger)
    exact = [c for c in candidates if all(c.fields.get(n) == draft.get(n) for n in CORE_FIELDS)]
    if exact:
        chosen = exact[0]
    elif len(candidates) == 1 and (email is not None or phone is not None):
        chosen = candidates[0]  # the same person, edited since: the next diff sees the edit
    else:
        return None
    ledger.states[(action.side, chosen.contact_id)] = chosen
    effects.applied(action, created_id=chosen.contact_id, found=chosen, result={"recovered": True})
    return chosen.contact_id


async def _maybe_created(ctx: RunContext, action: Action) -> set[SideContact]:
    """Contacts already listed on the create's target that may be the one it made. They are
    held too: otherwise this run takes the copy for a new contact of its own and creates it
    back on the source side (a duplicate, invariant 2)."""
    assert action.side is not None
    side = action.side
    payload_fields = action.payload.get("fields")
    draft = normalised_fields(
        payload_fields if isinstance(payload_fields, dict) else {},
        default_region=ctx.policy.default_phone_region,
    )
    email, phone = draft.get("email"), draft.get("phone")
    if email is None and phone is None:
        return {
            (side, c.contact_id)
            for c in await _unsettled_states(ctx, side)
            if all(c.fields.get(n) == draft.get(n) for n in CORE_FIELDS)
        }
    async with ctx.store.session() as s:
        found = await repo_sync.find_by_identity(
            s,
            ctx.pair_id,
            emails=[email] if email is not None else [],
            phones=[phone] if phone is not None else [],
        )
    return {contact for contact in found if contact[0] == side}


async def _unsettled_states(ctx: RunContext, side: SideName) -> list[ContactState]:
    async with ctx.store.session() as s:
        unsettled = [
            cid for sd, cid in await repo_sync.unsettled_contacts(s, ctx.pair_id) if sd == side
        ]
        rows = await repo_sync.load_rows(s, ctx.pair_id, side, unsettled)
    return [row.state() for row in rows.values() if row.listed and row.deleted_at is None]


async def _unlinked(
    ctx: RunContext, side: SideName, candidates: Sequence[ContactState], ledger: Ledger
) -> list[ContactState]:
    async with ctx.store.session() as s:
        linked = await repo_links.links_by_contact(
            s, ctx.pair_id, side, [c.contact_id for c in candidates]
        )
    taken = {entry.contact_id(side) for entry in ledger.links.values() if entry.active}
    return sorted(
        (c for c in candidates if c.contact_id not in linked and c.contact_id not in taken),
        key=lambda c: c.contact_id,
    )


async def _recover_note(
    ctx: RunContext, action: Action, ledger: Ledger, effects: Effects
) -> str | None:
    assert action.side is not None
    link = ledger.links.get(action.link_id) if action.link_id is not None else None
    if link is None or action.contact_id is None:
        return None
    if not isinstance(ledger.states.get((action.side, action.contact_id)), ContactState):
        return None
    try:
        notes = await ctx.side(action.side).get_notes(action.contact_id)
    except NotFoundError:
        return None
    wanted = note_hash(str(action.payload["body"]))
    held = {
        nl.a_note_id if action.side == "a" else nl.b_note_id
        for nl in (link.base.notes if link.base is not None else ())
    }
    same = [n for n in notes if n.id not in held and note_hash(n.body) == wanted]
    if not same:
        return None
    found = same[0]  # listed newest first: the one we made last
    effects.applied(action, created_id=found.id, result={"recovered": True})
    return found.id
