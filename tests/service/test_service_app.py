"""The composed service app: health, readiness, metrics (store-derived gauges included), and
manual runs through the API taking the pair's lease and showing in the metrics."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI

from reconciler.api.ids import encode_id
from reconciler.service import keys
from reconciler.service.events import EventBus
from reconciler.service.lease import LeaseKeeper
from reconciler.service.main import Service, build_service, create_service_app
from reconciler.settings import Settings
from reconciler.store import migrate
from reconciler.store.db import Store
from reconciler.store.schema import ApiKeyRole
from tests.service.memory import MemoryWorld, eventually, memory_pair


@dataclass
class Running:
    service: Service
    app: FastAPI
    client: httpx.AsyncClient
    world: MemoryWorld


@pytest.fixture
async def running(store: Store, settings: Settings) -> AsyncIterator[Running]:
    world = MemoryWorld()
    service = build_service(
        settings, store=store, side_opener=world.open, bus=EventBus(), scheduler=True
    )
    app = create_service_app(service)
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://service.test") as client,
    ):
        yield Running(service, app, client, world)


async def test_health_and_readiness(running: Running) -> None:
    assert (await running.client.get("/healthz")).status_code == 200
    ready = await running.client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {
        "ready": True,
        "checks": {"database": "ok", "migrations": "ok", "scheduler": "ok"},
    }


async def test_readiness_fails_on_an_old_schema(running: Running, store_url: str) -> None:
    await migrate.downgrade(store_url, "0001")
    try:
        ready = await running.client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"]["migrations"].startswith("at 0001")
    finally:
        await migrate.upgrade(store_url)


async def test_metrics_show_runs_pairs_and_open_conflicts(running: Running) -> None:
    pair_id = await memory_pair(running.service.store, "p", interval_s=60)
    running.world.pair(pair_id).a.user.add_contact(email="ann@example.com", tags=["vip"])
    b = running.world.pair(pair_id).b.user
    b.add_contact(email="ann@example.com", tags=["lead"])  # no base: tags_initial is union
    assert running.service.scheduler is not None
    await running.service.scheduler.refresh()  # picks the new pair up now
    await eventually(
        lambda: (
            running.service.metrics.runs.value(pair=pair_id, trigger="schedule", status="succeeded")
            == 1
        )
    )
    text = (await running.client.get("/metrics")).text
    assert (
        f'reconciler_runs_total{{pair="{pair_id}",trigger="schedule",status="succeeded"}} 1' in text
    )
    assert f'reconciler_open_conflicts{{pair="{pair_id}"}} 0' in text
    assert 'reconciler_pairs{state="enabled"} 1' in text
    assert "reconciler_scheduler_running 1" in text
    assert 'reconciler_side_requests_total{location="memory:' in text
    assert (
        (await running.client.get("/metrics"))
        .headers["content-type"]
        .startswith("text/plain; version=0.0.4")
    )


async def test_a_manual_run_through_the_api_holds_the_lease_and_is_counted(
    running: Running,
) -> None:
    store = running.service.store
    pair_id = await memory_pair(store, "p", interval_s=3600)
    running.world.pair(pair_id).a.user.add_contact(email="bob@example.com")
    _, key = await keys.create_key(store, name="ops", role=ApiKeyRole.OPERATOR)
    mutation = """mutation($id: ID!) { syncRunStart(input: {pairId: $id, dryRun: false}) {
        run { status } userErrors { message code } } }"""
    variables = {"id": encode_id("Pair", pair_id)}
    headers = {"Authorization": f"Bearer {key}"}

    # While the scheduler (or another process) holds the pair, the API says BUSY.
    async with running.service.leases.hold(pair_id):
        busy = await running.client.post(
            "/graphql", json={"query": mutation, "variables": variables}, headers=headers
        )
    payload = busy.json()["data"]["syncRunStart"]
    assert payload["userErrors"][0]["code"] == "BUSY", payload

    done = await running.client.post(
        "/graphql", json={"query": mutation, "variables": variables}, headers=headers
    )
    payload = done.json()["data"]["syncRunStart"]
    assert payload["userErrors"] == [], payload
    assert payload["run"]["status"] == "succeeded"
    assert running.world.pair(pair_id).b.user.find(email="bob@example.com")
    await eventually(
        lambda: (
            running.service.metrics.runs.value(pair=pair_id, trigger="manual", status="succeeded")
            == 1
        )
    )
    other_process = LeaseKeeper(store, ttl=30)
    async with other_process.hold(pair_id):  # the API's run released the lease
        assert other_process.held == {pair_id}
