from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from reconciler.errors import StoreConflictError
from reconciler.store import repo_pairs
from reconciler.store.credentials import AccountCredentials
from reconciler.store.crypto import Cipher, Secret
from reconciler.store.db import Store
from reconciler.store.schema import AccountKind, AuthKind
from reconciler.store.tables import PairRow
from reconciler.sync.model import DeletePolicy, NoteConflictPolicy, PairPolicy

from .conftest import NOW


async def test_pair_round_trip_with_policy(store: Store, pair: PairRow) -> None:
    async with store.session() as s:
        loaded = await repo_pairs.get_pair(s, pair.id)
        by_name = await repo_pairs.get_pair_by_name(s, "main")
    assert loaded is not None
    assert by_name is not None
    assert by_name.id == pair.id
    assert loaded.created_at == NOW  # aware UTC, microseconds kept
    assert loaded.created_at.tzinfo is UTC
    assert repo_pairs.pair_policy(loaded) == PairPolicy()


async def test_update_pair_policy_and_schedule(store: Store, pair: PairRow) -> None:
    policy = PairPolicy(note_conflict=NoteConflictPolicy.A_WINS, delete=DeletePolicy.IGNORE)
    later = NOW + timedelta(minutes=1)
    async with store.transaction() as s:
        updated = await repo_pairs.update_pair(
            s, pair.id, policy=policy, schedule_interval_s=60, enabled=False, now=later
        )
        missing = await repo_pairs.update_pair(s, "nope", enabled=True, now=later)
    assert missing is None
    assert updated is not None
    assert repo_pairs.pair_policy(updated) == policy
    assert (updated.schedule_interval_s, updated.enabled, updated.updated_at) == (60, False, later)
    async with store.session() as s:
        assert [p.id for p in await repo_pairs.list_pairs(s)] == [pair.id]
        assert await repo_pairs.list_pairs(s, enabled_only=True) == []


async def test_pair_names_are_unique(store: Store, pair: PairRow) -> None:
    with pytest.raises(StoreConflictError):
        async with store.transaction() as s:
            await repo_pairs.create_pair(
                s,
                name="main",
                side_a_account_id=pair.side_a_account_id,
                side_b_account_id=pair.side_b_account_id,
                now=NOW,
            )


async def test_scan_progress_per_side(store: Store, pair: PairRow) -> None:
    mark = NOW + timedelta(hours=1)
    async with store.transaction() as s:
        await repo_pairs.set_scan_progress(s, pair.id, "b", watermark=mark, full_scan_at=mark)
    async with store.session() as s:
        loaded = await repo_pairs.get_pair(s, pair.id)
    assert loaded is not None
    assert (loaded.a_watermark, loaded.a_full_scan_at) == (None, None)
    assert (loaded.b_watermark, loaded.b_full_scan_at) == (mark, mark)


async def test_side_account_credentials_are_encrypted(store: Store, cipher: Cipher) -> None:
    credentials = AccountCredentials(
        pit=Secret("pit-0123456789abcdef"), client_id="app", client_secret=Secret("s3cr3t-x")
    )
    async with store.transaction() as s:
        account = await repo_pairs.create_side_account(
            s,
            label="HL",
            kind=AccountKind.HIGHLEVEL,
            location_id="loc-1",
            auth_kind=AuthKind.PIT,
            credentials=credentials,
            cipher=cipher,
            now=NOW,
        )
    async with store.session() as s:
        row = await repo_pairs.get_side_account(s, account.id)
        found = await repo_pairs.find_side_account(s, AccountKind.HIGHLEVEL, "loc-1")
        loaded = await repo_pairs.get_credentials(s, cipher, account.id)
    assert row is not None
    assert found is not None
    assert found.id == account.id
    assert row.credentials is not None
    assert "pit-0123456789abcdef" not in row.credentials
    assert "s3cr3t-x" not in row.credentials
    assert loaded == credentials
    assert loaded is not None
    assert loaded.pit is not None
    assert loaded.pit.reveal() == "pit-0123456789abcdef"
    assert "pit-0123" not in repr(loaded)
    assert "s3cr3t" not in repr(loaded)


async def test_credentials_need_the_cipher(store: Store) -> None:
    async with store.transaction() as s:
        with pytest.raises(ValueError, match="encrypted"):
            await repo_pairs.create_side_account(
                s,
                label="HL",
                kind=AccountKind.HIGHLEVEL,
                credentials=AccountCredentials(pit=Secret("pit-x")),
                now=NOW,
            )


async def test_one_account_per_location(store: Store) -> None:
    async with store.transaction() as s:
        await repo_pairs.create_side_account(
            s, label="first", kind=AccountKind.HIGHLEVEL, location_id="loc-1", now=NOW
        )
    with pytest.raises(StoreConflictError):
        async with store.transaction() as s:
            await repo_pairs.create_side_account(
                s, label="second", kind=AccountKind.HIGHLEVEL, location_id="loc-1", now=NOW
            )


async def test_lease_is_exclusive_until_it_expires(store: Store, pair: PairRow) -> None:
    ttl = timedelta(seconds=30)
    async with store.transaction() as s:
        assert await repo_pairs.acquire_lease(s, pair.id, "p1", now=NOW, ttl=ttl)
        assert not await repo_pairs.acquire_lease(s, pair.id, "p2", now=NOW, ttl=ttl)
        # The holder extends its own lease.
        assert await repo_pairs.acquire_lease(s, pair.id, "p1", now=NOW + ttl / 2, ttl=ttl)
        assert not await repo_pairs.acquire_lease(s, pair.id, "p2", now=NOW + ttl, ttl=ttl)
        # Expired: anyone may take it.
        later = NOW + ttl * 2
        assert await repo_pairs.acquire_lease(s, pair.id, "p2", now=later, ttl=ttl)
        await repo_pairs.release_lease(s, pair.id, "p1")  # not the holder: no effect
        assert not await repo_pairs.acquire_lease(s, pair.id, "p1", now=later, ttl=ttl)
        await repo_pairs.release_lease(s, pair.id, "p2")
        assert await repo_pairs.acquire_lease(s, pair.id, "p1", now=later, ttl=ttl)


async def test_naive_datetimes_are_refused(store: Store) -> None:
    with pytest.raises(Exception, match="naive datetime"):
        async with store.transaction() as s:
            await repo_pairs.create_side_account(
                s,
                label="x",
                kind=AccountKind.MEMORY,
                now=datetime(2025, 1, 1),
            )
