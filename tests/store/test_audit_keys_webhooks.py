"""Audit log, API keys (hash only, constant-time verify) and webhook receipts."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from reconciler.store import repo_api_keys as api_keys
from reconciler.store import repo_audit as audit
from reconciler.store import repo_webhooks as webhooks
from reconciler.store.db import Store
from reconciler.store.schema import ApiKeyRole
from reconciler.store.tables import ApiKeyRow, PairRow

from .conftest import NOW


async def test_audit_append_and_pages(store: Store, pair: PairRow) -> None:
    entries = [
        audit.AuditEntry(
            actor="run:r1",
            kind="action.applied",
            at=NOW + timedelta(seconds=n),
            pair_id=pair.id,
            subject=f"l{n}",
            detail={"kind": "add_tags", "n": n},
        )
        for n in range(5)
    ]
    entries.append(audit.AuditEntry(actor="user:ops", kind="api_key.created", at=NOW))
    async with store.transaction() as s:
        await audit.append(s, entries)
    async with store.session() as s:
        page1 = await audit.list_events(s, pair_id=pair.id, limit=3)
        page2 = await audit.list_events(
            s, pair_id=pair.id, limit=3, before=(page1[-1].at, page1[-1].id or 0)
        )
        global_events = await audit.list_events(s, kind="api_key.created")
        one = await audit.list_events(s, subject="l2")
    assert [e.subject for e in page1 + page2] == ["l4", "l3", "l2", "l1", "l0"]
    assert page1[0].detail == {"kind": "add_tags", "n": 4}
    assert [e.pair_id for e in global_events] == [None]
    assert [e.detail["n"] for e in one] == [2]


async def test_api_key_shown_once_stored_as_hash(store: Store) -> None:
    async with store.transaction() as s:
        row, plain = await api_keys.create_api_key(
            s, name="console", role=ApiKeyRole.OPERATOR, now=NOW
        )
    async with store.session() as s:
        stored = list((await s.execute(select(ApiKeyRow))).scalars())
    assert plain.startswith("rk_")
    assert len(stored) == 1
    assert plain not in (stored[0].key_hash, stored[0].prefix)
    assert stored[0].key_hash == api_keys.hash_key(plain)
    later = NOW + timedelta(minutes=5)
    async with store.transaction() as s:
        verified = await api_keys.verify_api_key(s, plain, now=later)
        assert verified is not None
        assert (verified.id, verified.role, verified.last_used_at) == (row.id, "operator", later)
        # Within the minute, use is not written again.
        again = await api_keys.verify_api_key(s, plain, now=later + timedelta(seconds=10))
        assert again is not None
        assert again.last_used_at == later
    async with store.transaction() as s:
        assert await api_keys.verify_api_key(s, plain + "x", now=later) is None
        assert await api_keys.verify_api_key(s, "rk_000000000000_guess", now=later) is None
        assert await api_keys.verify_api_key(s, "garbage", now=later) is None
        assert await api_keys.revoke_api_key(s, row.id, now=later)
        assert not await api_keys.revoke_api_key(s, row.id, now=later)
        assert await api_keys.verify_api_key(s, plain, now=later) is None
        assert await api_keys.list_api_keys(s) == []
        assert len(await api_keys.list_api_keys(s, include_revoked=True)) == 1


async def test_webhook_replay_guard(store: Store) -> None:
    async with store.transaction() as s:
        assert await webhooks.record_webhook(s, "wh-1", received_at=NOW)
        assert not await webhooks.record_webhook(s, "wh-1", received_at=NOW)
        assert await webhooks.record_webhook(s, "wh-2", received_at=NOW + timedelta(hours=1))
        pruned = await webhooks.prune_webhooks(s, received_before=NOW + timedelta(minutes=1))
        assert pruned == 1
        assert await webhooks.record_webhook(s, "wh-1", received_at=NOW + timedelta(hours=2))
