"""Snapshot: pull both sides' contacts into the store.

Per side, a listing is incremental (``stream_contacts(since=watermark)``) or a full scan: the
first run, a pair whose last complete full scan is older than its ``full_scan_interval``, a
side that cannot list incrementally, or when asked. Contacts are stored normalised (fields in
their normal form, tags keyed as the pair compares them) with their content hash.

Completeness decides what a listing may mean:
- only a COMPLETE listing moves the watermark (an incomplete one may have skipped changes);
- only a COMPLETE full scan can make a contact a deletion candidate, and a candidate is only
  believed deleted after ``get_contact`` answers 404 (``NotFoundError``): then the diff sees
  ``Absence.DELETED``. Anything else leaves it ``Absence.UNKNOWN``, which is never acted on.

Malformed contacts (``ContactPage.rejected``) are parked with their error; the listing goes
on. Webhook hints for contacts no listing has returned yet are read one by one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from reconciler.errors import AuthError, FatalRunError, NotFoundError, SideError
from reconciler.sides.base import Contact, Rejected, SideName
from reconciler.store import repo_journal, repo_links, repo_pairs, repo_snapshots, repo_sync
from reconciler.store.tables import PairRow
from reconciler.sync.context import keyed_tags
from reconciler.sync.model import ContactState, PairPolicy
from reconciler.sync.normalise import normalised_fields, tag_key
from reconciler.sync.runtime import RunContext


@dataclass(frozen=True, slots=True)
class ScanSettings:
    """How a pair is read (``pair.scan``; missing keys take these defaults)."""

    full_scan_interval: timedelta = timedelta(hours=24)
    # Contacts per side whose notes one run may read (one request each).
    notes_per_run: int = 2000
    # Every linked contact's notes are read at least this often, budget permitting.
    notes_period: timedelta = timedelta(hours=24)
    # Deletion confirmations (one ``get_contact`` each) per side per run.
    confirmations_per_run: int = 500

    def __post_init__(self) -> None:
        if self.full_scan_interval <= timedelta(0) or self.notes_period <= timedelta(0):
            raise ValueError("scan intervals must be positive")
        if self.notes_per_run < 0 or self.confirmations_per_run < 0:
            raise ValueError("scan budgets must not be negative")

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> ScanSettings:
        data = data or {}
        unknown = set(data) - {
            "full_scan_interval_s",
            "notes_per_run",
            "notes_period_s",
            "confirmations_per_run",
        }
        if unknown:
            raise ValueError(f"unknown scan settings: {sorted(unknown)}")
        defaults = cls()
        return cls(
            full_scan_interval=_seconds(data, "full_scan_interval_s", defaults.full_scan_interval),
            notes_per_run=int(data.get("notes_per_run", defaults.notes_per_run)),
            notes_period=_seconds(data, "notes_period_s", defaults.notes_period),
            confirmations_per_run=int(
                data.get("confirmations_per_run", defaults.confirmations_per_run)
            ),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "full_scan_interval_s": self.full_scan_interval.total_seconds(),
            "notes_per_run": self.notes_per_run,
            "notes_period_s": self.notes_period.total_seconds(),
            "confirmations_per_run": self.confirmations_per_run,
        }


def _seconds(data: Mapping[str, Any], key: str, default: timedelta) -> timedelta:
    value = data.get(key)
    return default if value is None else timedelta(seconds=float(value))


def contact_state(contact: Contact, policy: PairPolicy) -> ContactState:
    """A side's contact as the engine compares it: normal-form fields, tags by their key."""
    return ContactState(
        contact_id=contact.id,
        fields=normalised_fields(contact.core(), default_region=policy.default_phone_region),
        tags=keyed_tags(
            {t: t for t in contact.tags}, case_insensitive=policy.tags_case_insensitive
        ),
        date_updated=contact.date_updated,
    )


class ListingStates:
    """``contact_state`` for a whole listing: a side's contacts share a few hundred tag names,
    so each name's key is worked out once (normalising it is most of the cost of a state)."""

    def __init__(self, policy: PairPolicy) -> None:
        self._region = policy.default_phone_region
        self._case_insensitive = policy.tags_case_insensitive
        self._keys: dict[str, str] = {}

    def __call__(self, contact: Contact) -> ContactState:
        return ContactState(
            contact_id=contact.id,
            fields=normalised_fields(contact.core(), default_region=self._region),
            tags=self._keyed(contact.tags),
            date_updated=contact.date_updated,
        )

    def _keyed(self, names: Iterable[str]) -> dict[str, str]:
        # ``keyed_tags``' rule: of two spellings with one key, the first in sorted order wins.
        out: dict[str, str] = {}
        keys = self._keys
        for name in sorted(set(names)):
            key = keys.get(name)
            if key is None:
                key = keys[name] = tag_key(name, case_insensitive=self._case_insensitive)
            out.setdefault(key, name)
        return out


@dataclass(frozen=True, slots=True)
class SideListing:
    side: SideName
    full: bool
    complete: bool
    listed: int
    rejected: int
    confirmed_deleted: int


async def snapshot_contacts(
    ctx: RunContext, pair: PairRow, settings: ScanSettings, *, full_scan: bool | None
) -> dict[SideName, SideListing]:
    """List both sides (concurrently: they are different accounts with their own budgets)."""
    return await ctx.both_sides(lambda name: _list_side(ctx, pair, settings, name, full_scan))


def _wants_full(
    pair: PairRow, side: SideName, settings: ScanSettings, now: datetime, forced: bool | None
) -> bool:
    if forced is not None:
        return forced
    last = pair.a_full_scan_at if side == "a" else pair.b_full_scan_at
    return last is None or now - last >= settings.full_scan_interval


async def _list_side(
    ctx: RunContext,
    pair: PairRow,
    settings: ScanSettings,
    name: SideName,
    full_scan: bool | None,
) -> SideListing:
    side = ctx.side(name)
    now = ctx.now()
    watermark = pair.a_watermark if name == "a" else pair.b_watermark
    full = (
        _wants_full(pair, name, settings, now, full_scan)
        or watermark is None
        or not side.capabilities.supports_incremental
    )
    since = None if full else watermark
    complete = True
    newest = watermark
    listed = rejected = 0
    state_of = ListingStates(ctx.policy)
    # Pages are stored a few thousand contacts at a time (one transaction per page cost a
    # commit per hundred contacts); a page with malformed contacts at once, in page order.
    # What a listing broken off by a side error returned is still stored; after a fatal
    # error the unstored rest is not (the watermark does not move: the next run lists it).
    states: list[ContactState] = []
    try:
        async for page in side.stream_contacts(since=since):
            complete = complete and page.complete
            for contact in page.contacts:
                states.append(state_of(contact))
                if contact.date_updated is not None and (
                    newest is None or contact.date_updated > newest
                ):
                    newest = contact.date_updated
            listed += len(page.contacts)
            rejected += len(page.rejected)
            if page.rejected or len(states) >= _LISTING_BATCH:
                await _store_listed(ctx, name, states, page.rejected, now, first=watermark is None)
                states = []
    except (AuthError, FatalRunError):
        raise
    except SideError as exc:
        complete = False
        ctx.tally.error(f"listing side {name.upper()} stopped: {type(exc).__name__}: {exc}")
    await _store_listed(ctx, name, states, (), now, first=watermark is None)
    ctx.tally.parked += rejected
    confirmed = 0
    if complete:
        async with ctx.side_transaction() as s:
            await repo_pairs.set_scan_progress(
                s, ctx.pair_id, name, watermark=newest, full_scan_at=now if full else None
            )
            if full:
                await repo_snapshots.mark_missing(s, ctx.pair_id, name, run_id=ctx.run_id, now=now)
        if full:
            confirmed = await _confirm_deletions(ctx, name, settings)
    await _read_hinted(ctx, name)
    return SideListing(name, full, complete, listed, rejected, confirmed)


# Contacts per side stored in one transaction while listing.
_LISTING_BATCH = 5000


async def _store_listed(
    ctx: RunContext,
    side: SideName,
    states: list[ContactState],
    rejected: Sequence[Rejected],
    now: datetime,
    *,
    first: bool,
) -> None:
    """Store listed contacts; park the malformed ones and mark them seen (they exist: a
    complete listing must not take them for missing). ``first``: the side's first listing
    (no watermark yet: nearly every contact is new to the store)."""
    if not states and not rejected:
        return
    async with ctx.side_transaction() as s:
        await repo_snapshots.put_listed(
            s, ctx.pair_id, side, states, run_id=ctx.run_id, seen_at=now, first_listing=first
        )
        for item in rejected:
            await _park_rejected(ctx, s, side, item.item_id, item.error, item.raw, now)
        seen = [item.item_id for item in rejected if item.item_id]
        await repo_sync.mark_seen(s, ctx.pair_id, side, seen, run_id=ctx.run_id, now=now)


async def _park_rejected(
    ctx: RunContext,
    s: Any,
    side: SideName,
    item_id: str | None,
    error: str,
    raw: str,
    now: datetime,
) -> None:
    # An item without a usable id is parked under a digest of what was sent, so the same
    # bad record seen again counts as another attempt, not as a new item.
    key = item_id or "unreadable:" + hashlib.sha256(raw.encode()).hexdigest()[:16]
    await repo_journal.park(s, ctx.pair_id, side, "contact", key, error=error, now=now)
    if item_id:
        await repo_snapshots.set_parked_error(s, ctx.pair_id, side, item_id, error)
    ctx.tally.error(f"side {side.upper()}: contact {key} parked: {error}")


async def _confirm_deletions(ctx: RunContext, name: SideName, settings: ScanSettings) -> int:
    """Missing from a complete full scan: believed deleted only after a 404, one by one."""
    side = ctx.side(name)
    async with ctx.store.session() as s:
        candidates = await repo_sync.missing_unconfirmed(
            s, ctx.pair_id, name, limit=settings.confirmations_per_run
        )
    gone: list[str] = []
    back: list[ContactState] = []
    for contact_id in candidates:
        try:
            contact = await side.get_contact(contact_id)
        except NotFoundError:
            gone.append(contact_id)
        except (AuthError, FatalRunError):
            raise
        except SideError:
            continue  # not confirmed: stays a maybe (Absence.UNKNOWN)
        else:
            back.append(contact_state(contact, ctx.policy))
    if not gone and not back:
        return 0
    now = ctx.now()
    async with ctx.side_transaction() as s:
        linked = set(await repo_links.links_by_contact(s, ctx.pair_id, name, gone))
        # A linked contact's deletion is for the diff to deal with; so is that of a contact
        # whose copy a create left pending (recovery, later in this run, may find the copy and
        # link it: its source must be known deleted then, or the copy outlives it unnoticed).
        # Any other is simply forgotten (nothing on the other side depends on it).
        kept = linked | await _copy_sources(s, ctx.pair_id, name)
        await repo_sync.confirm_deleted(
            s, ctx.pair_id, name, [c for c in gone if c in kept], now=now
        )
        await repo_snapshots.delete_contacts(
            s, ctx.pair_id, name, [c for c in gone if c not in kept]
        )
        await repo_snapshots.put_listed(s, ctx.pair_id, name, back, run_id=ctx.run_id, seen_at=now)
    return len(gone)


async def _copy_sources(s: AsyncSession, pair_id: str, side: SideName) -> set[str]:
    """Contacts of ``side`` that a pending CREATE_CONTACT copies to the other side."""
    return {
        source[1]
        for entry in await repo_journal.pending(s, pair_id)
        if (source := entry.action.copied_contact()) is not None and source[0] == side
    }


async def _read_hinted(ctx: RunContext, name: SideName) -> None:
    """Webhook hints about contacts no listing has returned yet: read them directly (a
    search index may lag the webhook)."""
    side = ctx.side(name)
    async with ctx.store.session() as s:
        dirty = await repo_snapshots.dirty_contact_ids(s, ctx.pair_id, name, limit=1000)
        rows = await repo_sync.load_rows(s, ctx.pair_id, name, dirty)
    unknown = [cid for cid, row in rows.items() if not row.listed]
    found: list[ContactState] = []
    gone: list[str] = []
    for contact_id in unknown:
        try:
            found.append(contact_state(await side.get_contact(contact_id), ctx.policy))
        except NotFoundError:
            gone.append(contact_id)
        except (AuthError, FatalRunError):
            raise
        except SideError:
            continue
    if not found and not gone:
        return
    now = ctx.now()
    async with ctx.side_transaction() as s:
        await repo_snapshots.put_listed(s, ctx.pair_id, name, found, run_id=ctx.run_id, seen_at=now)
        await repo_snapshots.delete_contacts(s, ctx.pair_id, name, gone)
