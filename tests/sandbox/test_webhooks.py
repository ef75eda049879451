"""Webhooks: every change is POSTed, signed twice, valid against the documented schemas."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from reconciler.sandbox.server import running_server
from reconciler.sandbox.state import Sandbox
from tests.sandbox.conftest import Api
from tests.spec import WEBHOOK_SCHEMAS

SCHEMAS = WEBHOOK_SCHEMAS


class Receiver:
    """A real HTTP endpoint on loopback that records what it gets."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.script: list[int] = []  # statuses to answer first (then 200)
        self.delay = 0.0
        self.gate: asyncio.Event | None = None  # when set: answer only once it is open
        self.app = FastAPI()

        @self.app.post("/hook")
        async def hook(request: Request) -> JSONResponse:
            self.received.append((dict(request.headers), await request.body()))
            if self.delay:
                await asyncio.sleep(self.delay)
            if self.gate is not None:
                await self.gate.wait()
            status = self.script.pop(0) if self.script else 200
            return JSONResponse({}, status_code=status)

    def payloads(self) -> list[dict[str, Any]]:
        return [json.loads(body) for _, body in self.received]


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[Receiver, str]]:
    rec = Receiver()
    async with running_server(rec.app) as url:
        yield rec, f"{url}/hook"


async def _exercise(api: Api) -> None:
    contact = await api.create(
        email="hook@example.com",
        firstName="Hook",
        tags=["a"],
        customFields=[
            {"id": "cf-text", "field_value": "x"},
            {"id": "cf-flag", "field_value": True},
            {"id": "cf-options", "field_value": ["a", "b"]},
        ],
    )
    cid = contact["id"]
    await api.request("PUT", f"/contacts/{cid}", json={"lastName": "Line"})
    await api.request("POST", f"/contacts/{cid}/tags", json={"tags": ["b"]})
    note = (await api.request("POST", f"/contacts/{cid}/notes", json={"body": "hi"})).json()
    nid = note["note"]["id"]
    await api.request("PUT", f"/contacts/{cid}/notes/{nid}", json={"body": "hello"})
    await api.request("DELETE", f"/contacts/{cid}/notes/{nid}")
    task = (
        await api.request(
            "POST",
            f"/contacts/{cid}/tasks",
            json={"title": "Call", "dueDate": "2026-02-01T10:00:00Z", "completed": False},
        )
    ).json()
    tid = task["task"]["id"]
    await api.request("PUT", f"/contacts/{cid}/tasks/{tid}/completed", json={"completed": True})
    await api.request("DELETE", f"/contacts/{cid}/tasks/{tid}")
    await api.request("DELETE", f"/contacts/{cid}")


EVENTS = [
    "ContactCreate",
    "ContactUpdate",
    "ContactTagUpdate",
    "NoteCreate",
    "NoteUpdate",
    "NoteDelete",
    "TaskCreate",
    "TaskComplete",
    "TaskDelete",
    "ContactDelete",
]


async def test_events_are_delivered_signed_and_valid(
    api: Api, sandbox: Sandbox, receiver: tuple[Receiver, str]
) -> None:
    rec, url = receiver
    sandbox.add_webhook(url)
    await _exercise(api)
    await sandbox.drain_webhooks()
    payloads = rec.payloads()
    assert [p["type"] for p in payloads] == EVENTS

    keys = (await api.client.get("/sandbox/webhook-keys")).json()
    ed_key = serialization.load_pem_public_key(keys["ed25519"].encode())
    rsa_key = serialization.load_pem_public_key(keys["rsa"].encode())
    assert isinstance(ed_key, ed25519.Ed25519PublicKey)
    assert isinstance(rsa_key, rsa.RSAPublicKey)
    webhook_ids = set()
    for headers, body in rec.received:
        ed_key.verify(base64.b64decode(headers["x-ghl-signature"]), body)
        rsa_key.verify(
            base64.b64decode(headers["x-wh-signature"]), body, padding.PKCS1v15(), hashes.SHA256()
        )
        payload = json.loads(body)
        schema = json.loads((SCHEMAS / f"{payload['type']}.schema.json").read_text())
        jsonschema.validate(payload, schema)
        assert payload["locationId"] == api.location
        assert payload["timestamp"] == "2026-01-05T09:00:00.000Z"
        webhook_ids.add(payload["webhookId"])
    assert len(webhook_ids) == len(rec.received)
    tag_update = payloads[2]
    assert tag_update["tags"] == ["a", "b"]
    assert "dateUpdated" not in payloads[1]


async def test_a_tampered_body_fails_verification(
    api: Api, sandbox: Sandbox, receiver: tuple[Receiver, str]
) -> None:
    rec, url = receiver
    sandbox.add_webhook(url)
    await api.create(email="tamper@example.com")
    await sandbox.drain_webhooks()
    headers, body = rec.received[0]
    key = serialization.load_pem_public_key(sandbox.public_keys()["ed25519"].encode())
    assert isinstance(key, ed25519.Ed25519PublicKey)
    from cryptography.exceptions import InvalidSignature

    with pytest.raises(InvalidSignature):
        key.verify(base64.b64decode(headers["x-ghl-signature"]), body.replace(b"tamper", b"t"))


async def test_at_most_once_only_429_is_retried(
    api: Api, sandbox: Sandbox, receiver: tuple[Receiver, str]
) -> None:
    rec, url = receiver
    sandbox.add_webhook(url)
    rec.script = [500]
    await api.create(email="once@example.com")
    await sandbox.drain_webhooks()
    assert len(rec.received) == 1
    rec.script = [429, 429]
    await api.create(email="twice@example.com")
    await sandbox.drain_webhooks()
    assert len(rec.received) == 4
    outcomes = [(d.event, d.attempts, d.outcome) for d in sandbox.webhooks.deliveries]
    assert outcomes == [("ContactCreate", 1, "failed"), ("ContactCreate", 3, "delivered")]


async def test_delivery_does_not_slow_the_api(
    api: Api, sandbox: Sandbox, receiver: tuple[Receiver, str]
) -> None:
    """The API answers while the receiver has not: it holds every delivery until the two
    creates are back (no clock involved)."""
    rec, url = receiver
    sandbox.add_webhook(url)
    rec.gate = asyncio.Event()
    await asyncio.wait_for(api.create(email="slow@example.com"), timeout=30)
    await asyncio.wait_for(api.create(email="slow2@example.com"), timeout=30)
    # Nothing answered yet (an inline delivery that gave up on its timeout would say failed).
    assert [d.outcome for d in sandbox.webhooks.deliveries] == ["queued", "queued"]
    rec.gate.set()
    await sandbox.drain_webhooks()
    assert len(rec.received) == 2


async def test_webhook_registered_through_the_admin_endpoint(
    api: Api, sandbox: Sandbox, receiver: tuple[Receiver, str]
) -> None:
    rec, url = receiver
    r = await api.client.post(
        "/sandbox/admin/webhooks", json={"url": url}, headers={"X-Sandbox-Admin-Key": "wrong"}
    )
    assert r.status_code == 401
    r = await api.client.post(
        "/sandbox/admin/webhooks",
        json={"url": url},
        headers={"X-Sandbox-Admin-Key": sandbox.admin_key},
    )
    assert r.status_code == 201
    await api.create(email="admin-hook@example.com")
    await sandbox.drain_webhooks()
    assert [p["type"] for p in rec.payloads()] == ["ContactCreate"]


async def test_unreachable_receiver_is_recorded_not_raised(api: Api, sandbox: Sandbox) -> None:
    sandbox.add_webhook("http://127.0.0.1:9/hook")
    await api.create(email="nowhere@example.com")
    await sandbox.drain_webhooks()
    assert [d.outcome for d in sandbox.webhooks.deliveries] == ["failed"]


def test_schemas_are_there() -> None:
    # The schemas come from shared/ beside the repository; without them the test above is void.
    assert all((SCHEMAS / f"{event}.schema.json").exists() for event in EVENTS)
