"""Over real loopback sockets (uvicorn): a plain HTTP client outside strawberry round-trips a
resolve, and graphql-transport-ws subscriptions receive conflict and run events."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from reconciler.sandbox.server import running_server
from reconciler.service.events import ConflictOpened, EventBus, RunFinished
from reconciler.store import repo_conflicts
from reconciler.store.db import Store
from tests.api.conftest import Keys, gid
from tests.api.seed import Seed

PROTOCOL = Subprotocol("graphql-transport-ws")


@pytest.fixture
async def base_url(app: FastAPI) -> AsyncIterator[str]:
    async with running_server(app) as url:
        yield url


async def test_plain_http_client_resolves_a_conflict(
    base_url: str, seed: Seed, api_keys: Keys, store: Store
) -> None:
    payload = {
        "query": """mutation($id: ID!) { conflictResolve(input: {id: $id, choice: A}) {
            conflict { id status } userErrors { code } } }""",
        "variables": {"id": gid("Conflict", seed.email_conflict)},
    }
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
        response = await client.post(
            "/graphql",
            content=json.dumps(payload),
            headers={
                "content-type": "application/json",
                "authorization": f"Bearer {api_keys.operator}",
            },
        )
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/json")
        result = response.json()["data"]["conflictResolve"]
        assert result == {
            "conflict": {"id": gid("Conflict", seed.email_conflict), "status": "RESOLVED"},
            "userErrors": [],
        }
        ide = await client.get("/graphql", headers={"accept": "text/html"})
        assert ide.status_code == 200
        assert "graphiql" in ide.text.lower()
    async with store.session() as s:
        row = await repo_conflicts.get_conflict(s, seed.email_conflict)
    assert row is not None
    assert row.status == "resolved"


async def _open(base_url: str, key: str | None) -> ClientConnection:
    ws = await connect(base_url.replace("http", "ws") + "/graphql", subprotocols=[PROTOCOL])
    payload = {"Authorization": f"Bearer {key}"} if key else {}
    await ws.send(json.dumps({"type": "connection_init", "payload": payload}))
    return ws


async def _message(ws: ClientConnection) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), timeout=5))
    return message


async def _subscribed(bus: EventBus, count: int) -> None:
    # The server registers the subscription after reading our message: wait until it has.
    for _ in range(500):
        if bus.subscriber_count >= count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the subscription never registered")


async def test_subscriptions_receive_events_for_their_pair(
    base_url: str, seed: Seed, api_keys: Keys, bus: EventBus
) -> None:
    ws = await _open(base_url, api_keys.viewer)
    try:
        assert (await _message(ws))["type"] == "connection_ack"
        pair = gid("Pair", seed.pair_id)
        for sub_id, field, selection in (
            ("opened", "conflictOpened", "id kind scope"),
            ("resolved", "conflictResolved", "id status resolution { choice }"),
            ("runs", "runFinished", "id status"),
        ):
            query = f'subscription {{ {field}(pairId: "{pair}") {{ {selection} }} }}'
            await ws.send(
                json.dumps({"id": sub_id, "type": "subscribe", "payload": {"query": query}})
            )
        await _subscribed(bus, 3)
        # Another pair's event is filtered out; ours arrives.
        bus.publish(ConflictOpened(seed.pair2_id, seed.conflict2))
        bus.publish(ConflictOpened(seed.pair_id, seed.note_conflict))
        message = await _message(ws)
        assert message["id"] == "opened"
        assert message["payload"]["data"]["conflictOpened"] == {
            "id": gid("Conflict", seed.note_conflict),
            "kind": "NOTE",
            "scope": "nl-1",
        }
        async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
            await client.post(
                "/graphql",
                json={
                    "query": """mutation($id: ID!) { conflictResolve(input: {id: $id, choice: B})
                        { userErrors { code } } }""",
                    "variables": {"id": gid("Conflict", seed.email_conflict)},
                },
                headers={"authorization": f"Bearer {api_keys.operator}"},
            )
        message = await _message(ws)
        assert message["id"] == "resolved"
        assert message["payload"]["data"]["conflictResolved"] == {
            "id": gid("Conflict", seed.email_conflict),
            "status": "RESOLVED",
            "resolution": {"choice": "B"},
        }
        bus.publish(RunFinished(seed.pair_id, seed.run_id, "succeeded"))
        message = await _message(ws)
        assert message["id"] == "runs"
        assert message["payload"]["data"]["runFinished"] == {
            "id": gid("Run", seed.run_id),
            "status": "succeeded",
        }
        await ws.send(json.dumps({"id": "runs", "type": "complete"}))
    finally:
        await ws.close()
    for _ in range(500):  # the server lets go of the subscriptions when the socket closes
        if bus.subscriber_count == 0:
            break
        await asyncio.sleep(0.01)
    assert bus.subscriber_count == 0


async def test_websocket_without_a_valid_key_is_refused(
    base_url: str, seed: Seed, bus: EventBus
) -> None:
    for key in (None, "rk_wrong_key"):
        ws = await _open(base_url, key)
        with pytest.raises(ConnectionClosed) as closed:
            await _message(ws)
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 4403
    assert bus.subscriber_count == 0
