"""Run an ASGI app with uvicorn inside the current event loop, on a free port.

``async with running_server(app) as base_url: ...`` serves until the block ends, then shuts
uvicorn down (lifespan shutdown included) and waits for it. The socket is bound here, before
uvicorn starts, so a busy port is a plain ``OSError`` rather than uvicorn's ``SystemExit``.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Iterator
from typing import Any

import uvicorn


class _QuietServer(uvicorn.Server):
    # The caller owns the process's signals (tests, the CLI); uvicorn must not take them.
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: accepted sockets inherit the listener's proto, and asyncio only
    # sets TCP_NODELAY on sockets whose proto says TCP. With proto 0 every response body waits
    # for the peer's delayed ACK (~40 ms per request on loopback).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


@contextlib.asynccontextmanager
async def running_server(app: Any, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[str]:
    sock = _bind(host, port)
    bound_port = sock.getsockname()[1]
    # Bounded shutdown: a request hanging on an injected timeout must not hold the exit.
    config = uvicorn.Config(app, log_level="warning", lifespan="on", timeout_graceful_shutdown=2)
    server = _QuietServer(config)
    task = asyncio.create_task(server.serve(sockets=[sock]), name="sandbox-uvicorn")
    try:
        while not server.started:
            if task.done():
                task.result()  # raises what stopped it
                raise RuntimeError("uvicorn stopped before it started")
            await asyncio.sleep(0.01)
        shown = f"[{host}]" if ":" in host else host
        yield f"http://{shown}:{bound_port}"
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await task
        sock.close()
