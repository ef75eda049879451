"""Run mutations through the engine (``reconciler.sync.run``) with in-memory sides:
syncRunStart (dry run + plan), planApply (and refused when stale or applied), conflictResolve
with applyNow, and the RunFinished event.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from websockets.asyncio.client import connect
from websockets.typing import Subprotocol

from reconciler.api.app import create_app
from reconciler.sandbox.server import running_server
from reconciler.service import events
from reconciler.service.events import EventBus, RunFinished
from reconciler.sides.memory import MemorySide
from reconciler.store import repo_pairs
from reconciler.store.db import Store
from reconciler.store.schema import AccountKind
from reconciler.sync.run import SidePair
from tests.api.conftest import Gql, Keys, gid
from tests.api.seed import NOW


@dataclass
class World:
    pair_id: str
    a: MemorySide
    b: MemorySide


@pytest.fixture
async def world(store: Store) -> World:
    async with store.transaction() as s:
        acc_a = await repo_pairs.create_side_account(
            s, label="A", kind=AccountKind.MEMORY, location_id="mem-a", now=NOW
        )
        acc_b = await repo_pairs.create_side_account(
            s, label="B", kind=AccountKind.MEMORY, location_id="mem-b", now=NOW
        )
        pair = await repo_pairs.create_pair(
            s, name="memory", side_a_account_id=acc_a.id, side_b_account_id=acc_b.id, now=NOW
        )
    return World(pair_id=pair.id, a=MemorySide("a"), b=MemorySide("b", id_seed=1))


@pytest.fixture
def run_app(store: Store, bus: EventBus, world: World) -> FastAPI:
    @asynccontextmanager
    async def open_sides(pair_id: str) -> AsyncIterator[Any]:
        assert pair_id == world.pair_id
        yield SidePair(a=world.a, b=world.b)

    return create_app(store, bus=bus, side_opener=open_sides)


@pytest.fixture
async def rgql(run_app: FastAPI, api_keys: Keys) -> AsyncIterator[Gql]:
    transport = httpx.ASGITransport(app=run_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as client:
        yield Gql(client, api_keys)


START = """
mutation($pair: ID!, $dry: Boolean!) { syncRunStart(input: {pairId: $pair, dryRun: $dry}) {
  run { id status dryRun counts { kind count } }
  plan { id status actionCount actions(first: 100) { nodes { kind side reason { rule } } } }
  userErrors { field code message }
} }
"""
APPLY = """
mutation($plan: ID!) { planApply(input: {planId: $plan}) {
  run { id status dryRun } plan { id status } userErrors { field code message }
} }
"""


async def test_dry_run_returns_a_plan_that_applies_later(
    rgql: Gql, world: World, bus: EventBus
) -> None:
    world.a.user.add_contact(first_name="Ann", email="ann@example.com", tags=["VIP"])
    async with bus.subscribe() as events:
        data = await rgql.data(
            START, {"pair": gid("Pair", world.pair_id), "dry": True}, role="operator"
        )
        finished = await events.get()
    payload = data["syncRunStart"]
    assert payload["userErrors"] == []
    assert payload["run"]["dryRun"] is True
    assert payload["plan"]["status"] == "PENDING"
    kinds = [action["kind"] for action in payload["plan"]["actions"]["nodes"]]
    assert "create_contact" in kinds
    assert world.b.user.contacts() == []  # a dry run writes nothing
    assert isinstance(finished, RunFinished)
    applied = await rgql.data(APPLY, {"plan": payload["plan"]["id"]}, role="operator")
    assert applied["planApply"]["userErrors"] == []
    assert applied["planApply"]["run"]["dryRun"] is False
    (copied,) = world.b.user.contacts()
    assert copied.email == "ann@example.com"
    again = await rgql.data(APPLY, {"plan": payload["plan"]["id"]}, role="operator")
    assert again["planApply"]["userErrors"][0]["code"] in ("CONFLICT", "STALE")


async def test_plan_apply_is_refused_when_a_side_changed(rgql: Gql, world: World) -> None:
    contact = world.a.user.add_contact(first_name="Bo", email="bo@example.com")
    data = await rgql.data(START, {"pair": gid("Pair", world.pair_id), "dry": True})
    plan_id = data["syncRunStart"]["plan"]["id"]
    world.a.user.edit_contact(contact.id, first_name="Bob")
    refused = await rgql.data(APPLY, {"plan": plan_id})
    (error,) = refused["planApply"]["userErrors"]
    assert error["code"] == "STALE"
    assert error["field"] == ["input", "planId"]
    assert world.b.user.contacts() == []


async def test_resolve_with_apply_now_runs_the_pair(rgql: Gql, world: World) -> None:
    a = world.a.user.add_contact(first_name="Cy", email="cy@example.com")
    b = world.b.user.add_contact(first_name="Cy", email="cy@example.com")
    first = await rgql.data(START, {"pair": gid("Pair", world.pair_id), "dry": False})
    assert first["syncRunStart"]["userErrors"] == []
    world.a.user.edit_contact(a.id, first_name="Cyrus")
    world.b.user.edit_contact(b.id, first_name="Cyril")
    await rgql.data(START, {"pair": gid("Pair", world.pair_id), "dry": False})
    conflicts = await rgql.data(
        "query($pair: ID) { conflicts(pairId: $pair, status: OPEN) { nodes { id scope } } }",
        {"pair": gid("Pair", world.pair_id)},
    )
    (conflict,) = [c for c in conflicts["conflicts"]["nodes"] if c["scope"] == "first_name"]
    resolved = await rgql.data(
        """mutation($id: ID!) { conflictResolve(input: {id: $id, choice: A, applyNow: true}) {
            conflict { status } run { id status } userErrors { code message } } }""",
        {"id": conflict["id"]},
        role="operator",
    )
    payload = resolved["conflictResolve"]
    assert payload["userErrors"] == []
    assert payload["run"] is not None
    assert payload["conflict"]["status"] == "CLOSED"
    assert world.b.user.contact(b.id).first_name == "Cyrus"


async def test_conflicts_opened_by_a_run_reach_subscribers(
    store: Store, world: World, api_keys: Keys
) -> None:
    """End to end: the engine publishes ConflictOpened on the process-wide bus (what the
    service's app uses), and a graphql-transport-ws subscriber of that pair receives it."""

    @asynccontextmanager
    async def open_sides(_pair_id: str) -> AsyncIterator[Any]:
        yield SidePair(a=world.a, b=world.b)

    app = create_app(store, side_opener=open_sides)  # the default (process-wide) bus
    a = world.a.user.add_contact(first_name="Di", email="di@example.com")
    b = world.b.user.add_contact(first_name="Di", email="di@example.com")
    pair = gid("Pair", world.pair_id)
    async with (
        running_server(app) as base_url,
        httpx.AsyncClient(base_url=base_url, timeout=30) as client,
    ):
        auth = {"authorization": f"Bearer {api_keys.operator}"}
        start = {"query": START, "variables": {"pair": pair, "dry": False}}
        assert (await client.post("/graphql", json=start, headers=auth)).status_code == 200
        world.a.user.edit_contact(a.id, first_name="Diana")
        world.b.user.edit_contact(b.id, first_name="Dina")
        ws = await connect(
            base_url.replace("http", "ws") + "/graphql",
            subprotocols=[Subprotocol("graphql-transport-ws")],
        )
        try:
            await ws.send(
                json.dumps(
                    {
                        "type": "connection_init",
                        "payload": {"Authorization": f"Bearer {api_keys.viewer}"},
                    }
                )
            )
            assert json.loads(await ws.recv())["type"] == "connection_ack"
            query = f'subscription {{ conflictOpened(pairId: "{pair}") {{ kind scope }} }}'
            await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": query}}))
            for _ in range(500):
                if events.bus.subscriber_count:
                    break
                await asyncio.sleep(0.01)
            response = await client.post("/graphql", json=start, headers=auth)
            assert response.json()["data"]["syncRunStart"]["userErrors"] == []
            message = json.loads(await asyncio.wait_for(ws.recv(), timeout=10))
        finally:
            await ws.close()
    assert message["payload"]["data"]["conflictOpened"] == {"kind": "FIELD", "scope": "first_name"}
