"""``PairScheduler``: when each pair runs, in every service process at once.

APScheduler 3.x (``AsyncIOScheduler``, in-memory jobs) holds one interval job per enabled pair
in each process; the *schedule itself* lives in the store, so it survives restarts and is
shared by all processes:

- a pair's interval is ``pair.schedule_interval_s`` (never less than the configured minimum);
- its next run is due one interval after the start of its last scheduled run (the ``run``
  table), so a restarted process picks up where the last run left off instead of starting
  over, and a process that never ran the pair knows when it is due.

Every process fires each pair's job at the due time (plus jitter, which spreads pairs over the
interval and decides which process gets there first). The job takes the pair's lease and, under
it, checks again that the pair is still due: the first process runs it, the others find the
lease busy or the pair no longer due and move their next firing to the new due time. A process
that dies leaves at most its lease behind, which expires within ``lease_ttl``: the others run
its pairs at their next due time, within one interval. APScheduler's ``SQLAlchemyJobStore``
was not used: it is documented as unsafe to share between processes.

Misfires (the loop was blocked, the machine slept): ``coalesce`` runs a late pair once, not once
per missed firing; a firing later than ``misfire_grace_s`` is dropped, and the pair is then
still due, so the next firing runs it.

Webhooks ask for a run through ``request_run``: a one-off job ``debounce`` seconds after the
latest request, at most ``max_wait`` after the first (a burst of webhooks makes one run).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import func, select

from reconciler.errors import ReconcilerError
from reconciler.service.runner import PairRunner
from reconciler.store import repo_pairs, repo_webhooks
from reconciler.store.db import Store
from reconciler.store.schema import RunTrigger, table_of
from reconciler.store.tables import RunRow
from reconciler.store.types import utcnow

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
_RUN = table_of(RunRow)
PAIR_JOB = "pair:"
WEBHOOK_JOB = "webhook:"
REFRESH_JOB = "refresh-pairs"
PRUNE_JOB = "prune-webhook-receipts"
# Clocks of processes on different machines disagree a little: a pair counts as due this much
# before its exact time, so a process whose clock is slightly behind does not skip a firing.
DUE_TOLERANCE = timedelta(seconds=0.5)


@dataclass(frozen=True, slots=True)
class ScheduleConfig:
    min_interval_s: int = 60
    jitter_s: float = 15.0
    misfire_grace_s: int = 120
    refresh_s: float = 30.0
    debounce_s: float = 2.0
    # A webhook run waits at most this long after the first request (however many follow).
    max_wait_s: float = 10.0
    # How long webhook receipts are kept (the replay window; older deliveries are stale).
    receipt_retention_s: float = 600.0


@dataclass(frozen=True, slots=True)
class PairSchedule:
    pair_id: str
    interval_s: int
    next_due: datetime


class PairScheduler:
    def __init__(
        self,
        store: Store,
        runner: PairRunner,
        config: ScheduleConfig | None = None,
        *,
        clock: Clock = utcnow,
    ) -> None:
        self.store = store
        self.runner = runner
        self.config = config or ScheduleConfig()
        self.clock = clock
        self._aps = AsyncIOScheduler(
            timezone=UTC,
            job_defaults={
                "coalesce": True,
                "max_instances": 1,
                "misfire_grace_time": self.config.misfire_grace_s,
            },
        )
        self._intervals: dict[str, int] = {}
        self._webhook_attempts: dict[str, int] = {}
        # Pairs with a webhook run waiting to start (not yet running): requests join it.
        self._webhook_pending: dict[str, tuple[str, datetime]] = {}  # job id, first request
        self._webhook_jobs = 0

    # ----------------------------------------------------------------------------- lifecycle

    @property
    def running(self) -> bool:
        return bool(self._aps.running)

    async def start(self) -> None:
        self._aps.start()
        self.runner.metrics.scheduler_running.set(1)
        await self.refresh()
        self._aps.add_job(
            self._refresh_job,
            IntervalTrigger(seconds=self.config.refresh_s),
            id=REFRESH_JOB,
            replace_existing=True,
        )
        self._aps.add_job(
            self._prune_job,
            IntervalTrigger(seconds=max(60.0, self.config.receipt_retention_s / 2)),
            id=PRUNE_JOB,
            replace_existing=True,
        )

    async def stop(self, grace: float) -> int:
        """No new firings; runs in progress get ``grace`` seconds, then are cancelled."""
        if not self._aps.running:
            return 0
        self._aps.pause()
        cancelled = await self.runner.drain(grace)
        self._aps.shutdown(wait=False)
        # The scheduler's shutdown is posted to the loop: let it happen before returning.
        await asyncio.sleep(0)
        self.runner.metrics.scheduler_running.set(0)
        self.runner.metrics.scheduled_pairs.set(0)
        return cancelled

    # ------------------------------------------------------------------------ the schedules

    async def schedules(self, *, known: dict[str, int] | None = None) -> list[PairSchedule]:
        """Every enabled pair with its effective interval and when it is next due.

        ``known``: pairs (id -> interval) whose schedule is known already; their due time is
        not read (it is the one query here that grows with history)."""
        known = known or {}
        async with self.store.session() as s:
            pairs = await repo_pairs.list_pairs(s, enabled_only=True)
            intervals = {p.id: self._interval(p.schedule_interval_s) for p in pairs}
            unknown = [pid for pid, every in intervals.items() if known.get(pid) != every]
            last = await _last_scheduled_starts(s, unknown) if unknown else {}
        now = self.clock()
        out = []
        for pair_id, interval in intervals.items():
            started = last.get(pair_id)
            due = started + timedelta(seconds=interval) if started is not None else now
            out.append(PairSchedule(pair_id, interval, due))
        return out

    def next_firing(self, pair_id: str) -> datetime | None:
        """When this process will next try the pair (None: no job for it)."""
        job = self._aps.get_job(PAIR_JOB + pair_id)
        return job.next_run_time if job is not None else None

    def pending_webhook_run(self, pair_id: str) -> datetime | None:
        pending = self._webhook_pending.get(pair_id)
        job = self._aps.get_job(pending[0]) if pending is not None else None
        return job.next_run_time if job is not None else None

    async def refresh(self) -> None:
        """Make the jobs match the store: new pairs, changed intervals, removed/paused ones."""
        wanted = {p.pair_id: p for p in await self.schedules(known=self._intervals)}
        for pair_id in set(self._intervals) - set(wanted):
            with contextlib.suppress(JobLookupError):
                self._aps.remove_job(PAIR_JOB + pair_id)
            del self._intervals[pair_id]
            log.info("pair unscheduled", extra={"pair_id": pair_id})
        for pair_id, schedule in wanted.items():
            if self._intervals.get(pair_id) == schedule.interval_s:
                continue
            first = self._jittered(max(schedule.next_due, self.clock()), schedule.interval_s)
            self._aps.add_job(
                self._pair_job,
                IntervalTrigger(seconds=schedule.interval_s, timezone=UTC),
                args=(pair_id,),
                id=PAIR_JOB + pair_id,
                next_run_time=first,
                replace_existing=True,
            )
            self._intervals[pair_id] = schedule.interval_s
            log.info(
                "pair scheduled",
                extra={"pair_id": pair_id, "interval_s": schedule.interval_s, "next": first},
            )
        self.runner.metrics.scheduled_pairs.set(len(self._intervals))

    def request_run(self, pair_id: str, *, delay: float | None = None) -> None:
        """Run the pair soon (a webhook said something changed).

        Debounced: the run starts ``debounce`` after the latest request, but never later than
        ``max_wait`` after the first one, so a burst of webhooks (a bulk edit, or the echoes
        of a run's own writes) makes one run, and a steady stream cannot postpone it forever.
        A request made while a webhook run is going gets a run of its own after it (that run
        may have read the side before the change)."""
        delay = self.config.debounce_s if delay is None else delay
        if not self._aps.running:
            return
        now = self.clock()
        pending = self._webhook_pending.get(pair_id)
        job = self._aps.get_job(pending[0]) if pending is not None else None
        if pending is not None and job is not None:
            latest = pending[1] + timedelta(seconds=self.config.max_wait_s)
            with contextlib.suppress(JobLookupError):
                job.modify(next_run_time=min(now + timedelta(seconds=delay), latest))
            return
        # (A pending job that is gone was dropped as a misfire: a new one is needed.)
        # Each request its own job id: a job id still running would make APScheduler skip
        # the new one ("maximum number of running instances reached").
        self._webhook_jobs += 1
        job_id = f"{WEBHOOK_JOB}{pair_id}:{self._webhook_jobs}"
        self._webhook_pending[pair_id] = (job_id, now)
        self._aps.add_job(
            self._webhook_job,
            DateTrigger(run_date=now + timedelta(seconds=delay), timezone=UTC),
            args=(pair_id,),
            id=job_id,
            misfire_grace_time=self.config.misfire_grace_s,
        )

    # ----------------------------------------------------------------------------- the jobs

    async def _pair_job(self, pair_id: str) -> None:
        next_try: datetime | None = None
        interval = self._intervals.get(pair_id, self.config.min_interval_s)
        try:
            outcome = await self.runner.run(
                pair_id, trigger=RunTrigger.SCHEDULE, when=lambda: self._due(pair_id)
            )
            if outcome.skipped == "busy":
                # Someone runs it now; look again once that run is likely over.
                retry = min(interval, self.runner.leases.ttl.total_seconds())
                next_try = self.clock() + timedelta(seconds=retry)
        except asyncio.CancelledError:
            log.info("scheduled run stopped by shutdown", extra={"pair_id": pair_id})
            return
        except ReconcilerError as exc:
            log.warning("scheduled run failed: %s", exc, extra={"pair_id": pair_id})
        except Exception:
            self.runner.metrics.errors.inc(component="scheduler")
            log.exception("scheduled run crashed", extra={"pair_id": pair_id})
        await self._reschedule(pair_id, interval, next_try)

    async def _reschedule(self, pair_id: str, interval: int, next_try: datetime | None) -> None:
        """Move the pair's next firing to its due time in the store (or ``next_try``)."""
        if next_try is None:
            try:
                async with self.store.session() as s:
                    started = (await _last_scheduled_starts(s, [pair_id])).get(pair_id)
            except ReconcilerError as exc:
                log.warning("cannot read the schedule: %s", exc, extra={"pair_id": pair_id})
                started = None
            base = started if started is not None else self.clock()
            next_try = base + timedelta(seconds=interval)
        when = self._jittered(max(next_try, self.clock()), interval)
        with contextlib.suppress(JobLookupError):
            self._aps.modify_job(PAIR_JOB + pair_id, next_run_time=when)

    async def _due(self, pair_id: str) -> bool:
        """Under the lease: is the pair (still) due? Fresh from the store."""
        async with self.store.session() as s:
            pair = await repo_pairs.get_pair(s, pair_id)
            if pair is None or not pair.enabled:
                return False
            started = (await _last_scheduled_starts(s, [pair_id])).get(pair_id)
        if started is None:
            return True
        interval = timedelta(seconds=self._interval(pair.schedule_interval_s))
        return started + interval <= self.clock() + DUE_TOLERANCE

    async def _webhook_job(self, pair_id: str) -> None:
        self._webhook_pending.pop(pair_id, None)  # from now on, requests make a new run
        try:
            outcome = await self.runner.run(pair_id, trigger=RunTrigger.WEBHOOK)
        except asyncio.CancelledError:
            return
        except ReconcilerError as exc:
            log.warning("webhook run failed: %s", exc, extra={"pair_id": pair_id})
            return
        except Exception:
            self.runner.metrics.errors.inc(component="scheduler")
            log.exception("webhook run crashed", extra={"pair_id": pair_id})
            return
        if outcome.skipped == "busy":
            # The run in progress may have read the side before the change: try again soon,
            # a bounded number of times (the scheduled run is the backstop).
            attempts = self._webhook_attempts.get(pair_id, 0) + 1
            if attempts <= 10:
                self._webhook_attempts[pair_id] = attempts
                self.request_run(pair_id, delay=max(self.config.debounce_s, 1.0))
                return
        self._webhook_attempts.pop(pair_id, None)

    async def _refresh_job(self) -> None:
        try:
            await self.refresh()
        except ReconcilerError as exc:
            self.runner.metrics.errors.inc(component="scheduler")
            log.warning("cannot refresh the pairs: %s", exc)

    async def _prune_job(self) -> None:
        before = self.clock() - timedelta(seconds=self.config.receipt_retention_s)
        try:
            async with self.store.transaction() as s:
                await repo_webhooks.prune_webhooks(s, received_before=before)
        except ReconcilerError as exc:
            log.warning("cannot prune webhook receipts: %s", exc)

    # ------------------------------------------------------------------------------ helpers

    def _interval(self, stored: int) -> int:
        return max(int(stored), self.config.min_interval_s)

    def _jittered(self, when: datetime, interval: int) -> datetime:
        # At most a tenth of the interval: jitter spreads load, it must not delay runs much.
        jitter = min(self.config.jitter_s, interval / 10)
        return when + timedelta(seconds=random.uniform(0, jitter)) if jitter > 0 else when


async def _last_scheduled_starts(s: Any, pair_ids: Sequence[str]) -> dict[str, datetime]:
    """When each pair's last scheduled (non-dry) run started (the run table's index on
    (pair_id, started_at) serves it per pair)."""
    rows = (
        await s.execute(
            select(_RUN.c.pair_id, func.max(_RUN.c.started_at))
            .where(
                _RUN.c.pair_id.in_(list(pair_ids)),
                _RUN.c.trigger == RunTrigger.SCHEDULE.value,
                _RUN.c.dry_run.is_(False),
            )
            .group_by(_RUN.c.pair_id)
        )
    ).all()
    return {row[0]: _aware(row[1]) for row in rows if row[1] is not None}


def _aware(value: datetime) -> datetime:
    # func.max() loses the column type's processing on SQLite: the value may come back naive
    # (or as text); it is UTC either way.
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
