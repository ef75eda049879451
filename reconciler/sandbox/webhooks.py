"""Webhook delivery: signed, asynchronous, at most once (only a 429 is retried), as HighLevel.

Each delivery's payload gets ``timestamp`` (ISO 8601) and a fresh ``webhookId`` (the replay
guard the webhook guide describes), is serialised once, and that exact body is signed twice:
``x-ghl-signature`` (Ed25519, base64) and the legacy ``x-wh-signature`` (RSA PKCS#1 v1.5 with
SHA-256, base64). The sandbox makes both key pairs and publishes the public halves (PEM) at
``GET /sandbox/webhook-keys``. Deliveries run on a background task with one
``httpx.AsyncClient``, so API answers never wait for a receiver.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import uuid
from collections import deque
from dataclasses import dataclass
from typing import Any

import httpx
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

from reconciler.sandbox.clock import Clock

log = logging.getLogger(__name__)


class WebhookKeys:
    """The two signing key pairs, made on first use (RSA generation costs tens of ms)."""

    def __init__(
        self, rsa_bits: int = 2048, *, ed25519_pem: str | None = None, rsa_pem: str | None = None
    ) -> None:
        self._rsa_bits = rsa_bits
        self._ed: ed25519.Ed25519PrivateKey | None = None
        self._rsa: rsa.RSAPrivateKey | None = None
        if ed25519_pem:
            key = serialization.load_pem_private_key(ed25519_pem.encode(), password=None)
            assert isinstance(key, ed25519.Ed25519PrivateKey)
            self._ed = key
        if rsa_pem:
            key2 = serialization.load_pem_private_key(rsa_pem.encode(), password=None)
            assert isinstance(key2, rsa.RSAPrivateKey)
            self._rsa = key2

    @property
    def ed25519(self) -> ed25519.Ed25519PrivateKey:
        if self._ed is None:
            self._ed = ed25519.Ed25519PrivateKey.generate()
        return self._ed

    @property
    def rsa(self) -> rsa.RSAPrivateKey:
        if self._rsa is None:
            self._rsa = rsa.generate_private_key(public_exponent=65537, key_size=self._rsa_bits)
        return self._rsa

    def sign(self, body: bytes) -> dict[str, str]:
        ed_sig = self.ed25519.sign(body)
        rsa_sig = self.rsa.sign(body, padding.PKCS1v15(), hashes.SHA256())
        return {
            "x-ghl-signature": base64.b64encode(ed_sig).decode(),
            "x-wh-signature": base64.b64encode(rsa_sig).decode(),
        }

    def public_pems(self) -> dict[str, str]:
        def pem(key: ed25519.Ed25519PublicKey | rsa.RSAPublicKey) -> str:
            return key.public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            ).decode()

        return {"ed25519": pem(self.ed25519.public_key()), "rsa": pem(self.rsa.public_key())}

    def private_pems(self) -> dict[str, str]:
        def pem(key: ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey) -> str:
            return key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ).decode()

        return {"ed25519": pem(self.ed25519), "rsa": pem(self.rsa)}


@dataclass
class Delivery:
    """One attempt log entry, kept for tests and the admin export."""

    url: str
    event: str
    webhook_id: str
    status: int | None = None
    attempts: int = 0
    outcome: str = "queued"  # queued | delivered | failed | dropped


class WebhookDispatcher:
    def __init__(
        self,
        keys: WebhookKeys,
        clock: Clock,
        *,
        timeout: float,
        retry_delay: float,
        max_attempts: int,
    ) -> None:
        self.keys = keys
        self.clock = clock
        self.timeout = timeout
        self.retry_delay = retry_delay
        self.max_attempts = max_attempts
        self.deliveries: deque[Delivery] = deque(maxlen=10_000)
        self._queue: asyncio.Queue[tuple[Delivery, bytes]] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None
        self._client: httpx.AsyncClient | None = None

    def dropped(self, url: str, payload: dict[str, Any]) -> None:
        self.deliveries.append(Delivery(url, payload["type"], "", outcome="dropped"))

    def enqueue(self, url: str, payload: dict[str, Any]) -> None:
        body = dict(payload)
        body["timestamp"] = self.clock.iso()
        body["webhookId"] = str(uuid.uuid4())
        raw = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
        delivery = Delivery(url, payload["type"], body["webhookId"])
        self.deliveries.append(delivery)
        self._queue.put_nowait((delivery, raw))
        self._ensure_worker()

    def _ensure_worker(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # started by the next enqueue or drain() inside the loop
        if self._worker is None or self._worker.done():
            self._worker = loop.create_task(self._run(), name="sandbox-webhooks")

    async def _run(self) -> None:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self.timeout)
        while True:
            delivery, raw = await self._queue.get()
            try:
                await self._deliver(self._client, delivery, raw)
            finally:
                self._queue.task_done()

    async def _deliver(self, client: httpx.AsyncClient, delivery: Delivery, raw: bytes) -> None:
        headers = {"content-type": "application/json", **self.keys.sign(raw)}
        while delivery.attempts < self.max_attempts:
            delivery.attempts += 1
            try:
                response = await client.post(delivery.url, content=raw, headers=headers)
            except httpx.HTTPError as exc:
                # At most once: a failed attempt is not repeated.
                delivery.outcome = "failed"
                log.info("webhook %s to %s failed: %s", delivery.event, delivery.url, exc)
                return
            delivery.status = response.status_code
            if response.status_code != 429:
                delivery.outcome = "delivered" if response.is_success else "failed"
                return
            await asyncio.sleep(self.retry_delay * delivery.attempts)
        delivery.outcome = "failed"

    async def drain(self) -> None:
        """Wait until every queued delivery was attempted (tests, shutdown)."""
        if not self._queue.empty():
            self._ensure_worker()
        await self._queue.join()

    async def aclose(self, grace_seconds: float = 2.0) -> None:
        """Give queued deliveries a short grace, then stop (at most once: the rest is lost)."""
        if self._worker is not None and not self._worker.done():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._queue.join(), grace_seconds)
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
            self._worker = None
        if self._client is not None:
            await self._client.aclose()
            self._client = None
