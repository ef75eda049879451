"""DbTokenStore: the HighLevel connector's tokens, encrypted and saved atomically."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from reconciler.sides.highlevel.tokens import OAuthTokens, TokenStore
from reconciler.store import repo_pairs
from reconciler.store.credentials import AccountCredentials
from reconciler.store.crypto import Cipher, Secret
from reconciler.store.db import Store
from reconciler.store.schema import AccountKind, AuthKind
from reconciler.store.tables import SideAccountRow
from reconciler.store.token_store import DbTokenStore

from .conftest import NOW


def _tokens(n: int, location: str = "loc-1") -> OAuthTokens:
    return OAuthTokens(
        access_token=f"access-{n}-plain",
        refresh_token=f"refresh-{n}-plain",
        expires_at=datetime(2025, 1, 1, tzinfo=UTC) + timedelta(hours=n),
        scopes=frozenset({"contacts.readonly", "contacts.write"}),
        location_id=location,
    )


async def _raw_blobs(store: Store) -> list[str | None]:
    async with store.session() as s:
        return list((await s.execute(select(SideAccountRow.credentials))).scalars())  # type: ignore[call-overload]


async def test_round_trip_creates_the_account_and_encrypts(store: Store, cipher: Cipher) -> None:
    tokens: TokenStore = DbTokenStore(store, cipher)  # satisfies the connector's protocol
    assert await tokens.load("loc-1") is None
    await tokens.save(_tokens(1))
    assert await tokens.load("loc-1") == _tokens(1)
    assert await tokens.load("loc-2") is None
    blobs = await _raw_blobs(store)
    assert len(blobs) == 1
    assert blobs[0] is not None
    assert "plain" not in blobs[0]
    async with store.session() as s:
        account = await repo_pairs.find_side_account(s, AccountKind.HIGHLEVEL, "loc-1")
    assert account is not None
    assert account.auth_kind == AuthKind.OAUTH.value
    assert "plain" not in repr(tokens)


async def test_save_replaces_tokens_and_keeps_the_client_secret(
    store: Store, cipher: Cipher
) -> None:
    async with store.transaction() as s:
        account = await repo_pairs.create_side_account(
            s,
            label="HL",
            kind=AccountKind.HIGHLEVEL,
            location_id="loc-1",
            auth_kind=AuthKind.OAUTH,
            credentials=AccountCredentials(client_id="app", client_secret=Secret("cs-1")),
            cipher=cipher,
            now=NOW,
        )
    tokens = DbTokenStore(store, cipher)
    await tokens.save(_tokens(1))
    await tokens.save(_tokens(2))
    assert await tokens.load("loc-1") == _tokens(2)
    async with store.session() as s:
        credentials = await repo_pairs.get_credentials(s, cipher, account.id)
    assert credentials is not None
    assert credentials.client_id == "app"
    assert credentials.client_secret == Secret("cs-1")
    assert credentials.refresh_token == Secret("refresh-2-plain")


async def test_concurrent_saves_leave_one_whole_pair(store: Store, cipher: Cipher) -> None:
    tokens = DbTokenStore(store, cipher)
    await tokens.save(_tokens(0))
    await asyncio.gather(*(DbTokenStore(store, cipher).save(_tokens(n)) for n in range(1, 9)))
    final = await tokens.load("loc-1")
    # Whichever save came last, access and refresh token belong to the same save.
    assert final is not None
    n = int(final.access_token.split("-")[1])
    assert final == _tokens(n)
    assert len(await _raw_blobs(store)) == 1


async def test_tokens_saved_by_one_store_are_read_by_another(
    store_url: str, cipher: Cipher
) -> None:
    first, second = Store(store_url), Store(store_url)
    try:
        await DbTokenStore(first, cipher).save(_tokens(3))
        await first.dispose()  # durable once save returned: another process sees it
        assert await DbTokenStore(second, cipher).load("loc-1") == _tokens(3)
    finally:
        await first.dispose()
        await second.dispose()


async def test_partial_blob_without_refresh_token_loads_as_none(
    store: Store, cipher: Cipher
) -> None:
    async with store.transaction() as s:
        await repo_pairs.create_side_account(
            s,
            label="HL",
            kind=AccountKind.HIGHLEVEL,
            location_id="loc-1",
            auth_kind=AuthKind.PIT,
            credentials=AccountCredentials(pit=Secret("pit-1")),
            cipher=cipher,
            now=NOW,
        )
    assert await DbTokenStore(store, cipher).load("loc-1") is None
