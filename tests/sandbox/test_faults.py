"""Fault injection: each kind, deterministic, and never corrupting state."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from reconciler.sandbox.app import create_app
from reconciler.sandbox.clock import Clock
from reconciler.sandbox.server import running_server
from reconciler.sandbox.state import Sandbox
from tests.sandbox.conftest import ADMIN_KEY, Api, auth, make_config


async def test_injected_429_with_headers(api: Api, sandbox: Sandbox) -> None:
    sandbox.set_faults(api.location, rate_limit=1.0)
    r = await api.search()
    assert r.status_code == 429
    assert r.json() == {"statusCode": 429, "message": "Too Many Requests"}
    assert r.headers["Retry-After"] == "1"
    assert "X-RateLimit-Remaining" in r.headers


async def test_server_errors_in_the_real_shapes_apply_nothing(api: Api, sandbox: Sandbox) -> None:
    sandbox.set_faults(api.location, server_error=1.0, seed=11)
    statuses = set()
    for i in range(30):
        r = await api.request(
            "POST", "/contacts/", json={"locationId": api.location, "email": f"e{i}@example.com"}
        )
        statuses.add(r.status_code)
        if r.status_code == 502:
            assert r.headers["content-type"].startswith("text/html")
            assert "502 Bad Gateway" in r.text
        else:
            assert r.json()["statusCode"] == r.status_code
    assert statuses == {500, 502, 503}
    assert sandbox.contacts(api.location) == []


async def test_error_after_write_leaves_the_write_applied(api: Api, sandbox: Sandbox) -> None:
    sandbox.set_faults(api.location, error_after_write=1.0)
    r = await api.request(
        "POST", "/contacts/", json={"locationId": api.location, "email": "applied@example.com"}
    )
    assert r.status_code == 502
    stored = sandbox.contacts(api.location)
    assert [c["email"] for c in stored] == ["applied@example.com"]
    # A retry of the same create meets the duplicate rule, as against HighLevel: only a
    # successful write has its answer replaced.
    r = await api.request(
        "POST", "/contacts/", json={"locationId": api.location, "email": "applied@example.com"}
    )
    assert r.status_code == 400
    assert r.json()["meta"]["contactId"] == stored[0]["id"]
    # Reads are not writes: never faulted this way.
    sandbox.set_faults(api.location, error_after_write=1.0)
    assert (await api.request("GET", f"/contacts/{stored[0]['id']}")).status_code == 200


async def test_truncated_page_keeps_total_and_cursor(api: Api, sandbox: Sandbox) -> None:
    for i in range(10):
        await api.create(email=f"t{i}@example.com")
    sandbox.set_faults(api.location, truncated_page=1.0)
    r = await api.search(pageLimit=6)
    body = r.json()
    assert len(body["contacts"]) == 3
    assert body["total"] == 10
    seen = [h["id"] for h in body["contacts"]]
    after = body["contacts"][-1]["searchAfter"]
    for _ in range(10):
        page = (await api.search(pageLimit=6, searchAfter=after)).json()["contacts"]
        if not page:
            break
        seen += [h["id"] for h in page]
        after = page[-1]["searchAfter"]
    assert len(seen) == len(set(seen)) == 10
    # The last page (no more hits after it) is never cut.
    r = await api.search(pageLimit=20)
    assert len(r.json()["contacts"]) == 10


async def test_latency_is_added(api: Api, sandbox: Sandbox) -> None:
    sandbox.set_faults(api.location, latency=1.0, latency_ms=150)
    loop = asyncio.get_running_loop()
    started = loop.time()
    r = await api.search()
    assert r.status_code == 200
    assert loop.time() - started >= 0.15


async def test_dropped_webhooks(api: Api, sandbox: Sandbox) -> None:
    sandbox.add_webhook("http://127.0.0.1:9/never-called")
    sandbox.set_faults(api.location, drop_webhook=1.0)
    await api.create(email="drop@example.com")
    await sandbox.drain_webhooks()
    assert [d.outcome for d in sandbox.webhooks.deliveries] == ["dropped"]


async def test_same_seed_same_faults(clock: Clock) -> None:
    async def run() -> list[int]:
        app = create_app(make_config(clock))
        sandbox: Sandbox = app.state.sandbox
        location = sandbox.locations[0]
        sandbox.set_faults(location, server_error=0.3, rate_limit=0.2, seed=5)
        headers = auth(sandbox.private_token(location))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://s") as client:
            statuses = [
                (await client.get("/contacts/x", headers=headers)).status_code for _ in range(40)
            ]
        await sandbox.aclose()
        return statuses

    first, second = await run(), await run()
    assert first == second
    assert {400, 429} <= set(first)
    assert set(first) - {400, 429}


async def test_timeout_hangs_longer_than_the_client_waits_and_applies_nothing(
    clock: Clock,
) -> None:
    app = create_app(make_config(clock))
    sandbox: Sandbox = app.state.sandbox
    location = sandbox.locations[0]
    sandbox.set_faults(location, timeout=1.0, timeout_seconds=60.0)
    loop = asyncio.get_running_loop()
    async with running_server(app) as url:
        await _time_out(sandbox, url, location)
        stopping = loop.time()
    # The server's shutdown does not wait for the hanging request.
    assert loop.time() - stopping < 5
    assert sandbox.contacts(location) == []


async def _time_out(sandbox: Sandbox, url: str, location: str) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=0.3) as client:
        with pytest.raises(httpx.ReadTimeout):
            await client.post(
                "/contacts/",
                json={"locationId": location, "email": "t@x.io"},
                headers=auth(sandbox.private_token(location)),
            )
    assert sandbox.contacts(location) == []


async def test_faults_over_the_admin_endpoint(api: Api, sandbox: Sandbox) -> None:
    admin = {"X-Sandbox-Admin-Key": ADMIN_KEY}
    r = await api.client.patch(
        f"/sandbox/admin/locations/{api.location}/faults",
        json={"server_error": 1.0, "seed": 1},
        headers=admin,
    )
    assert r.status_code == 200
    assert r.json()["server_error"] == 1.0
    assert (await api.search()).status_code >= 500
    r = await api.client.patch(
        f"/sandbox/admin/locations/{api.location}/faults", json={"server_error": 2}, headers=admin
    )
    assert r.status_code == 422
    r = await api.client.patch(
        f"/sandbox/admin/locations/{api.location}/faults", json={"nonsense": 1}, headers=admin
    )
    assert r.status_code == 422
    r = await api.client.patch("/sandbox/admin/locations/nope/faults", json={}, headers=admin)
    assert r.status_code == 400
    r = await api.client.patch(f"/sandbox/admin/locations/{api.location}/faults", json={})
    assert r.status_code == 401


async def test_faulted_writes_are_all_or_nothing(api: Api, sandbox: Sandbox, clock: Clock) -> None:
    """Under every fault at once, each write is either absent or complete, never partial."""
    sandbox.set_faults(
        api.location, server_error=0.25, error_after_write=0.25, rate_limit=0.15, seed=3
    )
    outcomes: dict[str, set[int]] = {}
    for i in range(60):
        clock.advance(1)
        email = f"aon{i}@example.com"
        r = await api.request(
            "POST",
            "/contacts/",
            json={
                "locationId": api.location,
                "email": email,
                "firstName": f"F{i}",
                "tags": ["t1", "t2"],
                "customFields": [{"id": "cf", "field_value": str(i)}],
            },
        )
        outcomes.setdefault(email, set()).add(r.status_code)
    stored = {c["email"]: c for c in sandbox.contacts(api.location)}
    for email, statuses in outcomes.items():
        (status,) = statuses
        if status == 201:
            assert email in stored
        elif status in (429, 500, 503):
            assert email not in stored  # refused before the write
        else:
            assert status == 502  # before or after the write: the client cannot tell
        if email in stored:
            contact = stored[email]
            n = email[3:].split("@")[0]
            assert contact["firstName"] == f"F{n}"
            assert contact["tags"] == ["t1", "t2"]
            assert contact["customFields"] == [{"id": "cf", "value": n}]
    statuses_seen = {s for statuses in outcomes.values() for s in statuses}
    assert {201, 429, 502} <= statuses_seen
    assert any(e in stored for e, s in outcomes.items() if s == {502})
    assert any(e not in stored for e, s in outcomes.items() if s == {502})
