"""Pairs, the side accounts they join (with encrypted credentials), scan progress, leases."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from reconciler.sides.base import SideName
from reconciler.store.codec import policy_from_json, policy_to_json
from reconciler.store.credentials import AccountCredentials
from reconciler.store.crypto import Cipher
from reconciler.store.schema import AccountKind, AuthKind, table_of
from reconciler.store.sql import rowcount, upsert
from reconciler.store.tables import PairLeaseRow, PairRow, SideAccountRow
from reconciler.store.types import new_id
from reconciler.sync.model import PairPolicy

_ACCOUNT = table_of(SideAccountRow)
_PAIR = table_of(PairRow)
_LEASE = table_of(PairLeaseRow)

# ----------------------------------------------------------------------------- side accounts


async def create_side_account(
    s: AsyncSession,
    *,
    label: str,
    kind: AccountKind,
    now: datetime,
    location_id: str | None = None,
    base_url: str | None = None,
    auth_kind: AuthKind | None = None,
    credentials: AccountCredentials | None = None,
    cipher: Cipher | None = None,
) -> SideAccountRow:
    """A new account; ``credentials`` need the ``cipher`` (they are stored encrypted only)."""
    row = SideAccountRow(
        id=new_id(),
        label=label,
        kind=AccountKind(kind).value,
        location_id=location_id,
        base_url=base_url,
        auth_kind=AuthKind(auth_kind).value if auth_kind is not None else None,
        credentials=_encrypt(credentials, cipher),
        created_at=now,
        updated_at=now,
    )
    s.add(row)
    await s.flush()
    return row


async def get_side_account(s: AsyncSession, account_id: str) -> SideAccountRow | None:
    return await s.get(SideAccountRow, account_id)


async def find_side_account(
    s: AsyncSession, kind: AccountKind, location_id: str
) -> SideAccountRow | None:
    """The account of one location (a location has one account, shared by its pairs)."""
    result = await s.execute(
        select(SideAccountRow).where(
            _ACCOUNT.c.kind == AccountKind(kind).value, _ACCOUNT.c.location_id == location_id
        )
    )
    return result.scalars().first()


async def list_side_accounts(s: AsyncSession) -> list[SideAccountRow]:
    result = await s.execute(select(SideAccountRow).order_by(_ACCOUNT.c.created_at))
    return list(result.scalars())


async def set_credentials(
    s: AsyncSession,
    cipher: Cipher,
    account_id: str,
    credentials: AccountCredentials | None,
    *,
    now: datetime,
) -> bool:
    """Replace the account's credentials (None removes them); False if no such account."""
    result = await s.execute(
        update(_ACCOUNT)
        .where(_ACCOUNT.c.id == account_id)
        .values(credentials=_encrypt(credentials, cipher), updated_at=now)
    )
    return rowcount(result) == 1


async def get_credentials(
    s: AsyncSession, cipher: Cipher, account_id: str
) -> AccountCredentials | None:
    blob = await s.scalar(select(_ACCOUNT.c.credentials).where(_ACCOUNT.c.id == account_id))
    return AccountCredentials.from_json(cipher.decrypt_json(blob)) if blob else None


def _encrypt(credentials: AccountCredentials | None, cipher: Cipher | None) -> str | None:
    if credentials is None:
        return None
    if cipher is None:
        raise ValueError("credentials are only stored encrypted: pass the cipher")
    return cipher.encrypt_json(credentials.to_json())


# ----------------------------------------------------------------------------------- pairs


async def create_pair(
    s: AsyncSession,
    *,
    name: str,
    side_a_account_id: str,
    side_b_account_id: str,
    now: datetime,
    policy: PairPolicy | None = None,
    schedule_interval_s: int = 900,
    enabled: bool = True,
) -> PairRow:
    if schedule_interval_s <= 0:
        raise ValueError("schedule_interval_s must be positive")
    row = PairRow(
        id=new_id(),
        name=name,
        side_a_account_id=side_a_account_id,
        side_b_account_id=side_b_account_id,
        policy=policy_to_json(policy or PairPolicy()),
        schedule_interval_s=schedule_interval_s,
        enabled=enabled,
        created_at=now,
        updated_at=now,
    )
    s.add(row)
    await s.flush()
    return row


async def get_pair(s: AsyncSession, pair_id: str) -> PairRow | None:
    return await s.get(PairRow, pair_id)


async def get_pair_by_name(s: AsyncSession, name: str) -> PairRow | None:
    result = await s.execute(select(PairRow).where(_PAIR.c.name == name))
    return result.scalars().first()


async def list_pairs(s: AsyncSession, *, enabled_only: bool = False) -> list[PairRow]:
    query = select(PairRow).order_by(_PAIR.c.name)
    if enabled_only:
        query = query.where(_PAIR.c.enabled.is_(True))
    result = await s.execute(query)
    return list(result.scalars())


def pair_policy(pair: PairRow) -> PairPolicy:
    return policy_from_json(pair.policy)


async def update_pair(
    s: AsyncSession,
    pair_id: str,
    *,
    now: datetime,
    name: str | None = None,
    policy: PairPolicy | None = None,
    schedule_interval_s: int | None = None,
    enabled: bool | None = None,
) -> PairRow | None:
    """Change the given settings of a pair; None if there is no such pair."""
    values: dict[str, object] = {"updated_at": now}
    if name is not None:
        values["name"] = name
    if policy is not None:
        values["policy"] = policy_to_json(policy)
    if schedule_interval_s is not None:
        if schedule_interval_s <= 0:
            raise ValueError("schedule_interval_s must be positive")
        values["schedule_interval_s"] = schedule_interval_s
    if enabled is not None:
        values["enabled"] = enabled
    result = await s.execute(update(_PAIR).where(_PAIR.c.id == pair_id).values(**values))
    if rowcount(result) != 1:
        return None
    # populate_existing: the identity map may hold this pair as it was before the UPDATE.
    found = await s.execute(
        select(PairRow).where(_PAIR.c.id == pair_id).execution_options(populate_existing=True)
    )
    return found.scalars().first()


async def set_scan_progress(
    s: AsyncSession,
    pair_id: str,
    side: SideName,
    *,
    watermark: datetime | None = None,
    full_scan_at: datetime | None = None,
) -> None:
    """Record a side's new incremental watermark and/or the end of a complete listing."""
    values: dict[str, datetime] = {}
    if watermark is not None:
        values[f"{side}_watermark"] = watermark
    if full_scan_at is not None:
        values[f"{side}_full_scan_at"] = full_scan_at
    if values:
        await s.execute(update(_PAIR).where(_PAIR.c.id == pair_id).values(**values))


# ---------------------------------------------------------------------------------- leases


async def acquire_lease(
    s: AsyncSession, pair_id: str, holder: str, *, now: datetime, ttl: timedelta
) -> bool:
    """Take (or extend) the pair's lease for ``holder``; False while another holder has it.

    One statement: insert, or take over only an expired lease or our own, so two processes
    racing for the same pair cannot both win.
    """
    stmt = upsert(s, _LEASE).values(pair_id=pair_id, holder=holder, expires_at=now + ttl)
    stmt = stmt.on_conflict_do_update(
        index_elements=[_LEASE.c.pair_id],
        set_={"holder": stmt.excluded.holder, "expires_at": stmt.excluded.expires_at},
        where=(_LEASE.c.expires_at <= now) | (_LEASE.c.holder == holder),
    )
    # INSERTs report their row count only when asked to (UPDATE/DELETE always do).
    return rowcount(await s.execute(stmt.execution_options(preserve_rowcount=True))) == 1


async def release_lease(s: AsyncSession, pair_id: str, holder: str) -> None:
    await s.execute(delete(_LEASE).where(_LEASE.c.pair_id == pair_id, _LEASE.c.holder == holder))
