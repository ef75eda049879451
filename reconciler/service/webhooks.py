"""``POST /webhooks/highlevel``: HighLevel's signed event deliveries, taken as hints.

A delivery is checked in this order, and refused at the first failure with nothing recorded:

1. signature over the exact raw body: ``x-ghl-signature`` (Ed25519, base64) or the legacy
   ``x-wh-signature`` (RSA PKCS#1 v1.5 + SHA-256, base64), each against its configured public
   key; one valid signature is enough, none is 401;
2. the body is a JSON object with ``type``, ``locationId``, ``timestamp`` and ``webhookId``
   (400 otherwise);
3. ``timestamp`` within ``tolerance`` of now, either way (401: a stale delivery is a replay);
4. ``webhookId`` never seen (the ``webhook_receipt`` table, unique; 409 for a replay). The
   receipt and the dirty marks are one transaction: a delivery that cannot be recorded is not
   half taken.

A valid contact or note event marks the contact dirty in every pair that has the location as
a side (``ContactDelete``: confirm the deletion; ``Note*``: read the notes again; other contact
events: read the contact again) and asks the scheduler for a debounced run of those pairs. A
webhook never writes to a side: the run does, after reading the side itself, because
deliveries can be lost, late, or out of order.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from reconciler.errors import ReconcilerError
from reconciler.service.metrics import ServiceMetrics
from reconciler.sides.base import SideName
from reconciler.store import repo_snapshots, repo_webhooks
from reconciler.store.db import Store
from reconciler.store.schema import AccountKind, table_of
from reconciler.store.tables import PairRow, SideAccountRow
from reconciler.store.types import utcnow

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
_ACCOUNT = table_of(SideAccountRow)
_PAIR = table_of(PairRow)

ED25519_HEADER = "x-ghl-signature"
RSA_HEADER = "x-wh-signature"
MAX_BODY_BYTES = 1_000_000

# Dirty reasons (``snapshot_contact.dirty_reason``): what the next run should look at.
DIRTY_CONTACT = "contact_changed"
DIRTY_DELETED = "contact_deleted"  # confirm with a read (404) before believing it
DIRTY_NOTES = "notes_changed"

CONTACT_EVENTS = {
    "ContactCreate": DIRTY_CONTACT,
    "ContactUpdate": DIRTY_CONTACT,
    "ContactTagUpdate": DIRTY_CONTACT,
    "ContactDndUpdate": DIRTY_CONTACT,
    "ContactDelete": DIRTY_DELETED,
}
NOTE_EVENTS = {"NoteCreate": DIRTY_NOTES, "NoteUpdate": DIRTY_NOTES, "NoteDelete": DIRTY_NOTES}


class WebhookRejected(ReconcilerError):
    """A delivery refused; ``status`` is the HTTP answer, ``outcome`` the metrics label."""

    def __init__(self, status: int, outcome: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.outcome = outcome
        self.message = message


@dataclass(frozen=True, slots=True)
class WebhookEvent:
    type: str
    location_id: str
    webhook_id: str
    timestamp: datetime
    contact_id: str | None
    dirty_reason: str | None  # None: an event this service does not act on


class SignatureVerifier:
    """Checks ``x-ghl-signature`` / ``x-wh-signature`` against the configured public keys."""

    def __init__(self, *, ed25519_pem: str | None, rsa_pem: str | None) -> None:
        self._ed: ed25519.Ed25519PublicKey | None = None
        self._rsa: rsa.RSAPublicKey | None = None
        if ed25519_pem:
            key = load_pem_public_key(ed25519_pem.encode("ascii"))
            if not isinstance(key, ed25519.Ed25519PublicKey):
                raise ValueError("the x-ghl-signature key must be an Ed25519 public key")
            self._ed = key
        if rsa_pem:
            key2 = load_pem_public_key(rsa_pem.encode("ascii"))
            if not isinstance(key2, rsa.RSAPublicKey):
                raise ValueError("the x-wh-signature key must be an RSA public key")
            self._rsa = key2

    @property
    def configured(self) -> bool:
        return self._ed is not None or self._rsa is not None

    def verify(self, body: bytes, headers: Mapping[str, str]) -> str:
        """The header whose signature is valid; ``WebhookRejected`` (401) if none is."""
        ed_sig = _b64(headers.get(ED25519_HEADER))
        if ed_sig is not None and self._ed is not None:
            try:
                self._ed.verify(ed_sig, body)
                return ED25519_HEADER
            except InvalidSignature:
                pass
        rsa_sig = _b64(headers.get(RSA_HEADER))
        if rsa_sig is not None and self._rsa is not None:
            try:
                self._rsa.verify(rsa_sig, body, padding.PKCS1v15(), hashes.SHA256())
                return RSA_HEADER
            except InvalidSignature:
                pass
        if ed_sig is None and rsa_sig is None:
            raise WebhookRejected(401, "unsigned", "no valid signature header")
        raise WebhookRejected(401, "bad_signature", "signature does not verify")


def _b64(value: str | None) -> bytes | None:
    if not value:
        return None
    try:
        return base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        return b""  # present but not base64: verifies against nothing


def parse_event(body: bytes, *, now: datetime, tolerance: timedelta) -> WebhookEvent:
    """The delivery's event, or ``WebhookRejected`` (400 malformed, 401 stale)."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise WebhookRejected(400, "malformed", "the body is not JSON") from exc
    if not isinstance(data, dict):
        raise WebhookRejected(400, "malformed", "the body is not a JSON object")
    event_type = _text(data, "type")
    location_id = _text(data, "locationId")
    webhook_id = _text(data, "webhookId")
    timestamp = _timestamp(data.get("timestamp"))
    if timestamp is None:
        raise WebhookRejected(400, "malformed", "timestamp is missing or not a date")
    if abs(now - timestamp) > tolerance:
        raise WebhookRejected(401, "stale", "timestamp is outside the accepted window")
    reason = CONTACT_EVENTS.get(event_type) or NOTE_EVENTS.get(event_type)
    contact_id: str | None = None
    if event_type in CONTACT_EVENTS:
        contact_id = _text(data, "id")
    elif event_type in NOTE_EVENTS:
        contact_id = _text(data, "contactId")
    return WebhookEvent(event_type, location_id, webhook_id, timestamp, contact_id, reason)


def _text(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip() or len(value) > 200:
        raise WebhookRejected(400, "malformed", f"{key} is missing or not a string")
    return value.strip()


def _timestamp(value: Any) -> datetime | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = value / 1000 if value > 1e11 else value  # milliseconds or seconds
        try:
            return datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


async def pair_sides_of_location(s: AsyncSession, location_id: str) -> list[tuple[str, SideName]]:
    """Every (pair, side) whose side is this HighLevel location (enabled pairs only)."""
    accounts = select(_ACCOUNT.c.id).where(
        _ACCOUNT.c.kind == AccountKind.HIGHLEVEL.value, _ACCOUNT.c.location_id == location_id
    )
    ids = set((await s.execute(accounts)).scalars())
    if not ids:
        return []
    rows = await s.execute(
        select(_PAIR.c.id, _PAIR.c.side_a_account_id, _PAIR.c.side_b_account_id).where(
            or_(_PAIR.c.side_a_account_id.in_(ids), _PAIR.c.side_b_account_id.in_(ids)),
            _PAIR.c.enabled.is_(True),
        )
    )
    out: list[tuple[str, SideName]] = []
    for pair_id, a_account, b_account in rows:
        if a_account in ids:
            out.append((pair_id, "a"))
        if b_account in ids:
            out.append((pair_id, "b"))
    return out


RunRequester = Callable[[str], None]


class WebhookReceiver:
    """Verifies, records and turns deliveries into dirty marks and run requests."""

    def __init__(
        self,
        store: Store,
        verifier: SignatureVerifier,
        *,
        request_run: RunRequester | None,
        tolerance_s: float = 300.0,
        metrics: ServiceMetrics | None = None,
        clock: Clock = utcnow,
    ) -> None:
        self.store = store
        self.verifier = verifier
        self.request_run = request_run
        self.tolerance = timedelta(seconds=tolerance_s)
        self.metrics = metrics or ServiceMetrics()
        self.clock = clock

    async def receive(self, body: bytes, headers: Mapping[str, str]) -> dict[str, Any]:
        """Take one delivery; the answer's body, or ``WebhookRejected``."""
        try:
            self.verifier.verify(body, headers)
            now = self.clock()
            event = parse_event(body, now=now, tolerance=self.tolerance)
            pairs = await self._record(event, now)
        except WebhookRejected as exc:
            self.metrics.webhooks.inc(outcome=exc.outcome)
            raise
        if self.request_run is not None:
            for pair_id in sorted({pair_id for pair_id, _side in pairs}):
                self.request_run(pair_id)
        outcome = "accepted" if pairs else "ignored"
        self.metrics.webhooks.inc(outcome=outcome)
        log.info(
            "webhook %s %s",
            event.type,
            outcome,
            extra={
                "webhook_id": event.webhook_id,
                "location_id": event.location_id,
                "contact_id": event.contact_id,
                "pairs": sorted({p for p, _ in pairs}),
            },
        )
        return {"status": outcome, "pairs": len({p for p, _ in pairs})}

    async def _record(self, event: WebhookEvent, now: datetime) -> list[tuple[str, SideName]]:
        async with self.store.transaction() as s:
            if not await repo_webhooks.record_webhook(s, event.webhook_id, received_at=now):
                raise WebhookRejected(409, "replay", "webhookId was already received")
            if event.dirty_reason is None or event.contact_id is None:
                return []
            pairs = await pair_sides_of_location(s, event.location_id)
            for pair_id, side in pairs:
                await repo_snapshots.mark_dirty(
                    s, pair_id, side, [event.contact_id], reason=event.dirty_reason, now=now
                )
            return pairs


def webhook_router(receiver: WebhookReceiver) -> APIRouter:
    router = APIRouter()

    @router.post("/webhooks/highlevel", include_in_schema=False)
    async def highlevel_webhook(request: Request) -> JSONResponse:
        declared = request.headers.get("content-length", "0")
        too_large = not declared.isdigit() or int(declared) > MAX_BODY_BYTES
        body = b"" if too_large else await request.body()
        if too_large or len(body) > MAX_BODY_BYTES:
            receiver.metrics.webhooks.inc(outcome="too_large")
            return JSONResponse({"error": "body too large"}, status_code=413)
        try:
            answer = await receiver.receive(body, request.headers)
        except WebhookRejected as exc:
            log.info("webhook refused: %s", exc.message, extra={"outcome": exc.outcome})
            return JSONResponse({"error": exc.message}, status_code=exc.status)
        except ReconcilerError as exc:
            # The store failed: 503 so a retrying sender tries again later.
            receiver.metrics.errors.inc(component="webhooks")
            log.error("webhook not recorded: %s", exc)
            return JSONResponse({"error": "temporarily unavailable"}, status_code=503)
        return JSONResponse(answer)

    return router
