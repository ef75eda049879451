"""Fixtures of the service tests: settings on the test database, webhook signing keys (the
sandbox's signer, which signs as HighLevel does), pairs of HighLevel accounts."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from reconciler.sandbox.webhooks import WebhookKeys
from reconciler.settings import Settings
from reconciler.store import repo_pairs
from reconciler.store.crypto import generate_key
from reconciler.store.db import Store
from reconciler.store.schema import AccountKind, AuthKind


@pytest.fixture(scope="session")
def webhook_keys() -> WebhookKeys:
    keys = WebhookKeys(rsa_bits=2048)
    keys.public_pems()  # make both pairs once per session
    return keys


@pytest.fixture
def settings(store_url: str, tmp_path: Path, webhook_keys: WebhookKeys) -> Settings:
    pems = webhook_keys.public_pems()
    return Settings(
        env="test",
        data_dir=tmp_path,
        database_url=store_url,
        secret_key=generate_key(),
        webhook_ed25519_public_key=pems["ed25519"],
        webhook_rsa_public_key=pems["rsa"],
        schedule_min_interval_s=1,
        schedule_interval_s=60,
        schedule_jitter_s=0,
        lease_ttl_s=5,
        shutdown_grace_s=0,
        webhook_debounce_s=0.2,
        auto_migrate=False,  # the store fixture's database is migrated already
    )


def signed_delivery(
    keys: WebhookKeys,
    payload: Mapping[str, Any],
    *,
    timestamp: datetime | None = None,
    webhook_id: str | None = None,
    headers: tuple[str, ...] = ("x-ghl-signature", "x-wh-signature"),
) -> tuple[bytes, dict[str, str]]:
    """A delivery as HighLevel (and the sandbox) sends it: body with ``timestamp`` and
    ``webhookId``, signed over the exact bytes."""
    body = dict(payload)
    when = timestamp or datetime.now(UTC)
    body["timestamp"] = when.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    body["webhookId"] = webhook_id or str(uuid.uuid4())
    raw = json.dumps(body, separators=(",", ":")).encode()
    signatures = keys.sign(raw)
    sent = {"content-type": "application/json"}
    sent.update({name: signatures[name] for name in headers})
    return raw, sent


async def highlevel_pair(
    store: Store,
    name: str,
    a_location: str,
    b_location: str,
    *,
    interval_s: int = 60,
    enabled: bool = True,
) -> str:
    """A pair of two HighLevel locations (accounts shared with other pairs); its id."""
    now = datetime.now(UTC)
    async with store.transaction() as s:
        ids = []
        for location in (a_location, b_location):
            account = await repo_pairs.find_side_account(s, AccountKind.HIGHLEVEL, location)
            if account is None:
                account = await repo_pairs.create_side_account(
                    s,
                    label=f"HighLevel {location}",
                    kind=AccountKind.HIGHLEVEL,
                    location_id=location,
                    auth_kind=AuthKind.OAUTH,
                    now=now,
                )
            ids.append(account.id)
        pair = await repo_pairs.create_pair(
            s,
            name=name,
            side_a_account_id=ids[0],
            side_b_account_id=ids[1],
            now=now,
            schedule_interval_s=interval_s,
            enabled=enabled,
        )
        return pair.id
