"""The command line: bad settings stop start-up with one line naming the setting (run as real
subprocesses: exit code, stderr, no traceback); pairs and conflicts commands on a store."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from reconciler.cli import app

REPO = Path(__file__).resolve().parents[2]


def start_serve(env: dict[str, str], cwd: Path) -> subprocess.Popen[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("RECONCILER_")}
    return subprocess.Popen(
        [sys.executable, "-m", "reconciler.cli", "serve"],
        cwd=cwd,
        env={**clean, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def one_line_error(proc: subprocess.Popen[str]) -> tuple[int, str]:
    """(exit code, the one stderr line) of a finished ``serve``; no traceback allowed."""
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode != 0
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return proc.returncode, lines[0]


def test_bad_settings_stop_serve_with_one_line_naming_them(tmp_path: Path) -> None:
    config = tmp_path / "reconciler.toml"
    config.write_text('colour = "blue"\n')
    cases = {
        # variable: (value, what the one line must say)
        "RECONCILER_PORT": ("eighty", "invalid setting RECONCILER_PORT:"),
        "RECONCILER_WEBHOOK_ED25519_PUBLIC_KEY": (
            "not a key",
            "invalid setting RECONCILER_WEBHOOK_ED25519_PUBLIC_KEY: is neither PEM",
        ),
        # Above the maximum: a check across two settings still names one.
        "RECONCILER_SCHEDULE_MIN_INTERVAL_S": (
            "1000",
            "invalid setting RECONCILER_SCHEDULE_MIN_INTERVAL_S:",
        ),
        "RECONCILER_CONFIG": (str(config), "invalid setting RECONCILER_COLOUR: unknown setting"),
        "RECONCILER_DATABASE_URL": (
            "postgresql://nobody@127.0.0.1:1/none",
            "cannot reach the database",
        ),
    }
    # Real processes, started together (each pays the interpreter's start-up).
    running = {
        variable: start_serve(
            {"RECONCILER_DATA_DIR": str(tmp_path), "RECONCILER_PORT": "0", variable: value},
            tmp_path,
        )
        for variable, (value, _expected) in cases.items()
    }
    for variable, proc in running.items():
        code, line = one_line_error(proc)
        assert line.startswith("error: "), line
        assert cases[variable][1] in line, line
        # Settings are the operator's mistake (2); an unreachable database is not (1).
        assert code == (1 if variable == "RECONCILER_DATABASE_URL" else 2), (variable, code)


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Result]:
    """The ``reconciler`` command in this process (typer's runner), on a store in tmp_path."""
    for name in list(os.environ):
        if name.startswith("RECONCILER_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("RECONCILER_DATA_DIR", str(tmp_path))
    runner = CliRunner()

    def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
        return runner.invoke(app, list(args), env=env)

    return invoke


def test_pairs_and_conflicts_commands(cli: Callable[..., Result]) -> None:
    empty = cli("pairs", "list")
    assert empty.exit_code == 0, empty.output
    assert "no pairs yet" in empty.output

    added = cli(
        "pairs",
        "add",
        "main",
        "--a",
        "highlevel:locA",
        "--b",
        "highlevel:locB",
        "--interval",
        "5m",
        "--policy",
        "note_conflict=merge",
        env={"RECONCILER_A_TOKEN": "pit-1234-secret"},
    )
    assert added.exit_code == 0, added.output
    assert "added pair main" in added.output
    assert "every 300s" in added.output
    assert "side b: no token; install it:" in added.output  # A has a token, B needs OAuth
    assert "side a:" not in added.output
    assert "pit-1234-secret" not in added.output

    listed = cli("pairs", "list")
    assert (
        "main  highlevel:locA <-> highlevel:locB  every 300s  enabled  never run" in listed.output
    )

    assert (
        "exists already"
        in cli("pairs", "add", "main", "--a", "highlevel:x", "--b", "highlevel:y").output
    )
    bad = [
        (["--interval", "2h"], "interval must be within"),
        (["--interval", "soon"], "give seconds"),
        (["--policy", "note_conflict=sometimes"], "must be one of"),
        (["--policy", "colour=blue"], "unknown policy setting"),
        (["--a", "salesforce:x"], "highlevel:<location id>"),
        (["--b", "highlevel:x"], "two different accounts"),
    ]
    for extra, message in bad:
        result = cli("pairs", "add", "other", "--a", "highlevel:x", "--b", "highlevel:y", *extra)
        assert result.exit_code == 2, (extra, result.output)
        assert message in result.output, (extra, result.output)
    assert "other" not in cli("pairs", "list").output

    conflicts = cli("conflicts", "list", "--pair", "main")
    assert conflicts.exit_code == 0, conflicts.output
    assert "no open conflicts" in conflicts.output
    unknown = cli("conflicts", "list", "--pair", "nope")
    assert unknown.exit_code == 2
    assert "no pair with id or name 'nope'" in unknown.output
    assert cli("conflicts", "list", "--status", "maybe").exit_code == 2


def test_sync_runs_a_pair_now_and_prints_its_report(cli: Callable[..., Result]) -> None:
    assert cli("pairs", "add", "mem", "--a", "memory:one", "--b", "memory:two").exit_code == 0
    planned = cli("sync", "--pair", "mem", "--dry-run")
    assert planned.exit_code == 0, planned.output
    assert "(dry run)" in planned.output
    assert "  plan: " in planned.output
    done = cli("sync", "--pair", "mem", "--full-scan")
    assert done.exit_code == 0, done.output
    assert ": succeeded" in done.output
    assert "complete snapshot: a=yes, b=yes" in done.output
    assert "succeeded" in cli("pairs", "list").output
    missing = cli("sync", "--pair", "nope")
    assert missing.exit_code == 2
    assert "no pair with id or name 'nope'" in missing.output


async def test_the_progress_line_counts_applied_actions() -> None:
    import io

    from rich.console import Console

    from reconciler.service.progress import RunProgress

    screen = io.StringIO()
    with RunProgress("syncing p", console=Console(file=screen, force_terminal=True)) as progress:
        await progress.step("snapshot_done")
        await progress.step("plan_built")
        for _ in range(3):
            await progress.step("intent_committed")
            await progress.step("result_committed")
        assert progress.applied == 3
        assert progress.phase == "applying"
    assert "syncing p" in screen.getvalue()
    piped = io.StringIO()  # not a terminal: nothing is drawn
    with RunProgress("quiet", console=Console(file=piped)) as quiet:
        await quiet.step("plan_built")
    assert piped.getvalue() == ""
