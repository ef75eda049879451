"""``DbTokenStore``: the HighLevel connector's ``TokenStore``, persisted and encrypted.

HighLevel refresh tokens rotate on every use, so a save must be atomic and durable before the
connector uses the new access token (``reconciler.sides.highlevel.tokens``). Tokens live in the
encrypted credentials of the location's side account, beside whatever else the blob holds (the
app's client secret when it is per account), which a save keeps.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from reconciler.errors import StoreConflictError
from reconciler.sides.highlevel.tokens import OAuthTokens
from reconciler.store.credentials import AccountCredentials
from reconciler.store.crypto import Cipher, Secret
from reconciler.store.db import Store
from reconciler.store.schema import AccountKind, AuthKind, table_of
from reconciler.store.sql import rowcount, upsert
from reconciler.store.tables import SideAccountRow
from reconciler.store.types import new_id, utcnow

_ACCOUNT = table_of(SideAccountRow)
_SAVE_ATTEMPTS = 10


class DbTokenStore:
    """OAuth tokens per HighLevel location, in ``side_account.credentials`` (encrypted)."""

    def __init__(self, store: Store, cipher: Cipher) -> None:
        self._store = store
        self._cipher = cipher

    def __repr__(self) -> str:
        return f"DbTokenStore({self._store.dialect})"

    async def load(self, location_id: str) -> OAuthTokens | None:
        async with self._store.session() as s:
            row = await _account_row(s, location_id)
        if row is None or row[1] is None:
            return None
        credentials = AccountCredentials.from_json(self._cipher.decrypt_json(row[1]))
        access, refresh = credentials.access_token, credentials.refresh_token
        if access is None or refresh is None or credentials.expires_at is None:
            return None
        return OAuthTokens(
            access_token=access.reveal(),
            refresh_token=refresh.reveal(),
            expires_at=credentials.expires_at,
            scopes=credentials.scopes,
            location_id=location_id,
        )

    async def save(self, tokens: OAuthTokens) -> None:
        """Replace the location's tokens in one committed (and, on SQLite, synced) write.

        Read-merge-write under the row's write lock (``FOR UPDATE`` on PostgreSQL, ``BEGIN
        IMMEDIATE`` on SQLite), and the UPDATE is still a compare-and-swap on the blob read,
        so concurrent saves serialise and none writes back stale parts of another.
        """
        async with self._store.connection() as conn:
            sqlite = conn.dialect.name == "sqlite"
            if sqlite:
                # WAL + synchronous=NORMAL may lose the last commits on an OS crash; a lost
                # rotated refresh token locks the location out, so these commits are synced.
                await conn.exec_driver_sql("PRAGMA synchronous=FULL")
            try:
                for _ in range(_SAVE_ATTEMPTS):
                    if sqlite:
                        await conn.exec_driver_sql("BEGIN IMMEDIATE")
                    swapped = await self._swap(conn, tokens)
                    await conn.commit()
                    if swapped:
                        return
            finally:
                await conn.rollback()
                if sqlite:
                    await conn.exec_driver_sql("PRAGMA synchronous=NORMAL")
        raise StoreConflictError(
            f"tokens of location {tokens.location_id} changed during {_SAVE_ATTEMPTS} saves"
        )

    async def _swap(self, conn: AsyncConnection, tokens: OAuthTokens) -> bool:
        row = await _account_row(conn, tokens.location_id, lock=True)
        if row is None:
            # The first tokens of a location (the OAuth install): its account starts here.
            now = utcnow()
            insert = upsert(conn, _ACCOUNT).values(
                id=new_id(),
                label=f"HighLevel {tokens.location_id}",
                kind=AccountKind.HIGHLEVEL.value,
                location_id=tokens.location_id,
                auth_kind=AuthKind.OAUTH.value,
                credentials=None,
                created_at=now,
                updated_at=now,
            )
            await conn.execute(insert.on_conflict_do_nothing())
            row = await _account_row(conn, tokens.location_id, lock=True)
            if row is None:
                return False
        account_id, old_blob = row
        previous = (
            AccountCredentials.from_json(self._cipher.decrypt_json(old_blob))
            if old_blob
            else AccountCredentials()
        )
        merged = AccountCredentials(
            access_token=Secret(tokens.access_token),
            refresh_token=Secret(tokens.refresh_token),
            expires_at=tokens.expires_at,
            scopes=tokens.scopes,
            client_id=previous.client_id,
            client_secret=previous.client_secret,
        )
        result = await conn.execute(
            update(_ACCOUNT)
            .where(
                _ACCOUNT.c.id == account_id,
                _ACCOUNT.c.credentials.is_not_distinct_from(old_blob),
            )
            .values(
                credentials=self._cipher.encrypt_json(merged.to_json()),
                auth_kind=AuthKind.OAUTH.value,
                updated_at=utcnow(),
            )
        )
        return rowcount(result) == 1


async def _account_row(
    s: AsyncSession | AsyncConnection, location_id: str, *, lock: bool = False
) -> tuple[str, str | None] | None:
    query = select(_ACCOUNT.c.id, _ACCOUNT.c.credentials).where(
        _ACCOUNT.c.kind == AccountKind.HIGHLEVEL.value,
        _ACCOUNT.c.location_id == location_id,
    )
    # FOR UPDATE on PostgreSQL; SQLite has no row locks (and SQLAlchemy omits the clause).
    result = await s.execute(query.with_for_update() if lock else query)
    row = result.first()
    return (row[0], row[1]) if row is not None else None
