"""Fixtures for the sandbox tests: a frozen clock, a two-location sandbox, an ASGI client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from reconciler.sandbox.app import create_app
from reconciler.sandbox.clock import Clock
from reconciler.sandbox.config import SandboxConfig
from reconciler.sandbox.state import Sandbox

ADMIN_KEY = "test-admin-key"
VERSION = "2021-07-28"


def make_config(clock: Clock, **overrides: Any) -> SandboxConfig:
    values: dict[str, Any] = {
        "seed": 7,
        "locations": 2,
        "contacts_per_location": 0,
        "clock": clock,
        "admin_key": ADMIN_KEY,
        "rsa_key_bits": 1024,
        "webhook_retry_delay_seconds": 0.01,
    }
    values.update(overrides)
    return SandboxConfig(**values)


def auth(token: str, version: str | None = VERSION) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {token}"}
    if version is not None:
        headers["Version"] = version
    return headers


@pytest.fixture
def clock() -> Clock:
    return Clock.frozen_at("2026-01-05T09:00:00Z")


@pytest.fixture
def config(clock: Clock) -> SandboxConfig:
    return make_config(clock)


@pytest.fixture
async def app(config: SandboxConfig) -> AsyncIterator[FastAPI]:
    application = create_app(config)
    yield application
    await application.state.sandbox.aclose()


@pytest.fixture
def sandbox(app: FastAPI) -> Sandbox:
    handle: Sandbox = app.state.sandbox
    return handle


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox.test") as c:
        yield c


@pytest.fixture
def location(sandbox: Sandbox) -> str:
    return sandbox.locations[0]


@pytest.fixture
def token(sandbox: Sandbox, location: str) -> str:
    return sandbox.private_token(location)


@pytest.fixture
def headers(token: str) -> dict[str, str]:
    return auth(token)


class Api:
    """A thin helper so tests read as calls, not plumbing."""

    def __init__(self, client: httpx.AsyncClient, headers: dict[str, str], location: str) -> None:
        self.client = client
        self.headers = headers
        self.location = location

    async def create(self, **fields: Any) -> dict[str, Any]:
        r = await self.client.post(
            "/contacts/", json={"locationId": self.location, **fields}, headers=self.headers
        )
        assert r.status_code == 201, r.text
        contact: dict[str, Any] = r.json()["contact"]
        return contact

    async def search(self, **body: Any) -> httpx.Response:
        payload = {"locationId": self.location, "pageLimit": 20, **body}
        return await self.client.post("/contacts/search", json=payload, headers=self.headers)

    async def request(
        self, method: str, url: str, headers: dict[str, str] | None = None, **kwargs: Any
    ) -> httpx.Response:
        merged = {**self.headers, **(headers or {})}
        return await self.client.request(method, url, headers=merged, **kwargs)


@pytest.fixture
def api(client: httpx.AsyncClient, headers: dict[str, str], location: str) -> Api:
    return Api(client, headers, location)
