"""The end of an applying run: conflicts persisted, resolutions closed or refused, and the
contacts the run finished with marked settled.

Per job (one ``LinkPlan``):
- its conflicts are opened (or refreshed) with base, A and B values, whatever happened to its
  actions: a conflict's scope was left untouched on both sides, so recording it is always
  right. Conflicts of a link the plan was to make but did not are not recorded (the next run
  finds them again);
- its closings are applied only if every action of the job was: a resolution whose write
  failed stays resolved and is carried out by the next run;
- refused resolutions reopen their conflict (the audit log keeps what was refused and why);
- its contacts are settled (not looked at again until they change) when the job completed or
  parked an item, and its view allowed it (no side unknown, not excluded); their webhook
  hints are cleared when their notes were read.

Settling happens here, after the conflicts are committed, never before: a crash in between
leaves the contacts unsettled, so the next run plans them again and finds the conflicts again.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from reconciler.service import events
from reconciler.sides.base import SideName
from reconciler.store import repo_audit, repo_conflicts, repo_snapshots, repo_sync
from reconciler.store.repo_sync import ActiveConflict, SideContact
from reconciler.store.sql import chunks
from reconciler.sync.apply import LinkJob
from reconciler.sync.ledger import Ledger
from reconciler.sync.model import ConflictSpec, RejectedResolution
from reconciler.sync.notes import FreshNotes
from reconciler.sync.runtime import RunContext


def job_contacts(job: LinkJob, ledger: Ledger) -> set[SideContact]:
    out = set(job.sources)
    for link_id in job.links:
        entry = ledger.links.get(link_id)
        if entry is not None:
            out.update(entry.contacts())
    return out


async def finish(
    ctx: RunContext,
    jobs: Sequence[LinkJob],
    ledger: Ledger,
    *,
    pool: Iterable[SideContact],
    notes: FreshNotes,
    conflicts: Sequence[ActiveConflict],
) -> None:
    specs: list[ConflictSpec] = []
    closings: list[str] = []
    refused: list[RejectedResolution] = []
    settle: set[SideContact] = set()
    clear: set[SideContact] = set()
    covered: set[SideContact] = set()
    for job in jobs:
        contacts = job_contacts(job, ledger)
        covered |= contacts
        if not job.started:
            continue  # the run stopped before it: the next run plans it afresh
        for spec in job.plan.conflicts:
            link_id = spec.link_id or job.ref_link(spec.link_ref)
            if spec.link_ref is not None and link_id is None:
                continue
            specs.append(replace(spec, link_id=link_id))
        refused.extend(job.plan.rejected_resolutions)
        if job.state == "done":
            closings.extend(job.plan.closed_conflicts)
            clear |= {c for c in contacts if notes.has(*c)}
        if job.state in ("done", "parked") and job.settleable:
            settle |= contacts
    for contact in pool:
        if contact not in covered:
            settle.add(contact)
            if notes.has(*contact):
                clear.add(contact)
    opened = await _commit(ctx, specs, closings, refused, settle, clear, conflicts)
    await ctx.step("conflicts_committed")
    for conflict_id in opened:
        events.publish(events.ConflictOpened(ctx.pair_id, conflict_id))


async def _commit(
    ctx: RunContext,
    specs: Sequence[ConflictSpec],
    closings: Sequence[str],
    refused: Sequence[RejectedResolution],
    settle: set[SideContact],
    clear: set[SideContact],
    conflicts: Sequence[ActiveConflict],
) -> list[str]:
    now = ctx.now()
    resolutions = {c.ref.conflict_id: c.ref.resolution for c in conflicts}
    audit: list[repo_audit.AuditEntry] = []
    async with ctx.store.transaction() as s:
        # Refusals first: a conflict reopened here may be refreshed by a spec below.
        await repo_sync.reopen_conflicts(s, [r.conflict_id for r in refused], now=now)
        for rejection in refused:
            resolution = resolutions.get(rejection.conflict_id)
            audit.append(
                _event(
                    ctx,
                    now,
                    "conflict.resolution_rejected",
                    rejection.conflict_id,
                    {
                        "message": rejection.message,
                        "choice": resolution.choice.value if resolution else None,
                    },
                )
            )
        upserted = await repo_conflicts.upsert_open_conflicts(s, ctx.pair_id, specs, now=now)
        for conflict_id, spec in zip(upserted.ids, specs, strict=True):
            if conflict_id in upserted.new_ids:
                audit.append(
                    _event(
                        ctx,
                        now,
                        "conflict.opened",
                        conflict_id,
                        {"kind": spec.kind.value, "scope": spec.scope, "link_id": spec.link_id},
                    )
                )
        closed = await repo_conflicts.close_conflicts(s, closings, now=now)
        for conflict_id in dict.fromkeys(closings):
            resolution = resolutions.get(conflict_id)
            kind = "conflict.resolution_applied" if resolution else "conflict.closed"
            detail: dict[str, object] = {"choice": resolution.choice.value} if resolution else {}
            audit.append(_event(ctx, now, kind, conflict_id, detail))
        for side, ids in repo_sync.sides_of(sorted(settle)).items():
            await repo_sync.settle(s, ctx.pair_id, side, ids)
        for side, ids in repo_sync.sides_of(sorted(clear)).items():
            await _clear_dirty(s, ctx, side, ids)
        for batch in chunks(audit):
            await repo_audit.append(s, batch)
    ctx.tally.conflicts_opened += len(upserted.new_ids)
    ctx.tally.conflicts_closed += closed
    return list(upserted.new_ids)


async def _clear_dirty(s: AsyncSession, ctx: RunContext, side: SideName, ids: list[str]) -> None:
    # Only hints older than the run's start: a webhook that came in meanwhile stays.
    await repo_snapshots.clear_dirty(
        s,
        ctx.pair_id,
        side,
        ids,
        marked_before=ctx.started_at,
    )


def _event(
    ctx: RunContext, now: datetime, kind: str, conflict_id: str, detail: dict[str, object]
) -> repo_audit.AuditEntry:
    return repo_audit.AuditEntry(
        actor=ctx.actor,
        kind=kind,
        at=now,
        pair_id=ctx.pair_id,
        subject=conflict_id,
        detail=detail,
    )
