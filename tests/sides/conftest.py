"""Fixtures for the side tests: one ``Side`` per kind for the shared contract suite."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from reconciler.sides.base import Side
from reconciler.sides.memory import MemorySide
from tests.sides.sandbox_sides import http_to, make_side, new_sandbox

# Small pages, so that every listing in the contract crosses page boundaries.
CONTRACT_PAGE_SIZE = 5
SIDE_KINDS = ("memory", "highlevel-asgi", "highlevel-loopback")


@pytest.fixture(params=SIDE_KINDS)
async def contract_side(request: pytest.FixtureRequest) -> AsyncIterator[Side]:
    kind: str = request.param
    if kind == "memory":
        yield MemorySide("contract", page_size=CONTRACT_PAGE_SIZE)
        return
    # Limits raised: pacing has its own tests, the contract is about behaviour.
    app, sandbox, location = new_sandbox(seed=11, rate_limit_max=10_000)
    token = sandbox.private_token(location)
    async with http_to(app, loopback=kind == "highlevel-loopback") as (http, base):
        side = make_side(http, base, location, token, page_limit=CONTRACT_PAGE_SIZE)
        yield side
        await side.aclose()
    await sandbox.aclose()
