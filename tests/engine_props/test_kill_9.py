"""Invariant 7 with a real kill -9: a process reconciling two sandbox locations through the
HighLevel connector (loopback HTTP to the sandbox served by this test process, a SQLite store
file) sends itself SIGKILL at a journal step; this process then runs the pair to completion
and must find what an uninterrupted run leaves: the same contacts, tags and notes on both
locations, no duplicate, nothing pending in the journal, and a last run that writes nothing.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from reconciler.sandbox.server import running_server
from reconciler.sandbox.state import Sandbox
from reconciler.store import repo_journal
from reconciler.store.db import Store
from reconciler.sync.run import reconcile
from tests.e2e.sandbox_pair import (
    Locations,
    Person,
    duplicates,
    highlevel_sides,
    location_state,
    new_sandbox,
    register_pair,
    seed,
)
from tests.engine.conftest import writes
from tests.engine_props.crashes import Steps

REPO = Path(__file__).resolve().parents[2]

ON_A = [
    Person("Ann", email="ann@example.com", tags=["vip"], notes=["called Ann", "quote sent"]),
    Person("Bob", phone="+15550100", tags=["lead"], notes=["met Bob"]),
    Person("Dee", email="dee@example.com", tags=["hot"], notes=["Dee wants a demo"]),
]
ON_B = [
    Person("Cy", email="cy@example.com", notes=["Cy at the fair", "Cy's budget"]),
    Person("Dee", email="dee@example.com", tags=["lead"], notes=["Dee wants a demo", "Dee: Q3"]),
    Person("Eve", email="eve@example.com", tags=["cold"]),
]


@dataclass
class World:
    sandbox: Sandbox
    locations: Locations
    base_url: str
    store: Store
    store_url: str
    pair_id: str

    def state(self) -> tuple[dict[str, Any], dict[str, Any]]:
        return (
            location_state(self.sandbox, self.locations.a),
            location_state(self.sandbox, self.locations.b),
        )


@asynccontextmanager
async def world(tmp_path: Path, template: Path, name: str) -> AsyncIterator[World]:
    app, sandbox, locations = new_sandbox()
    seed(sandbox, locations.a, ON_A)
    seed(sandbox, locations.b, ON_B)
    path = tmp_path / f"{name}.db"
    shutil.copyfile(template, path)
    url = f"sqlite+aiosqlite:///{path}"
    store = Store(url)
    try:
        pair_id = await register_pair(store, locations)
        async with running_server(app) as base_url:
            yield World(sandbox, locations, base_url, store, url, pair_id)
    finally:
        await store.dispose()


async def finish(w: World) -> None:
    """Runs until one has nothing to do; that one must write nothing."""
    for _ in range(4):
        async with highlevel_sides(w.base_url, w.locations) as sides:
            report = await reconcile(w.store, w.pair_id, sides, full_scan=True)
            written = writes(sides.a) + writes(sides.b)
        assert report.status == "succeeded", report.errors
        if not report.counts:
            assert written == 0
            return
    raise AssertionError("not finished after 4 runs")


async def kill_at(w: World, step: int) -> int:
    """Run the pair in a child process that SIGKILLs itself at ``step``; its exit code."""
    env = {
        **os.environ,
        "KILL_STORE_URL": w.store_url,
        "KILL_PAIR_ID": w.pair_id,
        "KILL_BASE_URL": w.base_url,
        "KILL_LOCATIONS": f"{w.locations.a},{w.locations.b}",
        "KILL_TOKENS": f"{w.locations.tokens['a']},{w.locations.tokens['b']}",
        "KILL_AT_STEP": str(step),
    }
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.engine_props.kill_child", cwd=REPO, env=env
    )
    return await asyncio.wait_for(child.wait(), timeout=60)


@pytest.mark.parametrize("at", ["write_returned", "result_committed"])
async def test_kill_9_mid_run_ends_like_no_kill(
    tmp_path: Path, sqlite_template: Path, at: str
) -> None:
    async with world(tmp_path, sqlite_template, "reference") as w:
        steps = Steps()
        async with highlevel_sides(w.base_url, w.locations) as sides:
            report = await reconcile(w.store, w.pair_id, sides, hooks=steps, full_scan=True)
        assert report.status == "succeeded", report.errors
        await finish(w)
        expected = w.state()
    # The middle occurrence: some writes done and recorded, others not even started.
    positions = [i for i, name in enumerate(steps.names) if name == at]
    step = positions[len(positions) // 2]

    async with world(tmp_path, sqlite_template, "killed") as w:
        before = w.state()
        assert await kill_at(w, step) == -signal.SIGKILL
        assert before != w.state() != expected, "the kill was not in the middle of the run"
        await finish(w)
        assert w.state() == expected
        assert not duplicates(w.sandbox, w.locations.a) + duplicates(w.sandbox, w.locations.b)
        async with w.store.session() as s:
            assert not await repo_journal.pending(s, w.pair_id)
