"""Building ``HighLevelSide``s against the sandbox, in process or over loopback HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI

from reconciler.sandbox.app import create_app
from reconciler.sandbox.config import SandboxConfig
from reconciler.sandbox.server import running_server
from reconciler.sandbox.state import Sandbox
from reconciler.sides.highlevel import (
    Credentials,
    HighLevelSide,
    ListingPolicy,
    PrivateToken,
    RateBudget,
    RetryPolicy,
)
from reconciler.sides.highlevel.clock import Clock

ASGI_BASE = "http://sandbox.test"
# Fast retries for tests; production defaults are seconds.
QUICK_RETRY = RetryPolicy(max_attempts=6, base_delay=0.001, max_delay=0.01, lookup_delay=0.0)


def sandbox_of(app: FastAPI) -> Sandbox:
    sandbox = app.state.sandbox
    assert isinstance(sandbox, Sandbox)
    return sandbox


@asynccontextmanager
async def http_to(
    app: FastAPI, *, loopback: bool, **client_args: Any
) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    """An ``httpx.AsyncClient`` on the app and the base URL to give the side."""
    if loopback:
        async with running_server(app) as base, httpx.AsyncClient(**client_args) as http:
            yield http, base
    else:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url=ASGI_BASE, **client_args
        ) as http:
            yield http, ASGI_BASE


def make_side(
    http: httpx.AsyncClient,
    base_url: str,
    location_id: str,
    credentials: Credentials | str,
    *,
    page_limit: int = 500,
    retry: RetryPolicy = QUICK_RETRY,
    clock: Clock | None = None,
    budget: RateBudget | None = None,
    notes_concurrency: int = 8,
) -> HighLevelSide:
    if isinstance(credentials, str):
        credentials = PrivateToken(credentials)
    return HighLevelSide(
        http,
        location_id=location_id,
        credentials=credentials,
        base_url=base_url,
        listing=ListingPolicy(page_limit=page_limit, notes_concurrency=notes_concurrency),
        retry=retry,
        clock=clock,
        budget=budget,
    )


def new_sandbox(**config: Any) -> tuple[FastAPI, Sandbox, str]:
    app = create_app(SandboxConfig(**config))
    sandbox = sandbox_of(app)
    return app, sandbox, sandbox.locations[0]
