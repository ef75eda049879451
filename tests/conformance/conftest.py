"""Fixtures: a sandbox on a frozen clock, and clients whose every exchange is spec-checked."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from reconciler.sandbox.app import create_app
from reconciler.sandbox.clock import Clock
from reconciler.sandbox.config import READ_SCOPE, SandboxConfig
from reconciler.sandbox.state import Sandbox
from tests.conformance.validator import Conformance

VERSION = "2021-07-28"


def sandbox_config(clock: Clock, **overrides: Any) -> SandboxConfig:
    values: dict[str, Any] = {
        "seed": 11,
        "locations": 2,
        "contacts_per_location": 0,
        "clock": clock,
        "admin_key": "conformance-admin-key",
        "rsa_key_bits": 1024,
    }
    values.update(overrides)
    return SandboxConfig(**values)


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Version": VERSION}


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """The fuzz figures: the total always, cases and statuses per operation with ``-v``."""
    from tests.conformance.test_fuzz import TALLIES

    if not TALLIES:
        return
    write = terminalreporter.write_line
    write(f"conformance fuzz: {sum(t.cases for t in TALLIES.values())} cases")
    if terminalreporter.config.getoption("verbose") <= 0:
        return
    for name, tally in sorted(TALLIES.items()):
        statuses = " ".join(f"{k}x{v}" for k, v in sorted(tally.statuses.items()))
        accepted = len(tally.invalid_accepted)
        write(f"  {name}: {tally.cases} cases [{statuses}] invalid-but-accepted={accepted}")
        for text in tally.invalid_accepted[:2]:
            write("    " + text.replace("\n", "\n    "))


@pytest.fixture
def clock() -> Clock:
    return Clock.frozen_at("2026-01-05T09:00:00Z")


@pytest.fixture
async def app(clock: Clock) -> AsyncIterator[FastAPI]:
    application = create_app(sandbox_config(clock))
    yield application
    await application.state.sandbox.aclose()


@pytest.fixture
def sandbox(app: FastAPI) -> Sandbox:
    handle: Sandbox = app.state.sandbox
    return handle


@pytest.fixture
def location(sandbox: Sandbox) -> str:
    return sandbox.locations[0]


@pytest.fixture
def conformance() -> Conformance:
    return Conformance()


@pytest.fixture
async def client(app: FastAPI, conformance: Conformance) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox.test") as c:
        conformance.install(c)
        yield c


class Api:
    """Calls as a HighLevel client makes them: bearer token and Version on each one."""

    def __init__(self, client: httpx.AsyncClient, sandbox: Sandbox, location: str) -> None:
        self.client = client
        self.sandbox = sandbox
        self.location = location
        self.headers = auth(sandbox.private_token(location))

    async def call(
        self, method: str, url: str, headers: dict[str, str] | None = None, **kwargs: Any
    ) -> httpx.Response:
        merged = {**self.headers, **(headers or {})}
        return await self.client.request(method, url, headers=merged, **kwargs)

    async def create(self, **fields: Any) -> dict[str, Any]:
        r = await self.call("POST", "/contacts/", json={"locationId": self.location, **fields})
        assert r.status_code == 201, r.text
        contact: dict[str, Any] = r.json()["contact"]
        return contact

    async def search(self, **body: Any) -> httpx.Response:
        payload = {"locationId": self.location, "pageLimit": 20, **body}
        return await self.call("POST", "/contacts/search", json=payload)

    def read_only(self) -> dict[str, str]:
        return auth(self.sandbox.private_token(self.location, scopes=[READ_SCOPE]))


@pytest.fixture
def api(client: httpx.AsyncClient, sandbox: Sandbox, location: str) -> Api:
    return Api(client, sandbox, location)
