"""Benchmark: list every contact of a HighLevel location, and every contact's notes.

The sandbox runs in a child process (its own core, its own memory) and serves over loopback
HTTP with HighLevel's rate-limit *ratio* on a shortened window (default 100 requests per
1,000 ms instead of per 10,000 ms, so the run takes minutes, not a quarter of an hour). The
client is the production ``HighLevelSide``: one ``POST /contacts/search`` per 500 contacts,
one ``GET /contacts/{id}/notes`` per contact, paced by its ``RateBudget``.

    .venv/bin/python bench/highlevel_listing.py --contacts 10000 --window-ms 1000 --max 100

Prints a table: requests per contact, achieved request rate as a share of the permitted
rate, 429s seen, wall time, peak memory of the client (peak RSS; ``--trace-heap`` adds the
Python heap peak from tracemalloc, at the cost of a much slower client).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import resource
import sys
import time
import tracemalloc
from dataclasses import dataclass
from multiprocessing.connection import Connection

import httpx

from reconciler.sides.highlevel import HighLevelSide, ListingPolicy, PrivateToken, RateBudget

SEED = 7


@dataclass(frozen=True)
class Served:
    base_url: str
    location_id: str
    token: str
    contacts: int
    notes: int


def _serve(conn: Connection, contacts: int, max_requests: int, window_ms: int) -> None:
    """Child process: a seeded sandbox over loopback until the parent says stop.

    It runs on uvloop: on asyncio's default loop the accepted sockets come without
    TCP_NODELAY, so every response body trails its headers by ~40 ms (Nagle against the
    client's delayed ACK), a stall no production server has and that would be billed to the
    client's pacing.
    """
    import uvloop

    from reconciler.sandbox.app import create_app
    from reconciler.sandbox.config import SandboxConfig
    from reconciler.sandbox.server import running_server

    async def main() -> None:
        app = create_app(
            SandboxConfig(
                seed=SEED,
                contacts_per_location=contacts,
                max_notes_per_contact=3,
                rate_limit_max=max_requests,
                rate_limit_interval_seconds=window_ms / 1000,
                rate_limit_daily=10_000_000,
            )
        )
        sandbox = app.state.sandbox
        location = sandbox.locations[0]
        seeded = sandbox.contacts(location)
        notes = sum(len(sandbox.notes(location, c["id"])) for c in seeded)
        async with running_server(app) as base_url:
            token = sandbox.private_token(location)
            conn.send(Served(base_url, location, token, len(seeded), notes))
            await asyncio.get_running_loop().run_in_executor(None, conn.recv)
        await sandbox.aclose()

    uvloop.run(main())


@dataclass
class Result:
    contacts: int
    notes: int
    note_errors: int
    incomplete_pages: int
    requests: int
    rate_limited: int
    retries: int
    wall: float
    heap_peak: int


async def _run(served: Served, concurrency: int, trace_heap: bool) -> Result:
    limits = httpx.Limits(max_connections=concurrency + 2, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30.0) as http:
        side = HighLevelSide(
            http,
            location_id=served.location_id,
            credentials=PrivateToken(served.token),
            base_url=served.base_url,
            budget=RateBudget(daily_reserve=0),
            listing=ListingPolicy(notes_concurrency=concurrency),
        )
        if trace_heap:
            tracemalloc.start()
        started = time.monotonic()
        ids: list[str] = []
        incomplete = 0
        async for page in side.stream_contacts():
            ids.extend(c.id for c in page.contacts)
            incomplete += not page.complete
        notes = errors = 0
        async for item in side.list_notes(ids):
            if item.error is not None:
                errors += 1
            else:
                notes += len(item.notes or ())
        wall = time.monotonic() - started
        heap_peak = tracemalloc.get_traced_memory()[1] if trace_heap else 0
        tracemalloc.stop()
    usage = side.usage()
    return Result(
        contacts=len(ids),
        notes=notes,
        note_errors=errors,
        incomplete_pages=incomplete,
        requests=usage.total_requests,
        rate_limited=usage.rate_limited,
        retries=usage.retries,
        wall=wall,
        heap_peak=heap_peak,
    )


def _table(args: argparse.Namespace, served: Served, result: Result) -> str:
    permitted = args.max / (args.window_ms / 1000)
    achieved = result.requests / result.wall
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
    rows = [
        ("contacts listed", f"{result.contacts:,} (sandbox holds {served.contacts:,})"),
        ("notes read", f"{result.notes:,} (sandbox holds {served.notes:,})"),
        ("incomplete pages / note errors", f"{result.incomplete_pages} / {result.note_errors}"),
        ("requests", f"{result.requests:,}"),
        ("requests per contact", f"{result.requests / max(1, result.contacts):.4f}"),
        ("permitted rate", f"{permitted:.1f} req/s ({args.max} per {args.window_ms} ms)"),
        (
            "achieved rate",
            f"{achieved:.1f} req/s = {100 * achieved / permitted:.1f} % of permitted",
        ),
        ("429s seen", f"{result.rate_limited}"),
        ("retries", f"{result.retries}"),
        ("wall time", f"{result.wall:.1f} s"),
        ("peak memory, client process RSS", f"{rss_mb:.0f} MB"),
    ]
    if args.trace_heap:
        rows.append(("peak memory, client heap (tracemalloc)", f"{result.heap_peak / 1e6:.1f} MB"))
    width = max(len(name) for name, _ in rows)
    lines = [
        f"HighLevel listing: {args.contacts:,} contacts with their notes, sandbox over loopback, "
        f"window shortened to {args.max} requests / {args.window_ms} ms "
        f"(HighLevel: 100 / 10,000 ms), notes concurrency {args.concurrency}",
        "",
        f"| {'metric'.ljust(width)} | value |",
        f"|{'-' * (width + 2)}|-------|",
    ]
    lines += [f"| {name.ljust(width)} | {value} |" for name, value in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contacts", type=int, default=10_000)
    parser.add_argument("--window-ms", type=int, default=1_000)
    parser.add_argument("--max", type=int, default=100, help="requests per window")
    parser.add_argument("--concurrency", type=int, default=8, help="notes requests in flight")
    parser.add_argument(
        "--trace-heap",
        action="store_true",
        help="also measure the Python heap peak (tracemalloc slows the client several-fold, "
        "which lowers the achieved rate: use it for memory, not for rate)",
    )
    args = parser.parse_args(argv)

    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    server = context.Process(
        target=_serve, args=(child, args.contacts, args.max, args.window_ms), daemon=True
    )
    server.start()
    try:
        served: Served = parent.recv()
        result = asyncio.run(_run(served, args.concurrency, args.trace_heap))
    finally:
        parent.send("stop")
        server.join(timeout=30)
    print(_table(args, served, result))
    complete = result.contacts == served.contacts and result.notes == served.notes
    return 0 if complete and result.note_errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
