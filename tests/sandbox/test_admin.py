"""The sandbox-only admin endpoints (behind X-Sandbox-Admin-Key) and the public key endpoint."""

from __future__ import annotations

import httpx

from reconciler.sandbox.clock import Clock
from reconciler.sandbox.state import Sandbox
from tests.sandbox.conftest import ADMIN_KEY, auth

ADMIN = {"X-Sandbox-Admin-Key": ADMIN_KEY}


async def test_admin_needs_the_key(client: httpx.AsyncClient) -> None:
    for headers in ({}, {"X-Sandbox-Admin-Key": "nope"}):
        r = await client.get("/sandbox/admin/locations", headers=headers)
        assert r.status_code == 401
        assert r.json()["error"] == "Unauthorized"


async def test_settings_change_at_run_time(
    client: httpx.AsyncClient, sandbox: Sandbox, location: str
) -> None:
    r = await client.patch(
        f"/sandbox/admin/locations/{location}/settings",
        json={
            "allow_duplicates": True,
            "search_lag_seconds": 2.5,
            "rate_limit_max": 7,
            "note_changes_touch_contact": True,
        },
        headers=ADMIN,
    )
    assert r.status_code == 200
    settings = sandbox.location(location).settings
    assert settings.allow_duplicates is True
    assert settings.search_lag_seconds == 2.5
    assert settings.note_changes_touch_contact is True
    r = await client.get("/contacts/x", headers=auth(sandbox.private_token(location)))
    assert r.headers["X-RateLimit-Max"] == "7"
    r = await client.patch(
        f"/sandbox/admin/locations/{location}/settings",
        json={"search_lag_seconds": -1},
        headers=ADMIN,
    )
    assert r.status_code == 422
    r = await client.patch(
        f"/sandbox/admin/locations/{location}/settings", json={"colour": "red"}, headers=ADMIN
    )
    assert r.status_code == 422
    r = await client.patch(
        f"/sandbox/admin/locations/{location}/settings", content=b"{", headers=ADMIN
    )
    assert r.status_code == 400
    r = await client.get("/sandbox/admin/locations", headers=ADMIN)
    listed = {loc["id"]: loc for loc in r.json()["locations"]}
    assert listed[location]["settings"]["rate_limit_max"] == 7


async def test_private_tokens_and_clock(
    client: httpx.AsyncClient, sandbox: Sandbox, location: str, clock: Clock
) -> None:
    r = await client.post(
        f"/sandbox/admin/locations/{location}/private-tokens",
        json={"scopes": ["contacts.readonly"]},
        headers=ADMIN,
    )
    assert r.status_code == 201
    token = r.json()["token"]
    assert token.startswith("pit-")
    r = await client.post("/contacts/", json={"locationId": location}, headers=auth(token))
    assert r.status_code == 401
    r = await client.post("/sandbox/admin/clock/advance", json={"seconds": 90}, headers=ADMIN)
    assert r.json() == {"now": "2026-01-05T09:01:30.000Z"}
    assert clock.iso() == "2026-01-05T09:01:30.000Z"


async def test_public_keys_as_pem(client: httpx.AsyncClient, sandbox: Sandbox) -> None:
    r = await client.get("/sandbox/webhook-keys/ed25519.pem")
    assert r.status_code == 200
    assert r.text == sandbox.public_keys()["ed25519"]
    assert r.text.startswith("-----BEGIN PUBLIC KEY-----")
    r = await client.get("/sandbox/webhook-keys/dsa.pem")
    assert r.status_code == 400
