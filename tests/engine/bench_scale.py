"""The engine at scale: two memory sides of N contacts (5 tags, 3 notes each) over a store.

    .venv/bin/python -m tests.engine.bench_scale 100000 [same|one-sided] [DATABASE_URL]

``same``: both sides hold the same people (every contact is matched and linked); ``one-sided``:
only side A has them (every contact is created on B). Prints each run's status, counts,
requests and seconds: the first run, then runs with no change (the rolling note scan only).
Not collected by pytest (the name does not start with ``test_``).
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from datetime import timedelta

from reconciler.store.db import Store
from reconciler.store.migrate import upgrade
from tests.engine.conftest import make_env


async def main(count: int, same: bool, url: str | None) -> None:
    url = url or f"sqlite+aiosqlite:///{tempfile.mkdtemp()}/bench.db"
    await upgrade(url)
    store = Store(url)
    env = await make_env(store, notes_period_s=86_400)
    # Stamp the generated contacts a millisecond apart, as real ones would be (a frozen
    # clock gives them all one stamp, which an inclusive watermark lists again every run).
    started = time.perf_counter()
    env.clock.step = timedelta(milliseconds=1)
    env.a.user.populate(count, seed=0)
    if same:
        env.b.user.populate(count, seed=0)
    env.clock.step = timedelta(0)
    print(f"populate {time.perf_counter() - started:.1f}s", flush=True)
    for n in range(3):
        started = time.perf_counter()
        report = await env.run(advance_s=300)
        print(
            f"run {n}: {report.status} {dict(report.counts)} requests={dict(report.requests)} "
            f"conflicts={report.conflicts_opened} {time.perf_counter() - started:.1f}s",
            flush=True,
        )
    await store.dispose()


if __name__ == "__main__":
    asyncio.run(
        main(
            int(sys.argv[1]) if len(sys.argv) > 1 else 10_000,
            (sys.argv[2] if len(sys.argv) > 2 else "same") == "same",
            sys.argv[3] if len(sys.argv) > 3 else None,
        )
    )
