"""``PairRunner``: how this process runs one pair, whatever asked for it (the schedule, a
webhook, the CLI, an operator through the API).

One path for all: take the pair's lease (``lease.LeaseKeeper``), check the caller's condition
under it (the scheduler's "is it due?"), open both sides, ``reconcile``, then record what
happened (metrics, a log line with the run id, a ``RunFinished`` event). Sides that cannot be
opened (no tokens yet, an unknown account kind) still leave a failed run in the store, so the
API and the console show why a pair does not sync.

The runner tracks the tasks running pairs, so that shutdown can give them a grace period and
then cancel them (``drain``): a cancelled run is like a crash, which the journal makes safe.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from reconciler.errors import PairBusyError, ReconcilerError
from reconciler.service import events
from reconciler.service.lease import LeaseKeeper, LeaseLostError
from reconciler.service.metrics import ServiceMetrics, error_class
from reconciler.service.observability import log_context
from reconciler.store import repo_runs
from reconciler.store.db import Store
from reconciler.store.schema import RunStatus, RunTrigger
from reconciler.store.types import utcnow

if TYPE_CHECKING:
    from reconciler.sync.run import RunHooks, RunReport, SidePair

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
# pair id -> async context manager giving the pair's two sides (closed on exit).
SideOpener = Callable[[str], AbstractAsyncContextManager[Any]]
Condition = Callable[[], Awaitable[bool]]


@dataclass(frozen=True, slots=True)
class RunOutcome:
    """What ``PairRunner.run`` did: a report, or why there is none."""

    report: RunReport | None
    # "busy" (leased elsewhere or here), "not_due", "closing" (shutting down), "lease_lost"
    # (stopped mid-run: the lease could not be renewed in time)
    skipped: str | None = None


class PairRunner:
    def __init__(
        self,
        store: Store,
        leases: LeaseKeeper,
        side_opener: SideOpener,
        *,
        metrics: ServiceMetrics | None = None,
        bus: events.EventBus | None = None,
        clock: Clock = utcnow,
    ) -> None:
        self.store = store
        self.leases = leases
        self.side_opener = side_opener
        self.metrics = metrics or ServiceMetrics()
        self.bus = bus or events.bus
        self.clock = clock
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closing = False
        # Runs this runner recorded; others (the API's manual runs) are recorded from the store.
        self._observed: deque[str] = deque(maxlen=1000)

    @property
    def running(self) -> int:
        return len(self._tasks)

    def leased_opener(self, pair_id: str) -> AbstractAsyncContextManager[Any]:
        """A ``SideOpener`` that holds the pair's lease while the sides are open: what the
        API's manual runs use, so they never overlap a scheduled run anywhere."""
        return self._leased_sides(pair_id)

    @asynccontextmanager
    async def _leased_sides(self, pair_id: str) -> AsyncIterator[Any]:
        async with self.leases.hold(pair_id), self.side_opener(pair_id) as sides:
            yield self.leases.guarded(pair_id, sides)

    async def run(
        self,
        pair_id: str,
        *,
        trigger: RunTrigger | str,
        dry_run: bool = False,
        full_scan: bool | None = None,
        hooks: RunHooks | None = None,
        when: Condition | None = None,
    ) -> RunOutcome:
        """Run the pair now unless it is busy (``skipped="busy"``) or ``when`` says no."""
        trigger = RunTrigger(trigger).value
        if self._closing:
            return RunOutcome(None, skipped="closing")
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            with log_context(pair_id=pair_id, trigger=trigger):
                return await self._run(pair_id, trigger, dry_run, full_scan, hooks, when)
        finally:
            if task is not None:
                self._tasks.discard(task)

    async def _run(
        self,
        pair_id: str,
        trigger: str,
        dry_run: bool,
        full_scan: bool | None,
        hooks: RunHooks | None,
        when: Condition | None,
    ) -> RunOutcome:
        from reconciler.sync.run import reconcile  # the engine loads only where runs happen

        try:
            async with self.leases.hold(pair_id):
                self.metrics.leases_held.set(len(self.leases.held))
                if when is not None and not await when():
                    self.metrics.skipped.inc(reason="not_due")
                    return RunOutcome(None, skipped="not_due")
                started = time.monotonic()
                reconciling = False
                try:
                    async with self.side_opener(pair_id) as sides:
                        reconciling = True
                        report = await reconcile(
                            self.store,
                            pair_id,
                            self.leases.guarded(pair_id, sides),
                            dry_run=dry_run,
                            trigger=trigger,
                            clock=self.clock,
                            hooks=hooks,
                            full_scan=full_scan,
                        )
                        self._observe(report, trigger, time.monotonic() - started, sides)
                except PairBusyError:
                    raise
                except ReconcilerError as exc:
                    if not reconciling:
                        # The sides could not be opened (no tokens yet, a bad account): the
                        # engine never started, so the failure is recorded here.
                        await self._record_failure(pair_id, trigger, dry_run, exc)
                    else:
                        self.metrics.run_errors.inc(pair=pair_id, error=type(exc).__name__)
                    raise
        except LeaseLostError as exc:
            self.metrics.errors.inc(component="lease")
            log.warning("run stopped: %s", exc)
            return RunOutcome(None, skipped="lease_lost")
        except PairBusyError as exc:
            self.metrics.skipped.inc(reason="busy")
            log.info("run skipped: %s", exc)
            return RunOutcome(None, skipped="busy")
        finally:
            self.metrics.leases_held.set(len(self.leases.held))
        return RunOutcome(report)

    async def watch(self) -> None:
        """Record the runs finished in this process by others (the API's manual runs and
        plan applications), from the run rows, until cancelled."""
        async with self.bus.subscribe(lambda e: isinstance(e, events.RunFinished)) as finished:
            async for event in finished:
                assert isinstance(event, events.RunFinished)
                if event.run_id not in self._observed:
                    await self._observe_stored(event.run_id)

    async def _observe_stored(self, run_id: str) -> None:
        try:
            async with self.store.session() as s:
                run = await repo_runs.get_run(s, run_id)
        except ReconcilerError as exc:
            log.warning("cannot record run %s in the metrics: %s", run_id, exc)
            return
        if run is None or run.finished_at is None:
            return
        self._observed.append(run_id)
        self.metrics.observe_run(
            pair_id=run.pair_id,
            trigger=run.trigger,
            status=run.status,
            seconds=(run.finished_at - run.started_at).total_seconds(),
            counts={k: int(v) for k, v in run.counts.items() if isinstance(v, int)},
            conflicts_opened=run.conflicts_opened,
            errors=[str(e) for e in run.errors],
            requests={},
            budget_left={},
        )

    def _observe(self, report: RunReport, trigger: str, seconds: float, sides: SidePair) -> None:
        self._observed.append(report.run_id)
        requests: dict[str, int] = {}
        budget: dict[str, int | None] = {}
        for name, side in (("a", sides.a), ("b", sides.b)):
            usage = side.usage()
            requests[side.name] = int(report.requests.get(name, usage.total_requests))
            budget[side.name] = usage.budget_remaining_daily
        self.metrics.observe_run(
            pair_id=report.pair_id,
            trigger=trigger,
            status=report.status,
            seconds=seconds,
            counts=report.counts,
            conflicts_opened=report.conflicts_opened,
            errors=report.errors,
            requests=requests,
            budget_left=budget,
        )
        level = logging.WARNING if report.status == "failed" else logging.INFO
        log.log(
            level,
            "run %s %s",
            report.run_id,
            report.status,
            extra={
                "run_id": report.run_id,
                "status": report.status,
                "dry_run": report.dry_run,
                "seconds": round(seconds, 3),
                "counts": {k: v for k, v in report.counts.items() if v},
                "conflicts_opened": report.conflicts_opened,
                "conflicts_closed": report.conflicts_closed,
                "parked": report.parked,
                "requests": dict(report.requests),
                "complete": dict(report.complete),
                "errors": list(report.errors)[:5],
                "holder": self.leases.holder,
            },
        )
        self.bus.publish(events.RunFinished(report.pair_id, report.run_id, report.status))

    async def _record_failure(
        self, pair_id: str, trigger: str, dry_run: bool, exc: ReconcilerError
    ) -> None:
        error = f"{type(exc).__name__}: {exc}"
        now = self.clock()
        run_id: str | None = None
        try:
            async with self.store.transaction() as s:
                run = await repo_runs.start_run(
                    s, pair_id, trigger=RunTrigger(trigger), now=now, dry_run=dry_run
                )
                await repo_runs.finish_run(
                    s, run.id, status=RunStatus.FAILED, now=now, errors=[error]
                )
                run_id = run.id
        except ReconcilerError as store_exc:
            log.error("could not record the failed run: %s", store_exc)
            return
        self._observed.append(run_id)
        self.metrics.observe_run(
            pair_id=pair_id,
            trigger=trigger,
            status=RunStatus.FAILED.value,
            seconds=0.0,
            counts={},
            conflicts_opened=0,
            errors=[error],
            requests={},
            budget_left={},
        )
        log.warning(
            "run %s failed before it started: %s",
            run_id,
            error,
            extra={"run_id": run_id, "error": error_class(error)},
        )
        self.bus.publish(events.RunFinished(pair_id, run_id, RunStatus.FAILED.value))

    async def drain(self, grace: float) -> int:
        """Stop taking runs; wait up to ``grace`` seconds for those in progress, then cancel
        them. Returns how many had to be cancelled."""
        self._closing = True
        pending = {t for t in self._tasks if not t.done()}
        if pending and grace > 0:
            _done, pending = await asyncio.wait(pending, timeout=grace)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending)
        return len(pending)
