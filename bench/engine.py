"""Benchmark: one pair's reconciliation runs at scale, memory sides over a SQLite store file.

Each side holds N people (5 tags and 3 notes each; ``MemoryStore.populate``). Scenarios, run
in this order on one pair (each N in a fresh child process, so that its peak RSS is its own):

- ``initial``: the first run of a new pair whose sides were filled separately: both hold the
  same N people (same emails, fields, tags and notes: every one is matched by email and
  linked, the agreeing values become the base), and side A has 1% more people that B lacks
  (each created on B, with its notes). It is a full scan of both sides, and the pair's notes
  budget (``notes_per_run``, 2,000 contacts per side by default) is raised to N so that this
  one run reads every contact's notes and links them all (3N note links), as a first sync of
  a pair that must be complete at once would.
- ``no-change``: a run five minutes later with nothing changed (incremental listing). It
  reads what the rolling notes scan asks for: the links whose notes are oldest, at a pace that
  reads every link once per ``notes_period`` (24 h): N x 300 s / 86,400 s of them.
- ``changes``: then 1% of the people changed on each side (first name, a tag added, a note
  edited), 0.5% changed on both sides differently (first name and the same note: conflicts
  under the default ``manual`` policies) and 0.5% deleted on side B; a scheduled run five
  minutes later (incremental listing: it sees every change but the deletions).
- ``full-scan``: the pair's periodic full scan after that (daily by default): both sides
  listed whole, the 0.5% missing from B confirmed deleted one by one (``get_contact`` 404)
  and archived on A.

    .venv/bin/python bench/engine.py --contacts 10000 100000
    .venv/bin/python bench/engine.py --contacts 100000 --scenarios initial changes --profile changes

Prints a table: wall time of each run (``reconcile`` only; filling the sides is not counted),
what it applied, conflicts opened, requests per side, and the process's peak RSS after it
(``ru_maxrss``: the memory sides' 2 x N people are in it; their own size is printed first).
``--profile [SCENARIO ...]`` writes a cProfile of each run (or of the named ones) to
``bench/profiles/`` and prints its top lines; ``--phases`` prints each run's steps (snapshot,
notes, plan, apply, finish) with their wall time, the peak RSS after them and the RSS left
(with ``--sql``, the SQL time within them too); ``--sql`` prints each run's SQL time
(statements and commits, from the call to its return) and its costliest statements;
``--keep`` keeps the store file and prints where it is. ``--postgres URL`` runs the store on
PostgreSQL instead: a database of its own is created on that server for each N (dropped after,
unless ``--keep``), so that the production store's plans are measured at scale too.

    .venv/bin/python bench/engine.py --contacts 100000 \
        --postgres postgresql+psycopg://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import functools
import gc
import json
import multiprocessing
import os
import pstats
import random
import re
import resource
import shutil
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql as pg_sql
from sqlalchemy import event, make_url
from sqlalchemy.dialects.postgresql.psycopg import AsyncAdapt_psycopg_connection
from sqlalchemy.dialects.sqlite.aiosqlite import AsyncAdapt_aiosqlite_connection

from reconciler.sides.memory import MemorySide
from reconciler.store import bulk, repo_pairs
from reconciler.store.db import Store
from reconciler.store.migrate import upgrade
from reconciler.store.schema import AccountKind
from reconciler.store.tables import PairRow
from reconciler.sync import batches
from reconciler.sync.run import RunReport, SidePair, reconcile

SCENARIOS = ("initial", "no-change", "changes", "full-scan")
RUN_SPACING = timedelta(minutes=5)
PROFILES = Path(__file__).parent / "profiles"
# Seconds spent in SQL statements and commits so far (``--sql``), read by ``--phases``.
SQL_SECONDS = [0.0]


class SteppingClock:
    """Time that moves ``step`` at every reading (contacts stamped a millisecond apart, as real
    ones are) and jumps when told."""

    def __init__(self) -> None:
        self.now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
        self.step = timedelta(0)

    def __call__(self) -> datetime:
        self.now += self.step
        return self.now


@dataclass
class Row:
    contacts: int
    scenario: str
    seconds: float
    status: str
    applied: dict[str, int]
    conflicts: int
    requests: dict[str, int]
    rss_mb: float


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def _rss_now_mb() -> float:
    """The resident set now (the peak is ``_rss_mb``): what a step leaves behind."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize() / 2**20


async def _pair(store: Store, clock: SteppingClock, notes_per_run: int) -> str:
    async with store.transaction() as s:
        a = await repo_pairs.create_side_account(
            s, label="A", kind=AccountKind.MEMORY, location_id="bench-a", now=clock()
        )
        b = await repo_pairs.create_side_account(
            s, label="B", kind=AccountKind.MEMORY, location_id="bench-b", now=clock()
        )
        pair = await repo_pairs.create_pair(
            s, name="bench", side_a_account_id=a.id, side_b_account_id=b.id, now=clock()
        )
        row = await s.get(PairRow, pair.id)
        assert row is not None
        # Every contact's notes may be read in one run: the initial run links them all.
        row.scan = {"notes_per_run": notes_per_run}
    return pair.id


def _change(a: MemorySide, b: MemorySide, count: int, rng: random.Random) -> None:
    """1% changed on each side, 0.5% changed on both, 0.5% deleted on B (see the docstring)."""
    ids_a = {c.email: c.id for c in a.user.contacts()}
    ids_b = {c.email: c.id for c in b.user.contacts()}
    shared = sorted(e for e in ids_a if e is not None and e in ids_b)
    rng.shuffle(shared)
    one, clash, gone = count // 100, count // 200, count // 200
    plan = {
        "a": shared[:one],
        "b": shared[one : 2 * one],
        "clash": shared[2 * one : 2 * one + clash],
        "gone": shared[2 * one + clash : 2 * one + clash + gone],
    }
    for label, side, ids in (("a", a, ids_a), ("b", b, ids_b)):
        for email in plan[label] + plan["clash"]:
            contact_id = ids[email]
            side.user.edit_contact(contact_id, first_name=f"Changed on {label}")
            side.user.add_tag(contact_id, f"touched-{label}")
            note = side.user.notes(contact_id)[0]
            side.user.edit_note(contact_id, note.id, f"{note.body} (edited on {label})")
    for email in plan["gone"]:
        b.user.delete_contact(ids_b[email])


class SqlTimes:
    """Wall time of each kind of SQL statement (``--sql``), per run."""

    def __init__(self, store: Store) -> None:
        self.by_statement: dict[str, list[float]] = {}  # -> [executions, seconds, rows]
        engine = store.engine.sync_engine
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)
        # Commits are no cursor execution: the driver connection's commit is timed instead.
        adapter: Any = (
            AsyncAdapt_aiosqlite_connection
            if store.dialect == "sqlite"
            else AsyncAdapt_psycopg_connection
        )
        commit = adapter.commit
        times = self

        def timed_commit(connection: Any) -> None:
            began = time.perf_counter()
            try:
                commit(connection)
            finally:
                took = time.perf_counter() - began
                entry = times.by_statement.setdefault("COMMIT", [0, 0.0, 0])
                entry[0] += 1
                entry[1] += took
                SQL_SECONDS[0] += took

        setattr(adapter, "commit", timed_commit)  # noqa: B010
        if store.dialect == "postgresql":
            # PostgreSQL's bulk writes go through the driver (INSERT ... FROM unnest with
            # binary arrays), not through SQLAlchemy's cursor events: time them as one
            # statement per table.
            bulk_write = bulk._postgres

            async def timed_bulk_write(
                conn: Any, table: Any, columns: Any, rows: Any, *args: Any
            ) -> None:
                began = time.perf_counter()
                try:
                    await bulk_write(conn, table, columns, rows, *args)
                finally:
                    took = time.perf_counter() - began
                    entry = times.by_statement.setdefault(f"BULK {table.name}", [0, 0.0, 0])
                    entry[0] += 1
                    entry[1] += took
                    entry[2] += len(rows)
                    SQL_SECONDS[0] += took

            setattr(bulk, "_postgres", timed_bulk_write)  # noqa: B010

    def _before(self, conn: Any, _cursor: Any, _sql: str, *_: Any) -> None:
        conn.info["bench_began"] = time.perf_counter()

    def _after(self, conn: Any, _cursor: Any, sql: str, params: Any, _ctx: Any, many: bool) -> None:
        key = re.sub(r"\?(, \?)+", "?..", re.sub(r"\s+", " ", sql))[:100]
        entry = self.by_statement.setdefault(key, [0, 0.0, 0])
        took = time.perf_counter() - conn.info.pop("bench_began", time.perf_counter())
        entry[0] += 1
        entry[1] += took
        entry[2] += len(params) if many else 1
        SQL_SECONDS[0] += took

    def report(self, top: int = 12) -> None:
        total = sum(e[1] for e in self.by_statement.values())
        print(f"   SQL {total:.2f} s in {len(self.by_statement)} kinds of statement", flush=True)
        ranked = sorted(self.by_statement.items(), key=lambda kv: -kv[1][1])
        for sql, (times, seconds, rows) in ranked[:top]:
            print(f"   {seconds:7.3f} s {times:6.0f}x {rows:8.0f} rows  {sql}", flush=True)
        self.by_statement.clear()


class PostgresDatabase:
    """A database of its own on the server at ``server_url``, for one N's runs."""

    def __init__(self, server_url: str) -> None:
        self.name = f"bench_engine_{os.getpid()}"
        server = make_url(server_url)
        # psycopg wants a libpq URI: the same URL without SQLAlchemy's "+psycopg" part.
        self._admin = server.set(drivername="postgresql").render_as_string(hide_password=False)
        self.url = server.set(database=self.name).render_as_string(hide_password=False)

    def _execute(self, statement: pg_sql.Composed) -> None:
        with psycopg.connect(self._admin, autocommit=True, connect_timeout=5) as conn:
            conn.execute(statement)

    def create(self) -> None:
        self.drop()
        self._execute(pg_sql.SQL("CREATE DATABASE {}").format(pg_sql.Identifier(self.name)))

    def drop(self) -> None:
        self._execute(
            pg_sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                pg_sql.Identifier(self.name)
            )
        )


async def _bench(
    count: int,
    scenarios: list[str],
    profile: list[str] | None,
    sql: bool,
    keep: bool,
    postgres: str | None,
) -> list[Row]:
    folder = Path(tempfile.mkdtemp(prefix="bench-engine-"))
    database = PostgresDatabase(postgres) if postgres else None
    if database is not None:
        database.create()
        url = database.url
    else:
        url = f"sqlite+aiosqlite:///{folder / 'store.db'}"
    await upgrade(url)
    store = Store(url)
    sql_times = SqlTimes(store) if sql else None
    clock = SteppingClock()
    pair_id = await _pair(store, clock, notes_per_run=count + count // 100)
    a = MemorySide("a", clock=clock, id_seed=1)
    b = MemorySide("b", clock=clock, id_seed=2)
    started = time.perf_counter()
    clock.step = timedelta(milliseconds=1)
    a.user.populate(count, seed=0)
    b.user.populate(count, seed=0)
    a.user.populate(count // 100, seed=1)  # A's extra people, to create on B
    clock.step = timedelta(0)
    gc.collect()
    # The sides' millions of objects are the harness, not the engine: without this every
    # collection of the runs below would scan them again (a service process freezes its own
    # start-up heap the same way: reconciler.api.app, at start-up).
    gc.freeze()
    print(
        f"N={count}: sides filled in {time.perf_counter() - started:.1f}s "
        f"({len(a.user)} + {len(b.user)} contacts), RSS {_rss_mb():.0f} MB",
        flush=True,
    )
    rows: list[Row] = []
    rng = random.Random(0)
    for scenario in scenarios:
        full_scan = scenario in ("initial", "full-scan")
        if scenario == "changes":
            clock.step = timedelta(milliseconds=1)
            _change(a, b, count, rng)
            clock.step = timedelta(0)
        clock.now += RUN_SPACING
        before = {
            n: a.usage().total_requests if n == "a" else b.usage().total_requests for n in "ab"
        }
        profiled = profile is not None and (not profile or scenario in profile)
        profiler = cProfile.Profile() if profiled else None
        began = time.perf_counter()
        if profiler is not None:
            profiler.enable()
        report: RunReport = await reconcile(
            store, pair_id, SidePair(a=a, b=b), clock=clock, full_scan=full_scan
        )
        if profiler is not None:
            profiler.disable()
        seconds = time.perf_counter() - began
        if profiler is not None:
            PROFILES.mkdir(exist_ok=True)
            target = PROFILES / f"engine-{count}-{scenario}.prof"
            profiler.dump_stats(target)
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
        rows.append(
            Row(
                contacts=count,
                scenario=scenario,
                seconds=seconds,
                status=report.status,
                applied={k: v for k, v in sorted(report.counts.items()) if v},
                conflicts=report.conflicts_opened,
                requests={
                    "a": a.usage().total_requests - before["a"],
                    "b": b.usage().total_requests - before["b"],
                },
                rss_mb=_rss_mb(),
            )
        )
        print(json.dumps(rows[-1].__dict__), flush=True)
        if sql_times is not None:
            sql_times.report()
        if report.errors:
            print(f"  errors: {list(report.errors)[:5]}", flush=True)
    await store.dispose()
    if keep:
        where = f"database {database.name}" if database is not None else str(folder)
        print(f"N={count}: store kept in {where}", flush=True)
    else:
        shutil.rmtree(folder)  # a 100,000 run's store is ~250 MB
        if database is not None:
            database.drop()
    return rows


def _time_phases() -> None:
    """Wrap the steps ``run.py`` calls so that each prints its wall time (``--phases``)."""
    from reconciler.sync import run as run_module

    def report(name: str, began: float, sql_began: float) -> None:
        took = time.perf_counter() - began
        sql = f"   SQL {SQL_SECONDS[0] - sql_began:5.2f} s" if SQL_SECONDS[0] else ""
        print(
            f"   {name:<18} {took:7.2f} s   peak RSS {_rss_mb():5.0f} MB"
            f"   now {_rss_now_mb():5.0f} MB{sql}",
            flush=True,
        )

    def timed_async(name: str, fn: Callable[..., Awaitable[object]]) -> Callable[..., object]:
        @functools.wraps(fn)
        async def wrapper(*args: object, **kwargs: object) -> object:
            began, sql_began = time.perf_counter(), SQL_SECONDS[0]
            try:
                return await fn(*args, **kwargs)
            finally:
                report(name, began, sql_began)

        return wrapper

    def timed(name: str, fn: Callable[..., object]) -> Callable[..., object]:
        @functools.wraps(fn)
        def wrapper(*args: object, **kwargs: object) -> object:
            began, sql_began = time.perf_counter(), SQL_SECONDS[0]
            try:
                return fn(*args, **kwargs)
            finally:
                report(name, began, sql_began)

        return wrapper

    # Names run.py imported (it calls them through its own module namespace).
    for name in (
        "snapshot_contacts",
        "recover",
        "collect_work",
        "read_notes",
        "load_pool",
        "build_views",
        "load_parked",
    ):
        setattr(run_module, name, timed_async(name, getattr(run_module, name)))
    setattr(run_module, "finish", timed_async("finish", getattr(run_module, "finish")))  # noqa: B009, B010
    setattr(run_module, "build_plan", timed("build_plan", getattr(run_module, "build_plan")))  # noqa: B009, B010
    apply_step = getattr(run_module, "Executor")  # noqa: B009
    setattr(apply_step, "run", timed_async("apply", apply_step.run))  # noqa: B010
    steps = run_module._Run
    setattr(steps, "_select_notes", timed_async("select_notes", steps._select_notes))  # noqa: B010


def _child(
    count: int,
    scenarios: list[str],
    options: argparse.Namespace,
    out: multiprocessing.Queue[list[Row]],
) -> None:
    if options.phases:
        _time_phases()
    if options.pool_batch is not None:
        batches.POOL_BATCH = options.pool_batch
    out.put(
        asyncio.run(
            _bench(count, scenarios, options.profile, options.sql, options.keep, options.postgres)
        )
    )


def _table(rows: list[Row]) -> str:
    lines = [
        "| N | scenario | wall s | peak RSS MB | applied | conflicts | requests A / B |",
        "|---:|---|---:|---:|---|---:|---|",
    ]
    for r in rows:
        applied = ", ".join(f"{k} {v}" for k, v in r.applied.items()) or "nothing"
        lines.append(
            f"| {r.contacts:,} | {r.scenario} | {r.seconds:.2f} | {r.rss_mb:.0f} | {applied} | "
            f"{r.conflicts} | {r.requests['a']:,} / {r.requests['b']:,} |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contacts", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--scenarios", nargs="+", choices=SCENARIOS, default=list(SCENARIOS))
    parser.add_argument(
        "--profile",
        nargs="*",
        choices=SCENARIOS,
        help="cProfile these runs (every run when none is named)",
    )
    parser.add_argument("--phases", action="store_true", help="time each step of each run")
    parser.add_argument("--sql", action="store_true", help="time each run's SQL statements")
    parser.add_argument(
        "--keep", action="store_true", help="keep the store file (to look at query plans)"
    )
    parser.add_argument(
        "--postgres",
        metavar="URL",
        help="run the store on this PostgreSQL server (a database of its own per N)",
    )
    parser.add_argument(
        "--pool-batch", type=int, help="unlinked contacts per batch (batches.POOL_BATCH)"
    )
    args = parser.parse_args()
    scenarios = [s for s in SCENARIOS if s in args.scenarios]  # always in their order
    rows: list[Row] = []
    context = multiprocessing.get_context("spawn")
    for count in args.contacts:
        queue: multiprocessing.Queue[list[Row]] = context.Queue()
        child = context.Process(target=_child, args=(count, scenarios, args, queue))
        child.start()
        rows.extend(queue.get())
        child.join()
        if child.exitcode != 0:
            print(f"N={count}: the child process failed ({child.exitcode})", file=sys.stderr)
            return 1
    print(_table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
