"""The CLI prints what a person needs; the loopback server starts and stops cleanly."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from reconciler.sandbox.app import create_app
from reconciler.sandbox.cli import serve
from reconciler.sandbox.clock import Clock
from reconciler.sandbox.server import running_server
from tests.sandbox.conftest import auth, make_config

REPO = Path(__file__).resolve().parents[2]


async def test_running_server_serves_and_stops(clock: Clock) -> None:
    app = create_app(make_config(clock))
    sandbox = app.state.sandbox
    async with running_server(app) as url:
        assert url.startswith("http://127.0.0.1:")
        async with httpx.AsyncClient(base_url=url) as client:
            r = await client.get(
                "/contacts/x", headers=auth(sandbox.private_token(sandbox.locations[0]))
            )
            assert r.status_code == 400
    async with httpx.AsyncClient(base_url=url) as client:
        try:
            await client.get("/contacts/x")
        except httpx.ConnectError:
            pass
        else:
            raise AssertionError("the server still answers after the block")


async def test_serve_prints_locations_tokens_credentials_and_keys(clock: Clock) -> None:
    lines: list[str] = []
    stop = asyncio.Event()
    config = make_config(clock, contacts_per_location=3)
    task = asyncio.create_task(serve(config, port=0, echo=lines.append, stop=stop))
    for _ in range(500):
        if lines:
            break
        await asyncio.sleep(0.01)
    text = "\n".join(lines)
    assert "HighLevel sandbox running at http://127.0.0.1:" in text
    assert f"admin key (header X-Sandbox-Admin-Key): {config.admin_key}" in text
    assert f"client_id={config.apps[0].client_id}" in text
    assert f"client_secret={config.apps[0].client_secret}" in text
    assert text.count("private token: pit-") == 2
    assert "(3 contacts)" in text
    assert "BEGIN PUBLIC KEY" in text
    assert "/oauth/chooselocation?" in text
    stop.set()
    await asyncio.wait_for(task, 5)
    assert lines[-1] == "sandbox stopped"


def test_the_command_runs_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    args = ["sandbox", "--port", "0", "--locations", "2", "--contacts", "5", "--seed", "7"]
    _run_until_ctrl_c([*args, "--state-file", str(state)], contacts_line="(5 contacts)")
    assert state.exists()


def _run_until_ctrl_c(args: list[str], contacts_line: str) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "reconciler.cli", *args],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.startswith("HighLevel sandbox running at http://127.0.0.1:")
        output = [first]
        for line in proc.stdout:
            output.append(line)
            if line.startswith("Press Ctrl-C"):
                break
        text = "".join(output)
        assert text.count("private token: pit-") == 2
        assert text.count(contacts_line) == 2
        assert "client_secret=" in text
        assert "Ed25519" in text
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    assert "sandbox stopped" in out


async def test_a_busy_port_is_a_clear_error(clock: Clock) -> None:
    app = create_app(make_config(clock))
    async with running_server(app) as url:
        port = int(url.rsplit(":", 1)[1])
        other = create_app(make_config(clock))
        try:
            async with running_server(other, port=port):
                raise AssertionError("two servers on one port")
        except OSError:
            pass


def test_the_command_reports_a_busy_port(tmp_path: Path) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "reconciler.cli",
                "sandbox",
                "--port",
                str(port),
                "--contacts",
                "0",
            ],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    assert proc.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in proc.stderr
    assert "Traceback" not in proc.stderr
