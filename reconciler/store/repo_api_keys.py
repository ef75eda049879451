"""API keys: the plain key is shown once at creation; only its SHA-256 is stored.

A key looks like ``rk_<prefix>_<secret>``. The prefix (not secret) finds the row; the hash of
the whole key is compared in constant time. Keys carry 256 random bits, so a fast hash is
enough (a slow password hash protects guessable secrets, which these are not).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from reconciler.store.schema import ApiKeyRole, table_of
from reconciler.store.sql import rowcount
from reconciler.store.tables import ApiKeyRow
from reconciler.store.types import new_id

_KEY = table_of(ApiKeyRow)
KEY_PREFIX = "rk_"
# Recording every use would turn each read request into a write: once a minute is enough.
LAST_USED_RESOLUTION = timedelta(minutes=1)
_DUMMY_HASH = hashlib.sha256(b"no such key").hexdigest()


def hash_key(plain: str) -> str:
    return hashlib.sha256(plain.encode("utf-8")).hexdigest()


def _prefix_of(plain: str) -> str | None:
    if not plain.startswith(KEY_PREFIX):
        return None
    prefix, sep, secret = plain[len(KEY_PREFIX) :].partition("_")
    return prefix if sep and prefix and secret else None


async def create_api_key(
    s: AsyncSession, *, name: str, role: ApiKeyRole, now: datetime
) -> tuple[ApiKeyRow, str]:
    """A new key: the stored row and the plain key, which is never available again."""
    prefix = secrets.token_hex(6)
    plain = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    row = ApiKeyRow(
        id=new_id(),
        name=name,
        role=ApiKeyRole(role).value,
        prefix=prefix,
        key_hash=hash_key(plain),
        created_at=now,
    )
    s.add(row)
    await s.flush()
    return row, plain


async def verify_api_key(s: AsyncSession, plain: str, *, now: datetime) -> ApiKeyRow | None:
    """The key's row if ``plain`` is a valid, unrevoked key; None otherwise."""
    prefix = _prefix_of(plain)
    row = None
    if prefix is not None:
        result = await s.execute(
            select(ApiKeyRow)
            .where(_KEY.c.prefix == prefix)
            .execution_options(populate_existing=True)
        )
        row = result.scalars().first()
    # Compare even when nothing was found, so timing does not tell which prefixes exist.
    expected = row.key_hash if row is not None else _DUMMY_HASH
    matches = hmac.compare_digest(expected, hash_key(plain))
    if row is None or not matches or row.revoked_at is not None:
        return None
    if row.last_used_at is None or now - row.last_used_at >= LAST_USED_RESOLUTION:
        await s.execute(update(_KEY).where(_KEY.c.id == row.id).values(last_used_at=now))
        # Mirror the UPDATE in the loaded row without making the session write it again.
        set_committed_value(row, "last_used_at", now)
    return row


async def revoke_api_key(s: AsyncSession, key_id: str, *, now: datetime) -> bool:
    result = await s.execute(
        update(_KEY).where(_KEY.c.id == key_id, _KEY.c.revoked_at.is_(None)).values(revoked_at=now)
    )
    return rowcount(result) == 1


async def list_api_keys(s: AsyncSession, *, include_revoked: bool = False) -> list[ApiKeyRow]:
    query = select(ApiKeyRow).order_by(_KEY.c.created_at, _KEY.c.id)
    if not include_revoked:
        query = query.where(_KEY.c.revoked_at.is_(None))
    result = await s.execute(query.execution_options(populate_existing=True))
    return list(result.scalars())
