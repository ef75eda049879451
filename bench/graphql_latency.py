"""GraphQL latency: the console's conflicts page (50 conflicts with details) under load.

Builds a SQLite store with 100,000 contact links (both sides' snapshots and bases) and 10,000
open conflicts (bulk inserted), serves the API with uvicorn in a child process, and drives it
over loopback with N concurrent httpx clients for a bounded duration. Prints p50, p99 and
requests/s per concurrency level as a table.

    .venv/bin/python bench/graphql_latency.py                 # defaults below
    .venv/bin/python bench/graphql_latency.py --links 20000 --conflicts 2000 --duration 5

The request is graphql/operations/inbox.graphql (first: 50), the page the console opens, with
a pair filter (``--all-pairs`` drops it). Loopback only; every loop is bounded in time.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import multiprocessing
import os
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from reconciler.api.ids import encode_id  # noqa: E402
from reconciler.service import keys  # noqa: E402
from reconciler.store.db import Store  # noqa: E402
from reconciler.store.migrate import upgrade  # noqa: E402
from reconciler.store.schema import ApiKeyRole, table_of  # noqa: E402
from reconciler.store.tables import (  # noqa: E402
    ConflictRow,
    ContactLinkRow,
    LinkBaseRow,
    PairRow,
    SideAccountRow,
    SnapshotContactRow,
)
from reconciler.store.types import new_id  # noqa: E402

INBOX = (ROOT / "graphql" / "operations" / "inbox.graphql").read_text(encoding="utf-8")
NOW = datetime(2025, 3, 1, 12, tzinfo=UTC)
BATCH = 5000
URL_VAR = "RECONCILER_BENCH_DATABASE_URL"


def _fields(i: int, side: str) -> dict[str, Any]:
    return {
        "first_name": f"First{i}",
        "last_name": f"Last{i}",
        "email": f"person{i}@{side}.example.com",
        "phone": f"+1555{i:07d}",
    }


async def build(url: str, links: int, conflicts: int) -> tuple[str, str]:
    """Bulk-load the store; (pair id, admin API key)."""
    await upgrade(url)
    store = Store(url)
    pair_id = new_id()
    try:
        async with store.connection() as c:
            accounts = [new_id(), new_id()]
            await c.execute(
                table_of(SideAccountRow).insert(),
                [
                    {
                        "id": accounts[k],
                        "label": f"side {k}",
                        "kind": "memory",
                        "location_id": f"loc-{k}",
                        "created_at": NOW,
                        "updated_at": NOW,
                    }
                    for k in range(2)
                ],
            )
            await c.execute(
                table_of(PairRow).insert(),
                [
                    {
                        "id": pair_id,
                        "name": "bench",
                        "side_a_account_id": accounts[0],
                        "side_b_account_id": accounts[1],
                        "policy": {},
                        "schedule_interval_s": 900,
                        "enabled": True,
                        "created_at": NOW,
                        "updated_at": NOW,
                    }
                ],
            )
            link_ids = [new_id() for _ in range(links)]
            for start in range(0, links, BATCH):
                chunk = range(start, min(start + BATCH, links))
                await c.execute(
                    table_of(ContactLinkRow).insert(),
                    [
                        {
                            "id": link_ids[i],
                            "pair_id": pair_id,
                            "a_id": f"a{i}",
                            "b_id": f"b{i}",
                            "status": "active",
                            "excluded": False,
                            "created_at": NOW + timedelta(microseconds=i),
                            "updated_at": NOW,
                        }
                        for i in chunk
                    ],
                )
                for side in ("a", "b"):
                    await c.execute(
                        table_of(SnapshotContactRow).insert(),
                        [
                            {
                                "pair_id": pair_id,
                                "side": side,
                                "contact_id": f"{side}{i}",
                                "fields": _fields(i, side),
                                "tags": {"lead": "Lead", f"t{i % 50}": f"T{i % 50}"},
                                "hash": f"h{side}{i}",
                                "seen_at": NOW,
                                "dirty": False,
                            }
                            for i in chunk
                        ],
                    )
                await c.execute(
                    table_of(LinkBaseRow).insert(),
                    [
                        {
                            "link_id": link_ids[i],
                            "fields": _fields(i, "base"),
                            "tags": {"lead": "Lead"},
                            "updated_at": NOW,
                        }
                        for i in chunk
                    ],
                )
            step = max(1, links // conflicts)
            for start in range(0, conflicts, BATCH):
                chunk = range(start, min(start + BATCH, conflicts))
                await c.execute(
                    table_of(ConflictRow).insert(),
                    [
                        {
                            "id": new_id(),
                            "pair_id": pair_id,
                            "link_id": link_ids[i * step],
                            "link_key": link_ids[i * step],
                            "kind": "field",
                            "scope": "email",
                            "status": "open",
                            "base_value": f"person{i}@base.example.com",
                            "a_value": f"person{i}@a.example.com",
                            "b_value": f"person{i}@b.example.com",
                            "reason": {
                                "rule": "field.changed_both_differently",
                                "policy": "field_conflict=manual",
                                "compared": {"base": "x", "a": "y", "b": "z"},
                            },
                            "detected_at": NOW + timedelta(seconds=i),
                            "updated_at": NOW,
                        }
                        for i in chunk
                    ],
                )
            await c.commit()
        _row, key = await keys.create_key(store, name="bench", role=ApiKeyRole.VIEWER)
    finally:
        await store.dispose()
    return pair_id, key


def app_from_env() -> Any:
    """The app each server worker builds (uvicorn's factory), on the store named in the env."""
    from reconciler.api.app import create_app

    return create_app(Store(os.environ[URL_VAR]), graphiql=False, own_store=True)


def serve(url: str, port: int, workers: int) -> None:
    """The server process: uvicorn with ``workers`` processes, until terminated."""
    import uvicorn

    os.environ[URL_VAR] = url
    uvicorn.run(
        "graphql_latency:app_from_env",
        factory=True,
        app_dir=str(Path(__file__).parent),
        host="127.0.0.1",
        port=port,
        workers=workers,
        log_level="warning",
        access_log=False,
    )


async def wait_ready(base: str, deadline: float) -> None:
    async with httpx.AsyncClient(base_url=base) as client:
        while time.monotonic() < deadline:
            try:
                if (await client.get("/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError("the server did not start")


async def load(
    base: str, key: str, body: dict[str, Any], concurrency: int, duration: float
) -> tuple[list[float], int]:
    latencies: list[float] = []
    errors = 0
    stop = time.monotonic() + duration
    headers = {"authorization": f"Bearer {key}", "content-type": "application/json"}
    payload = json.dumps(body)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async with httpx.AsyncClient(
        base_url=base, headers=headers, limits=limits, timeout=30
    ) as client:

        async def worker() -> None:
            nonlocal errors
            while time.monotonic() < stop:
                started = time.perf_counter()
                response = await client.post("/graphql", content=payload)
                elapsed = time.perf_counter() - started
                data = response.json()
                if response.status_code != 200 or "errors" in data:
                    errors += 1
                    continue
                assert len(data["data"]["conflicts"]["edges"]) == 50
                latencies.append(elapsed)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, errors


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--links", type=int, default=100_000)
    parser.add_argument("--conflicts", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 8])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per level")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument("--all-pairs", action="store_true", help="no pair filter")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        started = time.monotonic()
        pair_id, key = await build(url, args.links, args.conflicts)
        print(
            f"loaded {args.links:,} links and {args.conflicts:,} open conflicts "
            f"in {time.monotonic() - started:.1f} s"
        )
        variables: dict[str, Any] = {"first": 50}
        if not args.all_pairs:
            variables["pairId"] = encode_id("Pair", pair_id)
        body = {"query": INBOX, "variables": variables, "operationName": "Inbox"}
        server = multiprocessing.get_context("spawn").Process(
            target=serve, args=(url, args.port, args.workers)
        )
        server.start()
        try:
            base = f"http://127.0.0.1:{args.port}"
            await wait_ready(base, time.monotonic() + 30)
            await load(base, key, body, 1, 1.0)  # warm-up
            gc.collect()
            gc.freeze()  # the load generator's own collections must not count as latency
            print(f"\nserver: uvicorn, {args.workers} worker(s); request: Inbox, first 50\n")
            print("| concurrency | requests | errors | p50 ms | p99 ms | requests/s |")
            print("|---:|---:|---:|---:|---:|---:|")
            for level in args.concurrency:
                latencies, errors = await load(base, key, body, level, args.duration)
                print(
                    f"| {level} | {len(latencies)} | {errors} "
                    f"| {percentile(latencies, 0.50) * 1000:.1f} "
                    f"| {percentile(latencies, 0.99) * 1000:.1f} "
                    f"| {len(latencies) / args.duration:.1f} |"
                )
        finally:
            server.terminate()
            server.join(timeout=10)


if __name__ == "__main__":
    asyncio.run(main())
