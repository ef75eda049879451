"""One run of one pair: ``reconcile`` (and ``apply_plan`` for a stored plan).

Order of a run (each step is a module of ``reconciler.sync``):

1. the run row is stored (status ``running``); runs of the pair a crash left ``running`` are
   closed as failed (this run finishes their work);
2. ``snapshot``: both sides listed (incremental or full), deletions confirmed;
3. ``recovery``: journal entries an interrupted run left pending are resolved;
4. ``views`` + ``notes``: the links and contacts that need a diff, and whose notes to read
   (one selection for the run, within its budget); a large matching pool (a first sync) is
   split into batches of whole identity groups (``batches``), after the links: steps 5-8 are
   made once per part, each part's notes read at its start; hook ``snapshot_done``;
5. the pure core plans (``plan.build_plan``); hook ``plan_built``;
6. a dry run stores the plan and stops (``planned``); a plan that trips the delete guard is
   stored and the run stops before applying anything (``awaiting_approval``: applying that
   plan by id is the approval);
7. ``apply``: the plan through the journal; hooks ``intent_committed``, ``write_returned``,
   ``result_committed`` per action;
8. ``finish``: conflicts persisted, resolutions closed, contacts settled; hook
   ``conflicts_committed``;
9. the run row gets its report; hook ``run_finished``.

A crash is a crash: nothing here catches ``BaseException`` (``SimulatedCrash`` in tests), so
the store is left as a kill -9 would leave it and the next run copes. Credentials or budget
failures (``AuthError``, ``FatalRunError``) end the run as ``failed`` with everything done so
far recorded. Leases are the caller's (``reconciler.service.lease``).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from reconciler.errors import AuthError, EngineError, FatalRunError, PlanStaleError
from reconciler.sides.base import Side, SideName
from reconciler.store import repo_pairs, repo_runs, repo_sync
from reconciler.store.db import Store
from reconciler.store.schema import PlanStatus, RunStatus, RunTrigger
from reconciler.store.tables import PairRow
from reconciler.store.types import utcnow
from reconciler.sync.apply import Executor, LinkJob, SideHealth, load_parked
from reconciler.sync.batches import Part, split_work
from reconciler.sync.finish import finish
from reconciler.sync.ledger import Ledger, LinkEntry
from reconciler.sync.model import Action, ActionKind, LinkPlan, Plan
from reconciler.sync.notes import (
    FreshNotes,
    NoteSelection,
    read_notes,
    rolling_links,
    select_priority,
)
from reconciler.sync.plan import build_plan, delete_guard
from reconciler.sync.plans import still_holds, store_plan
from reconciler.sync.policy import other_side
from reconciler.sync.recovery import recover
from reconciler.sync.runtime import NoHooks, RunContext, RunHooks, SidePair, Tally
from reconciler.sync.snapshot import ScanSettings, snapshot_contacts
from reconciler.sync.views import (
    ViewSet,
    Work,
    build_views,
    collect_work,
    extend_work,
    load_pool,
)

__all__ = [
    "RunHooks",
    "RunReport",
    "SidePair",
    "SimulatedCrash",
    "apply_plan",
    "reconcile",
]


class SimulatedCrash(BaseException):
    """Raised by test hooks to stop a run the way kill -9 would (never caught here)."""


@dataclass(frozen=True)
class RunReport:
    run_id: str
    pair_id: str
    status: str  # "succeeded" | "failed" | "awaiting_approval" | "planned"
    dry_run: bool
    plan_id: str | None
    counts: Mapping[str, int]  # per ActionKind value, applied only
    conflicts_opened: int
    conflicts_closed: int
    parked: int
    requests: Mapping[str, int]  # "a"/"b" -> requests spent this run
    complete: Mapping[str, bool]  # "a"/"b" -> snapshot completeness
    errors: Sequence[str]


async def reconcile(
    store: Store,
    pair_id: str,
    sides: SidePair,
    *,
    dry_run: bool = False,
    trigger: str = "manual",
    clock: Callable[[], datetime] | None = None,
    hooks: RunHooks | None = None,
    full_scan: bool | None = None,
) -> RunReport:
    """Run the pair once (see the module docstring)."""
    run = _Run(store, pair_id, sides, clock or utcnow, hooks or NoHooks())
    return await run.execute(trigger=trigger, dry_run=dry_run, full_scan=full_scan)


async def apply_plan(
    store: Store,
    plan_id: str,
    sides: SidePair,
    *,
    clock: Callable[[], datetime] | None = None,
    hooks: RunHooks | None = None,
) -> RunReport:
    """Apply a stored plan (a dry run's, or one waiting for delete-guard approval).

    The sides are read again and the plan is made again from what they hold now; if that
    differs from the stored plan for anything it touches, the plan is marked stale, the run
    fails and ``PlanStaleError`` is raised. Otherwise exactly the stored plan's links are
    applied (the delete guard is not consulted: applying is the approval).
    """
    async with store.session() as s:
        row = await repo_runs.get_plan(s, plan_id)
        if row is None:
            raise EngineError(f"no plan {plan_id}")
        if row.status != PlanStatus.PENDING.value:
            raise PlanStaleError(f"plan {plan_id} is {row.status}, not pending")
        stored = await repo_runs.plan_actions(s, plan_id)
    run = _Run(store, row.pair_id, sides, clock or utcnow, hooks or NoHooks())
    run.stored = _StoredPlan(plan_id, stored, row.context or {})
    report = await run.execute(trigger=RunTrigger.MANUAL.value, dry_run=False, full_scan=None)
    if run.stale is not None:
        raise PlanStaleError(run.stale)
    return report


@dataclass(frozen=True, slots=True)
class _StoredPlan:
    plan_id: str
    actions: list[Action]
    context: Mapping[str, object]

    def notes(self) -> NoteSelection:
        selection = NoteSelection(budget=10**9)
        raw = self.context.get("notes")
        if isinstance(raw, dict):
            for side in ("a", "b"):
                ids = raw.get(side)
                if isinstance(ids, list):
                    name: SideName = "a" if side == "a" else "b"
                    selection.add([(name, str(i)) for i in ids])
        return selection

    def link_ids(self) -> set[str]:
        return {a.link_id for a in self.actions if a.link_id is not None}


class _Run:
    def __init__(
        self,
        store: Store,
        pair_id: str,
        sides: SidePair,
        clock: Callable[[], datetime],
        hooks: RunHooks,
    ) -> None:
        self.store = store
        self.pair_id = pair_id
        self.sides = sides
        self.clock = clock
        self.hooks = hooks
        self.stored: _StoredPlan | None = None
        self.stale: str | None = None
        self.plan_id: str | None = None

    async def execute(self, *, trigger: str, dry_run: bool, full_scan: bool | None) -> RunReport:
        started = self.clock()
        async with self.store.transaction() as s:
            pair = await repo_pairs.get_pair(s, self.pair_id)
            if pair is None:
                raise EngineError(f"no pair {self.pair_id}")
            run = await repo_runs.start_run(
                s, self.pair_id, trigger=RunTrigger(trigger), now=started, dry_run=dry_run
            )
        ctx = RunContext(
            store=self.store,
            pair_id=self.pair_id,
            run_id=run.id,
            sides=self.sides,
            policy=repo_pairs.pair_policy(pair),
            clock=self.clock,
            hooks=self.hooks,
            started_at=started,
            dry_run=dry_run,
            tally=Tally(),
        )
        usage_before = {name: dict(self.sides.side(name).usage().requests) for name in ("a", "b")}
        try:
            async with self.store.transaction() as s:
                await repo_sync.fail_interrupted_runs(
                    s, self.pair_id, current_run_id=run.id, now=started
                )
            status = await self._body(ctx, pair, full_scan)
        except (AuthError, FatalRunError) as exc:
            ctx.tally.fatal = f"{type(exc).__name__}: {exc}"
            status = RunStatus.FAILED
        except Exception as exc:
            # A bug or the store failing: the run is recorded as failed, then the error goes on.
            ctx.tally.error(f"{type(exc).__name__}: {exc}")
            await self._record(ctx, RunStatus.FAILED, usage_before)
            raise
        report = await self._record(ctx, status, usage_before)
        await ctx.step("run_finished")
        return report

    async def _body(self, ctx: RunContext, pair: PairRow, full_scan: bool | None) -> RunStatus:
        settings = ScanSettings.from_json(pair.scan)
        listings = await snapshot_contacts(ctx, pair, settings, full_scan=full_scan)
        ctx.tally.complete = {side: listing.complete for side, listing in listings.items()}
        recovered = await recover(ctx)
        forced = set(recovered.links)
        if self.stored is not None:
            forced |= self.stored.link_ids()
        work = await collect_work(
            ctx,
            forced_links=forced,
            held_links=recovered.held_links,
            held_contacts=recovered.held_contacts,
        )
        selection = await self._select_notes(ctx, work, settings)
        whole = ctx.dry_run or self.stored is not None  # one plan document: never batched
        parts = deque([Part(work, selection)] if whole else split_work(work, selection))
        del work, selection  # the parts hold it now: each is let go of once done
        health = SideHealth()  # a side that keeps failing stays paused for the whole run
        while parts:
            part = parts.popleft()
            status = await self._part(ctx, part, health)
            if status is not None:
                return status
        return RunStatus.FAILED if ctx.tally.fatal else RunStatus.SUCCEEDED

    async def _part(
        self,
        ctx: RunContext,
        part: Part,
        health: SideHealth,
    ) -> RunStatus | None:
        """Plan, apply and finish one part of the run (``batches``); a status ends the run."""
        work = part.work
        notes = await read_notes(ctx, part.selection)
        await ctx.step("snapshot_done")
        await load_pool(ctx, work)
        views = await build_views(ctx, work, notes)
        plan = build_plan(
            views.views,
            views.unlinked,
            ctx.policy,
            work.overrides,
            ctx.now(),
            open_match_conflicts=views.match_refs,
        )
        plan, deferred = defer_blind_creations(plan, ctx.tally.complete)
        # ``deferred`` names the contacts to copy; the side they were not created on is the
        # other one.
        for side in sorted({other_side(source) for source, _ in deferred}):
            message = (
                f"contacts not created on side {side.upper()} in this run: its listing was "
                "incomplete (one of them may be there already)"
            )
            if message not in ctx.tally.errors:  # once per run, not once per batch
                ctx.tally.error(message)
        await ctx.step("plan_built")
        if ctx.dry_run:
            self.plan_id = await store_plan(ctx, plan, reason="dry_run", notes=notes)
            return RunStatus.PLANNED
        link_plans, pool = await self._to_apply(ctx, plan, notes, work)
        pool = [c for c in pool if c not in deferred]  # stay unsettled: created next time
        if link_plans is None:
            return RunStatus.AWAITING_APPROVAL if self.stale is None else RunStatus.FAILED
        jobs = [
            LinkJob(lp, settleable=lp.link_id is None or lp.link_id in views.settleable)
            for lp in link_plans
        ]
        ledger = _ledger(views)
        del plan, link_plans, views  # the jobs and the ledger hold what applying needs
        executor = Executor(ctx, ledger, parked=await load_parked(ctx), health=health)
        await executor.run(jobs)
        await finish(ctx, jobs, ledger, pool=pool, notes=notes, conflicts=work.conflicts)
        return RunStatus.FAILED if ctx.tally.fatal else None

    async def _select_notes(
        self, ctx: RunContext, work: Work, settings: ScanSettings
    ) -> NoteSelection:
        if self.stored is not None:
            return self.stored.notes()  # exactly what the plan was made with
        selection = select_priority(ctx, work, settings.notes_per_run)
        async with ctx.store.session() as s:
            previous = await repo_sync.previous_run_start(s, ctx.pair_id, before=ctx.run_id)
        rolling = await rolling_links(
            ctx, selection, period=settings.notes_period, previous_run=previous
        )
        await extend_work(ctx, work, [link.link_id for link in rolling])
        for link in rolling:
            if link.link_id in work.links:
                # Not a contact confirmed deleted: its notes are gone (a 404, reported as a
                # failed read in every such run).
                selection.add(
                    [
                        key
                        for key in (("a", link.a_id), ("b", link.b_id))
                        if (row := work.rows.get(key)) is not None
                        and row.listed
                        and row.deleted_at is None
                    ]
                )
        return selection

    async def _to_apply(
        self, ctx: RunContext, plan: Plan, notes: FreshNotes, work: Work
    ) -> tuple[list[LinkPlan] | None, list[tuple[SideName, str]]]:
        """The link plans this run applies (None: it stops here) and the unlinked contacts it
        may settle."""
        if self.stored is None:
            async with ctx.store.session() as s:
                linked = await repo_sync.count_active_links(s, ctx.pair_id)
            verdict = delete_guard(plan, linked, notes.note_count, ctx.policy)
            if verdict.tripped:
                ctx.tally.error(f"delete guard: {verdict.message}; waiting for approval")
                self.plan_id = await store_plan(
                    ctx, plan, reason="delete_guard", notes=notes, detail=verdict.message
                )
                return None, []
            return list(plan.links), list(work.pool)
        stored = self.stored
        self.plan_id = stored.plan_id
        selected, stale = still_holds(stored.actions, plan)
        now = ctx.now()
        async with ctx.store.transaction() as s:
            if stale is None and await repo_runs.set_plan_status(
                s, stored.plan_id, PlanStatus.APPLIED, now=now
            ):
                await repo_sync.set_run_plan(s, ctx.run_id, stored.plan_id)
                return selected, []
            await repo_runs.set_plan_status(s, stored.plan_id, PlanStatus.STALE, now=now)
            await repo_sync.set_run_plan(s, ctx.run_id, stored.plan_id)
        self.stale = stale or f"plan {stored.plan_id} is no longer pending"
        ctx.tally.error(f"plan stale: {self.stale}")
        return None, []

    async def _record(
        self,
        ctx: RunContext,
        status: RunStatus,
        usage_before: Mapping[str, Mapping[str, int]],
    ) -> RunReport:
        tally = ctx.tally
        if tally.fatal:
            tally.error(f"run stopped: {tally.fatal}")
        requests = {name: _spent(self.sides.side(name), usage_before[name]) for name in ("a", "b")}
        async with self.store.transaction() as s:
            await repo_runs.finish_run(
                s,
                ctx.run_id,
                status=status,
                now=ctx.now(),
                a_complete=tally.complete.get("a"),
                b_complete=tally.complete.get("b"),
                counts=tally.counts,
                requests=requests,
                errors=tally.errors,
                conflicts_opened=tally.conflicts_opened,
                plan_id=self.plan_id,
                conflicts_closed=tally.conflicts_closed,
                parked=tally.parked,
            )
        return RunReport(
            run_id=ctx.run_id,
            pair_id=ctx.pair_id,
            status=status.value,
            dry_run=ctx.dry_run,
            plan_id=self.plan_id,
            counts=dict(tally.counts),
            conflicts_opened=tally.conflicts_opened,
            conflicts_closed=tally.conflicts_closed,
            parked=tally.parked,
            requests={
                name: sum(v for k, v in per.items() if k != _BUDGET_KEY)
                for name, per in requests.items()
            },
            complete=dict(tally.complete),
            errors=list(tally.errors),
        )


_BUDGET_KEY = "budget_remaining_daily"  # what service.pairs reads from run.requests[side]


def _spent(side: Side, before: Mapping[str, int]) -> dict[str, int]:
    """Requests this run spent on ``side`` per endpoint (sides count over their lifetime)."""
    usage = side.usage()
    out = {
        label: count - before.get(label, 0)
        for label, count in usage.requests.items()
        if count - before.get(label, 0) > 0
    }
    if usage.budget_remaining_daily is not None:
        out[_BUDGET_KEY] = usage.budget_remaining_daily
    return out


def defer_blind_creations(
    plan: Plan, complete: Mapping[str, bool]
) -> tuple[Plan, set[tuple[SideName, str]]]:
    """The plan without creations of new contacts on a side whose listing was incomplete, and
    the contacts they were for (on the other side).

    A contact the listing missed may be the very person the plan would create (invariant 2):
    on a side that allows duplicates that makes a second copy. Matching and creating wait for
    a complete listing of the target side.
    """
    kept: list[LinkPlan] = []
    deferred: set[tuple[SideName, str]] = set()
    for link_plan in plan.links:
        first = link_plan.actions[0] if link_plan.actions else None
        if (
            first is not None
            and first.kind is ActionKind.CREATE_CONTACT
            and first.link_id is None
            and first.side is not None
            and not complete.get(first.side, False)
            and first.source_side is not None
            and first.source_id is not None
        ):
            deferred.add((first.source_side, first.source_id))
            continue
        kept.append(link_plan)
    if not deferred:
        return plan, deferred
    return Plan(links=tuple(kept)), deferred


def _ledger(views: ViewSet) -> Ledger:
    return Ledger(
        states=dict(views.states),
        links={
            view.link_id: LinkEntry(view.link_id, view.a_contact_id, view.b_contact_id, view.base)
            for view in views.views
        },
    )
