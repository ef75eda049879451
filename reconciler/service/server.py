"""Serve an ASGI app with uvicorn in the current event loop, logging through our handler.

Unlike the sandbox's ``running_server`` (which keeps uvicorn's own log setup), uvicorn here gets
no logging configuration of its own: its error and access logs go through the root handler
that ``observability.configure_logging`` installed, so they are structured and masked (access
lines carry query strings, e.g. OAuth codes). The socket is bound before uvicorn starts, so a
busy port is a plain ``OSError``.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Iterator
from typing import Any

import uvicorn


class _Server(uvicorn.Server):
    # The caller owns the process's signals (the CLI, tests): uvicorn must not take them.
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        # The caller shows this one line: say which address.
        raise OSError(exc.errno, f"cannot listen on {host}:{port}: {exc.strerror}") from exc
    return sock


@contextlib.asynccontextmanager
async def serving(
    app: Any,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    shutdown_timeout: float = 15.0,
    sock: socket.socket | None = None,
) -> AsyncIterator[str]:
    """Serve ``app`` until the block ends; yields the base URL (with the bound port).

    ``sock``: a socket bound already (``bind``), when the URL had to be known before the app
    could be built (the demo tells the sandbox where to send webhooks first)."""
    sock = sock or bind(host, port)
    bound_port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        log_config=None,
        lifespan="on",
        timeout_graceful_shutdown=max(1, round(shutdown_timeout)),
        proxy_headers=False,
    )
    server = _Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]), name="reconciler-uvicorn")
    try:
        while not server.started:
            if task.done():
                task.result()  # raises what stopped it
                raise RuntimeError("the server stopped before it started")
            await asyncio.sleep(0.01)
        shown = f"[{host}]" if ":" in host else host
        yield f"http://{shown}:{bound_port}"
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await task
        sock.close()
