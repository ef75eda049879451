"""Run an ASGI app with uvicorn inside the current event loop, on a free port.

``async with running_server(app) as base_url: ...`` serves until the block ends, then shuts
uvicorn down (lifespan shutdown included) and waits for it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import uvicorn


class _QuietServer(uvicorn.Server):
    # The caller owns the process's signals (tests, the CLI); uvicorn must not take them.
    @contextlib.contextmanager
    def capture_signals(self) -> Any:
        yield


@contextlib.asynccontextmanager
async def running_server(app: Any, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[str]:
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on")
    server = _QuietServer(config)
    task = asyncio.create_task(server.serve(), name="sandbox-uvicorn")
    try:
        while not server.started:
            if task.done():
                task.result()  # raises what stopped it (e.g. the port is taken)
                raise RuntimeError("uvicorn stopped before it started")
            await asyncio.sleep(0.01)
        bound = server.servers[0].sockets[0].getsockname()
        yield f"http://{host}:{bound[1]}"
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await task
