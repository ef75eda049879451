"""The demo: every kind of conflict appears; a note made on side A reaches side B within
5 seconds through the webhook path, and within one interval when webhooks are dropped; the
command prints what a new user needs and stops cleanly on Ctrl-C."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from reconciler.service.demo import Demo, DemoOptions, _short, running_demo
from reconciler.service.demo_data import JUST_SYNCS
from reconciler.store import repo_conflicts, repo_runs
from reconciler.store.types import new_id
from reconciler.sync.model import ConflictKind
from tests.service.memory import eventually

REPO = Path(__file__).resolve().parents[2]
INTERVAL = 6


async def open_kinds(demo: Demo) -> set[str]:
    async with demo.service.store.session() as s:
        rows = await repo_conflicts.list_conflicts(s, pair_id=demo.pair_id, limit=100)
    return {row.kind for row in rows if row.status == "open"}


async def has_every_kind(demo: Demo) -> bool:
    return {kind.value for kind in ConflictKind} <= await open_kinds(demo)


async def quiet(demo: Demo) -> bool:
    """No run going or waiting (the echoes of the demo's own writes have been handled)."""
    scheduler = demo.service.scheduler
    assert scheduler is not None
    return demo.service.runner.running == 0 and scheduler.pending_webhook_run(demo.pair_id) is None


def notes_on_b(demo: Demo) -> list[str]:
    b = demo.sandbox.location(demo.location_b)
    contact = b.find_by_email(JUST_SYNCS.email)
    assert contact is not None
    return [note.body for note in b.list_notes(contact.id)]


async def test_the_demo_makes_every_conflict_and_syncs_notes_fast(tmp_path: Path) -> None:
    options = DemoOptions(
        data_dir=tmp_path, port=0, sandbox_port=0, interval_s=INTERVAL, contacts=6, debounce_s=0.5
    )
    lines: list[str] = []
    async with running_demo(options, echo=lines.append) as demo:
        await eventually(lambda: has_every_kind(demo), within=60)
        assert any("people edit both sides" in line for line in lines)

        a = demo.sandbox.location(demo.location_a)
        ingrid = a.find_by_email(JUST_SYNCS.email)
        assert ingrid is not None

        # The webhook path: HighLevel tells the service, which runs the pair in seconds.
        await _stays_quiet(demo)
        started = time.monotonic()
        a.create_note(ingrid.id, {"body": "Webhook path: she signed the annual plan."})
        await eventually(
            lambda: "Webhook path: she signed the annual plan." in notes_on_b(demo), within=5
        )
        assert time.monotonic() - started <= 5

        # Webhooks lost: the schedule finds the note within one interval.
        demo.sandbox.set_faults(demo.location_a, drop_webhook=1.0)
        await _stays_quiet(demo)
        started = time.monotonic()
        a.create_note(ingrid.id, {"body": "No webhook: asked for the invoice by post."})
        await eventually(
            lambda: "No webhook: asked for the invoice by post." in notes_on_b(demo),
            within=INTERVAL + 10,
        )
        elapsed = time.monotonic() - started
        # One interval, plus the jitter (a tenth of it) and the run's own time.
        assert elapsed <= INTERVAL * 1.1 + 2.5, elapsed
        async with demo.service.store.session() as s:
            (latest, *_) = await repo_runs.list_runs(s, demo.pair_id, limit=1)
        assert latest.trigger == "schedule"
        dropped = [d for d in demo.sandbox.webhooks.deliveries if d.outcome == "dropped"]
        assert dropped, "the sandbox dropped the NoteCreate webhook"


async def _stays_quiet(demo: Demo) -> None:
    """Quiet for a second in a row (polled: runs and webhooks come from other tasks)."""
    quiet_since: float | None = None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if not await quiet(demo):
            quiet_since = None
        elif quiet_since is None:
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since >= 1.0:
            return
        await asyncio.sleep(0.1)
    raise AssertionError("the demo never went quiet")


def test_the_demo_command_prints_what_a_user_needs_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("RECONCILER_")}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "reconciler.cli",
            "demo",
            "--port",
            "0",
            "--sandbox-port",
            "0",
            "--data-dir",
            str(tmp_path / "demo"),
            "--interval",
            "5",
            "--contacts",
            "3",
        ],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**clean, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stdout is not None
        output: list[str] = []
        for line in proc.stdout:
            output.append(line)
            if "(schedule) succeeded" in line:  # the first run is done
                break
        text = "".join(output)
        assert "GraphQL   http://127.0.0.1:" in text
        assert "/console" in text
        assert "operator key  rk_" in text
        assert "admin key     rk_" in text
        assert "Press Ctrl-C to stop." in text
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    assert "demo stopped" in out


def test_run_lines_tell_runs_made_close_together_apart() -> None:
    # Ids lead with the time (UUIDv7): their first characters are shared by runs made in the
    # same minute, so a line shows the random end.
    ids = [new_id() for _ in range(100)]
    assert len({_short(run_id) for run_id in ids}) == len(ids)
    assert all(run_id.endswith(_short(run_id)) for run_id in ids)
