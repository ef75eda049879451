"""``reconciler sandbox``: the sandbox until Ctrl-C (or SIGTERM), which stops it cleanly: the
server shuts down, the state file (if any) is saved, and the process exits 0 without a
traceback. (``reconciler demo``, which runs it beside the service, is in
``reconciler.service.cli``.)
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Annotated
from urllib.parse import urlencode

import typer

from reconciler.sandbox.app import create_app
from reconciler.sandbox.config import CONTACT_SCOPES, SandboxConfig
from reconciler.sandbox.server import running_server
from reconciler.sandbox.state import Sandbox

Echo = Callable[[str], None]


def describe(sandbox: Sandbox, base_url: str, tokens: dict[str, str]) -> str:
    """What a person needs to use the sandbox: URLs, credentials, tokens, keys."""
    app = sandbox.oauth_app
    lines = [
        f"HighLevel sandbox running at {base_url}",
        f"  admin key (header X-Sandbox-Admin-Key): {sandbox.admin_key}",
        f"  OAuth app: client_id={app.client_id}",
        f"             client_secret={app.client_secret}",
        f"             redirect_uris={' '.join(app.redirect_uris)}",
        f"             scopes={' '.join(app.scopes)}",
        "  locations:",
    ]
    for location_id in sandbox.locations:
        location = sandbox.location(location_id)
        authorize = urlencode(
            {
                "response_type": "code",
                "client_id": app.client_id,
                "redirect_uri": app.redirect_uris[0] if app.redirect_uris else "",
                "scope": " ".join(app.scopes),
                "location_id": location_id,
            }
        )
        lines += [
            f"    {location_id}  {location.name}  ({len(location.contacts)} contacts)",
            f"      private token: {tokens[location_id]}",
            f"      authorize: {base_url}/oauth/chooselocation?{authorize}",
        ]
    keys = sandbox.public_keys()
    lines += [
        f"  webhook public keys: {base_url}/sandbox/webhook-keys",
        "  Ed25519 (x-ghl-signature):",
        keys["ed25519"].rstrip(),
        "  RSA-SHA256 (x-wh-signature):",
        keys["rsa"].rstrip(),
        "Press Ctrl-C to stop.",
    ]
    return "\n".join(lines)


async def serve(
    config: SandboxConfig,
    *,
    host: str = "127.0.0.1",
    port: int = 8100,
    echo: Echo = typer.echo,
    stop: asyncio.Event | None = None,
) -> None:
    """Run the sandbox until ``stop`` is set or the process gets SIGINT/SIGTERM."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    handled: list[signal.Signals] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop.set)
            handled.append(sig)
    try:
        app = create_app(config)
        sandbox: Sandbox = app.state.sandbox
        tokens = {loc: sandbox.private_token(loc, CONTACT_SCOPES) for loc in sandbox.locations}
        async with running_server(app, host, port) as base_url:
            echo(describe(sandbox, base_url, tokens))
            await stop.wait()
        echo("sandbox stopped")
    finally:
        for sig in handled:
            loop.remove_signal_handler(sig)


def _run(config: SandboxConfig, host: str, port: int) -> None:
    try:
        asyncio.run(serve(config, host=host, port=port))
    except KeyboardInterrupt:
        # A second Ctrl-C during shutdown: still no traceback.
        typer.echo("sandbox stopped")
    except OSError as exc:
        typer.echo(f"cannot listen on {host}:{port}: {exc.strerror or exc}", err=True)
        raise typer.Exit(1) from exc


def sandbox_command(
    port: Annotated[int, typer.Option(help="TCP port (0: any free port).")] = 8100,
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    locations: Annotated[int, typer.Option(min=1, help="Number of locations.")] = 1,
    contacts: Annotated[int, typer.Option(min=0, help="Seeded contacts per location.")] = 100,
    seed: Annotated[int, typer.Option(help="Seed for data, ids and app credentials.")] = 7,
    state_file: Annotated[
        Path | None, typer.Option(help="JSON state file: loaded if present, saved on changes.")
    ] = None,
    admin_key: Annotated[
        str | None, typer.Option(help="Admin key (default: a random one, printed).")
    ] = None,
) -> None:
    """Run the HighLevel sandbox (a Contacts API v2 emulator)."""
    config = SandboxConfig(
        seed=seed,
        locations=locations,
        contacts_per_location=contacts,
        persist_path=state_file,
        admin_key=admin_key,
    )
    _run(config, host, port)


def register(app: typer.Typer) -> None:
    """Add ``sandbox`` to the ``reconciler`` command."""
    app.command("sandbox")(sandbox_command)
