"""Overrides: people's pins and exclusions, created, listed, soft-deleted.

Deleting keeps the row (``deleted_at``): runs and audit events that cite an override by id must
still be able to show what it said.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from reconciler.sides.base import CORE_FIELDS, SideName
from reconciler.store.codec import side_or_none
from reconciler.store.schema import table_of
from reconciler.store.sql import rowcount
from reconciler.store.tables import OverrideRow
from reconciler.store.types import new_id
from reconciler.sync.model import Override, OverrideScope

_OVERRIDE = table_of(OverrideRow)


def _check(
    scope: OverrideScope,
    pin: SideName | None,
    exclude: bool,
    link_id: str | None,
    tag_key: str | None,
    note_link_id: str | None,
    field_name: str | None,
) -> None:
    if pin is None and not exclude:
        raise ValueError("an override pins a side or excludes a contact")
    if pin is not None and exclude:
        raise ValueError("an override either pins a side or excludes, not both")
    if pin not in (None, "a", "b"):
        raise ValueError("pin must be 'a' or 'b'")
    if exclude and scope is not OverrideScope.CONTACT:
        raise ValueError("only a contact can be excluded")
    if scope is OverrideScope.CONTACT and link_id is None:
        raise ValueError("a contact override needs link_id")
    if scope is OverrideScope.NOTE and note_link_id is None:
        raise ValueError("a note override needs note_link_id")
    if scope is OverrideScope.TAG and not tag_key:
        raise ValueError("a tag override needs tag_key")
    if scope is OverrideScope.FIELD and field_name not in CORE_FIELDS:
        raise ValueError(f"a field override needs field_name, one of {', '.join(CORE_FIELDS)}")


async def create_override(
    s: AsyncSession,
    pair_id: str,
    *,
    scope: OverrideScope,
    created_by: str,
    now: datetime,
    pin: SideName | None = None,
    exclude: bool = False,
    link_id: str | None = None,
    tag_key: str | None = None,
    note_link_id: str | None = None,
    field_name: str | None = None,
    expires_at: datetime | None = None,
) -> OverrideRow:
    """A new override; a shape that makes no sense is a ``ValueError`` saying why."""
    scope = OverrideScope(scope)
    _check(scope, pin, exclude, link_id, tag_key, note_link_id, field_name)
    row = OverrideRow(
        id=new_id(),
        pair_id=pair_id,
        scope=scope.value,
        pin=pin,
        exclude=exclude,
        link_id=link_id,
        tag_key=tag_key,
        note_link_id=note_link_id,
        field_name=field_name,
        expires_at=expires_at,
        created_by=created_by,
        created_at=now,
    )
    s.add(row)
    await s.flush()
    return row


def to_model(row: OverrideRow) -> Override:
    """The engine's ``Override`` of a row."""
    field_name = next((name for name in CORE_FIELDS if name == row.field_name), None)
    return Override(
        id=row.id,
        scope=OverrideScope(row.scope),
        pin=side_or_none(row.pin),
        exclude=row.exclude,
        link_id=row.link_id,
        tag_key=row.tag_key,
        note_link_id=row.note_link_id,
        field_name=field_name,
        expires_at=row.expires_at,
    )


async def get_override(s: AsyncSession, override_id: str) -> OverrideRow | None:
    return await s.get(OverrideRow, override_id, populate_existing=True)


async def list_overrides(
    s: AsyncSession,
    pair_id: str,
    *,
    active_at: datetime | None = None,
    include_deleted: bool = False,
    link_id: str | None = None,
) -> list[OverrideRow]:
    """The pair's overrides, oldest first; ``active_at``: only those in force at that time."""
    query = select(OverrideRow).where(_OVERRIDE.c.pair_id == pair_id)
    if not include_deleted:
        query = query.where(_OVERRIDE.c.deleted_at.is_(None))
    if active_at is not None:
        query = query.where(
            _OVERRIDE.c.deleted_at.is_(None),
            or_(_OVERRIDE.c.expires_at.is_(None), _OVERRIDE.c.expires_at > active_at),
        )
    if link_id is not None:
        query = query.where(_OVERRIDE.c.link_id == link_id)
    query = query.order_by(_OVERRIDE.c.created_at, _OVERRIDE.c.id)
    result = await s.execute(query.execution_options(populate_existing=True))
    return list(result.scalars())


async def active_overrides(s: AsyncSession, pair_id: str, *, now: datetime) -> list[Override]:
    """What a run obeys: the pair's overrides in force now, as the engine's model."""
    return [to_model(row) for row in await list_overrides(s, pair_id, active_at=now)]


async def delete_override(s: AsyncSession, override_id: str, *, now: datetime) -> bool:
    """Soft-delete; False if there is no such override in force."""
    result = await s.execute(
        update(_OVERRIDE)
        .where(_OVERRIDE.c.id == override_id, _OVERRIDE.c.deleted_at.is_(None))
        .values(deleted_at=now)
    )
    return rowcount(result) == 1
