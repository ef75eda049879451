"""Fixtures of the API tests: seeded store, API keys per role, the app and a GraphQL client.

The client talks to the app through ``httpx.ASGITransport`` (the whole ASGI stack, no
socket); the loopback tests use a real uvicorn server instead.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from reconciler.api.app import create_app
from reconciler.api.ids import encode_id
from reconciler.service import keys
from reconciler.service.events import EventBus
from reconciler.store.db import Store
from reconciler.store.schema import ApiKeyRole
from tests.api.seed import NOW, Seed, seed_store


@dataclass
class Keys:
    viewer: str
    operator: str
    admin: str

    def of(self, role: str | None) -> str | None:
        return None if role is None else getattr(self, role)


class Gql:
    """Posts GraphQL operations; ``key`` per call (None: anonymous)."""

    def __init__(self, client: httpx.AsyncClient, keys: Keys) -> None:
        self.client = client
        self.keys = keys

    async def raw(
        self, query: str, variables: dict[str, Any] | None = None, *, role: str | None = "admin"
    ) -> httpx.Response:
        key = self.keys.of(role)
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return await self.client.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )

    async def __call__(
        self, query: str, variables: dict[str, Any] | None = None, *, role: str | None = "admin"
    ) -> dict[str, Any]:
        response = await self.raw(query, variables, role=role)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def data(
        self, query: str, variables: dict[str, Any] | None = None, *, role: str | None = "admin"
    ) -> dict[str, Any]:
        body = await self(query, variables, role=role)
        assert "errors" not in body, body["errors"]
        data: dict[str, Any] = body["data"]
        return data


def gid(type_name: str, raw: str | int) -> str:
    return encode_id(type_name, raw)


@pytest.fixture
async def seed(store: Store) -> Seed:
    return await seed_store(store)


@pytest.fixture
async def api_keys(store: Store) -> Keys:
    made = {}
    for role in ApiKeyRole:
        _row, plain = await keys.create_key(store, name=f"{role.value}-key", role=role)
        made[role.value] = plain
    return Keys(viewer=made["viewer"], operator=made["operator"], admin=made["admin"])


@pytest.fixture
def bus() -> EventBus:
    return EventBus()


@pytest.fixture
def app(store: Store, bus: EventBus) -> FastAPI:
    return create_app(store, bus=bus, clock=lambda: NOW)


@pytest.fixture
async def gql(app: FastAPI, api_keys: Keys) -> AsyncIterator[Gql]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as client:
        yield Gql(client, api_keys)
