"""Webhooks: signatures (Ed25519 and legacy RSA), replay and staleness guards, dirty marks and
run requests; a refused delivery records nothing."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from reconciler.sandbox.webhooks import WebhookKeys
from reconciler.service.metrics import ServiceMetrics
from reconciler.service.webhooks import (
    DIRTY_CONTACT,
    DIRTY_DELETED,
    DIRTY_NOTES,
    SignatureVerifier,
    WebhookReceiver,
    webhook_router,
)
from reconciler.settings import Settings
from reconciler.store import repo_snapshots
from reconciler.store.db import Store
from reconciler.store.schema import table_of
from reconciler.store.tables import SnapshotContactRow, WebhookReceiptRow
from tests.service.conftest import highlevel_pair, signed_delivery

URL = "/webhooks/highlevel"


class Harness:
    def __init__(self, store: Store, receiver: WebhookReceiver, client: httpx.AsyncClient) -> None:
        self.store = store
        self.receiver = receiver
        self.client = client
        self.requested: list[str] = []

    async def post(self, body: bytes, headers: dict[str, str]) -> httpx.Response:
        return await self.client.post(URL, content=body, headers=headers)

    async def receipts(self) -> int:
        async with self.store.session() as s:
            return int(
                await s.scalar(select(func.count()).select_from(table_of(WebhookReceiptRow))) or 0
            )

    async def dirty(self, pair_id: str, side: str) -> dict[str, str | None]:
        async with self.store.session() as s:
            rows = await s.execute(
                select(table_of(SnapshotContactRow)).where(
                    table_of(SnapshotContactRow).c.pair_id == pair_id,
                    table_of(SnapshotContactRow).c.side == side,
                    table_of(SnapshotContactRow).c.dirty.is_(True),
                )
            )
            return {row.contact_id: row.dirty_reason for row in rows}


@pytest.fixture
async def harness(store: Store, settings: Settings) -> AsyncIterator[Harness]:
    verifier = SignatureVerifier(
        ed25519_pem=settings.webhook_ed25519_public_key, rsa_pem=settings.webhook_rsa_public_key
    )
    requested: list[str] = []
    receiver = WebhookReceiver(
        store,
        verifier,
        request_run=requested.append,
        tolerance_s=300,
        metrics=ServiceMetrics(),
    )
    app = FastAPI()
    app.include_router(webhook_router(receiver))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://service.test") as client:
        h = Harness(store, receiver, client)
        h.requested = requested
        yield h


async def test_signed_contact_update_marks_dirty_and_requests_a_run(
    harness: Harness, webhook_keys: WebhookKeys
) -> None:
    pair_id = await highlevel_pair(harness.store, "p1", "locA", "locB")
    other = await highlevel_pair(harness.store, "p2", "locC", "locA")  # locA is side b here
    body, headers = signed_delivery(
        webhook_keys, {"type": "ContactUpdate", "locationId": "locA", "id": "c1"}
    )
    response = await harness.post(body, headers)
    assert response.status_code == 200, response.text
    assert response.json() == {"status": "accepted", "pairs": 2}
    assert await harness.dirty(pair_id, "a") == {"c1": DIRTY_CONTACT}
    assert await harness.dirty(other, "b") == {"c1": DIRTY_CONTACT}
    assert await harness.dirty(pair_id, "b") == {}
    assert sorted(harness.requested) == sorted([pair_id, other])
    assert harness.receiver.metrics.webhooks.value(outcome="accepted") == 1


@pytest.mark.parametrize(
    ("event", "key", "reason"),
    [
        ("ContactDelete", "id", DIRTY_DELETED),
        ("NoteCreate", "contactId", DIRTY_NOTES),
        ("NoteUpdate", "contactId", DIRTY_NOTES),
        ("NoteDelete", "contactId", DIRTY_NOTES),
        ("ContactTagUpdate", "id", DIRTY_CONTACT),
    ],
)
async def test_event_kinds_set_their_dirty_reason(
    harness: Harness, webhook_keys: WebhookKeys, event: str, key: str, reason: str
) -> None:
    pair_id = await highlevel_pair(harness.store, "p", "locA", "locB")
    payload = {"type": event, "locationId": "locB", key: "contact-9"}
    if key == "contactId":
        payload["id"] = "note-1"
    body, headers = signed_delivery(webhook_keys, payload)
    assert (await harness.post(body, headers)).status_code == 200
    assert await harness.dirty(pair_id, "b") == {"contact-9": reason}


async def test_legacy_rsa_signature_alone_is_accepted(
    harness: Harness, webhook_keys: WebhookKeys
) -> None:
    pair_id = await highlevel_pair(harness.store, "p", "locA", "locB")
    body, headers = signed_delivery(
        webhook_keys,
        {"type": "NoteCreate", "locationId": "locA", "id": "n1", "contactId": "c1"},
        headers=("x-wh-signature",),
    )
    assert (await harness.post(body, headers)).status_code == 200
    assert await harness.dirty(pair_id, "a") == {"c1": DIRTY_NOTES}


async def test_ed25519_signature_alone_is_accepted(
    harness: Harness, webhook_keys: WebhookKeys
) -> None:
    await highlevel_pair(harness.store, "p", "locA", "locB")
    body, headers = signed_delivery(
        webhook_keys,
        {"type": "ContactCreate", "locationId": "locA", "id": "c1"},
        headers=("x-ghl-signature",),
    )
    assert (await harness.post(body, headers)).status_code == 200


@pytest.mark.parametrize("tamper", ["body", "signature", "unsigned", "other_key", "not_base64"])
async def test_bad_signatures_get_401_and_record_nothing(
    harness: Harness, webhook_keys: WebhookKeys, tamper: str
) -> None:
    pair_id = await highlevel_pair(harness.store, "p", "locA", "locB")
    body, headers = signed_delivery(
        webhook_keys, {"type": "ContactDelete", "locationId": "locA", "id": "c1"}
    )
    if tamper == "body":
        body = body.replace(b'"c1"', b'"c2"')
    elif tamper == "signature":
        for name in ("x-ghl-signature", "x-wh-signature"):
            raw = bytearray(base64.b64decode(headers[name]))
            raw[0] ^= 0xFF
            headers[name] = base64.b64encode(bytes(raw)).decode()
    elif tamper == "unsigned":
        del headers["x-ghl-signature"], headers["x-wh-signature"]
    elif tamper == "other_key":
        stranger = WebhookKeys(rsa_bits=1024)
        headers.update(stranger.sign(body))
    else:
        headers["x-ghl-signature"] = "%%%not base64%%%"
        headers["x-wh-signature"] = "***"
    response = await harness.post(body, headers)
    assert response.status_code == 401
    assert await harness.receipts() == 0
    assert await harness.dirty(pair_id, "a") == {}
    assert harness.requested == []


async def test_replayed_webhook_id_is_refused(harness: Harness, webhook_keys: WebhookKeys) -> None:
    pair_id = await highlevel_pair(harness.store, "p", "locA", "locB")
    body, headers = signed_delivery(
        webhook_keys, {"type": "ContactUpdate", "locationId": "locA", "id": "c1"}
    )
    assert (await harness.post(body, headers)).status_code == 200
    async with harness.store.transaction() as s:  # the run handled the hint
        await repo_snapshots.clear_dirty(
            s, pair_id, "a", ["c1"], marked_before=datetime.now(UTC) + timedelta(seconds=1)
        )
    replay = await harness.post(body, headers)
    assert replay.status_code == 409
    assert await harness.receipts() == 1
    assert await harness.dirty(pair_id, "a") == {}
    assert harness.requested == [pair_id]
    # Same id, new signed body (e.g. another timestamp): still a replay.
    body2, headers2 = signed_delivery(
        webhook_keys,
        {"type": "ContactUpdate", "locationId": "locA", "id": "c1"},
        webhook_id=json.loads(body)["webhookId"],
    )
    assert (await harness.post(body2, headers2)).status_code == 409


@pytest.mark.parametrize("offset", [timedelta(minutes=-6), timedelta(minutes=6)])
async def test_stale_or_future_timestamp_is_refused(
    harness: Harness, webhook_keys: WebhookKeys, offset: timedelta
) -> None:
    pair_id = await highlevel_pair(harness.store, "p", "locA", "locB")
    body, headers = signed_delivery(
        webhook_keys,
        {"type": "ContactUpdate", "locationId": "locA", "id": "c1"},
        timestamp=datetime.now(UTC) + offset,
    )
    response = await harness.post(body, headers)
    assert response.status_code == 401
    assert "timestamp" in response.json()["error"]
    assert await harness.receipts() == 0
    assert await harness.dirty(pair_id, "a") == {}


async def test_timestamp_inside_the_window_is_accepted(
    harness: Harness, webhook_keys: WebhookKeys
) -> None:
    await highlevel_pair(harness.store, "p", "locA", "locB")
    body, headers = signed_delivery(
        webhook_keys,
        {"type": "ContactUpdate", "locationId": "locA", "id": "c1"},
        timestamp=datetime.now(UTC) - timedelta(minutes=4),
    )
    assert (await harness.post(body, headers)).status_code == 200


@pytest.mark.parametrize(
    "raw",
    [
        b"not json",
        b"[1, 2]",
        b'{"type": "ContactUpdate", "locationId": "locA", "id": "c1"}',  # no timestamp/webhookId
        # no locationId
        b'{"type": "ContactUpdate", "id": "c1", "timestamp": "2025-01-01T00:00:00Z", '
        b'"webhookId": "w"}',
    ],
)
async def test_signed_but_malformed_bodies_get_400(
    harness: Harness, webhook_keys: WebhookKeys, raw: bytes
) -> None:
    headers = {"content-type": "application/json", **webhook_keys.sign(raw)}
    response = await harness.post(raw, headers)
    assert response.status_code == 400
    assert await harness.receipts() == 0


async def test_events_for_unknown_locations_and_tasks_are_ignored(
    harness: Harness, webhook_keys: WebhookKeys
) -> None:
    pair_id = await highlevel_pair(harness.store, "p", "locA", "locB")
    for payload in (
        {"type": "ContactUpdate", "locationId": "elsewhere", "id": "c1"},
        {"type": "TaskCreate", "locationId": "locA", "id": "t1", "contactId": "c1"},
        {"type": "INSTALL", "locationId": "locA", "appId": "x"},
    ):
        body, headers = signed_delivery(webhook_keys, payload)
        response = await harness.post(body, headers)
        assert response.status_code == 200
        assert response.json()["status"] == "ignored"
    assert await harness.dirty(pair_id, "a") == {}
    assert harness.requested == []
    assert await harness.receipts() == 3  # still guarded against replay


async def test_disabled_pairs_are_not_marked(harness: Harness, webhook_keys: WebhookKeys) -> None:
    pair_id = await highlevel_pair(harness.store, "p", "locA", "locB", enabled=False)
    body, headers = signed_delivery(
        webhook_keys, {"type": "ContactUpdate", "locationId": "locA", "id": "c1"}
    )
    assert (await harness.post(body, headers)).json()["status"] == "ignored"
    assert await harness.dirty(pair_id, "a") == {}


async def test_oversized_body_is_refused_unread(harness: Harness) -> None:
    response = await harness.post(b"x" * 1_000_001, {"content-type": "application/json"})
    assert response.status_code == 413
    assert await harness.receipts() == 0
