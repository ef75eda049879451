"""Overrides (people's pins) and contact exclusion, each change audited.

Excluding a contact sets the link's ``excluded`` flag (the engine skips the link entirely);
including it again clears the flag and ends any exclusion overrides on that link, so
"include" always means "sync this contact again", whichever way it was excluded.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from reconciler.service.errors import InvalidInputError, UnknownObjectError
from reconciler.sides.base import CORE_FIELDS, SideName
from reconciler.store import repo_audit, repo_links, repo_overrides, repo_pairs
from reconciler.store.db import Store
from reconciler.store.repo_links import Link
from reconciler.store.tables import NoteLinkRow, OverrideRow
from reconciler.store.types import utcnow
from reconciler.sync.model import OverrideScope
from reconciler.sync.normalise import tag_key

Clock = Callable[[], datetime]
MAX_ID = 100


@dataclass(frozen=True, slots=True)
class OverrideRequest:
    """What a person asks for; ``tag_name`` is turned into the pair's tag key."""

    pair_id: str
    scope: OverrideScope
    pin: SideName | None = None
    exclude: bool = False
    link_id: str | None = None
    tag_name: str | None = None
    note_link_id: str | None = None
    field_name: str | None = None
    expires_at: datetime | None = None


async def create_override(
    store: Store, request: OverrideRequest, *, actor: str, clock: Clock = utcnow
) -> OverrideRow:
    now = clock()
    if request.expires_at is not None and request.expires_at <= now:
        raise InvalidInputError("the expiry must be in the future", field="expiresAt")
    if request.field_name is not None and request.field_name not in CORE_FIELDS:
        raise InvalidInputError(
            f"field must be one of: {', '.join(CORE_FIELDS)}", field="fieldName"
        )
    async with store.transaction() as s:
        pair = await repo_pairs.get_pair(s, request.pair_id)
        if pair is None:
            raise UnknownObjectError("no such pair", field="pairId")
        if request.link_id is not None:
            await _link_of_pair(s, request.link_id, request.pair_id)
        if request.note_link_id is not None:
            await _note_link_of_pair(s, request.note_link_id, request.pair_id, request.link_id)
        key = None
        if request.tag_name is not None:
            name = request.tag_name.strip()
            if not name or len(name) > 200:
                raise InvalidInputError("a tag name has 1 to 200 characters", field="tagName")
            policy = repo_pairs.pair_policy(pair)
            key = tag_key(name, case_insensitive=policy.tags_case_insensitive)
        try:
            row = await repo_overrides.create_override(
                s,
                request.pair_id,
                scope=request.scope,
                created_by=actor,
                now=now,
                pin=request.pin,
                exclude=request.exclude,
                link_id=request.link_id,
                tag_key=key,
                note_link_id=request.note_link_id,
                field_name=request.field_name,
                expires_at=request.expires_at,
            )
        except ValueError as exc:
            raise InvalidInputError(str(exc), field="scope") from exc
        await _audit(s, actor, "override.created", now, row.pair_id, row.id, _describe(row))
    return row


async def delete_override(
    store: Store, override_id: str, *, actor: str, clock: Clock = utcnow
) -> OverrideRow:
    """End an override in force (the row stays, marked deleted, for history)."""
    now = clock()
    async with store.transaction() as s:
        if not await repo_overrides.delete_override(s, override_id, now=now):
            raise UnknownObjectError("no such override in force", field="id")
        row = await repo_overrides.get_override(s, override_id)
        assert row is not None  # just soft-deleted in this transaction
        await _audit(s, actor, "override.deleted", now, row.pair_id, row.id, _describe(row))
    return row


async def set_contact_excluded(
    store: Store, link_id: str, excluded: bool, *, actor: str, clock: Clock = utcnow
) -> Link:
    """Take a linked contact out of sync (``excluded``) or bring it back."""
    now = clock()
    async with store.transaction() as s:
        link = await repo_links.get_link(s, link_id)
        if link is None:
            raise UnknownObjectError("no such contact link", field="id")
        await repo_links.set_excluded(s, link_id, excluded, now=now)
        ended: list[str] = []
        if not excluded:
            for row in await repo_overrides.list_overrides(s, link.pair_id, link_id=link_id):
                if row.exclude and await repo_overrides.delete_override(s, row.id, now=now):
                    ended.append(row.id)
        kind = "contact.excluded" if excluded else "contact.included"
        detail: dict[str, object] = {"a_id": link.a_id, "b_id": link.b_id}
        if ended:
            detail["ended_overrides"] = ended
        await _audit(s, actor, kind, now, link.pair_id, link_id, detail)
        updated = await repo_links.get_link(s, link_id)
    assert updated is not None
    return updated


async def _link_of_pair(s: AsyncSession, link_id: str, pair_id: str) -> Link:
    link = await repo_links.get_link(s, link_id)
    if link is None or link.pair_id != pair_id:
        raise UnknownObjectError("no such contact link in this pair", field="linkId")
    return link


async def _note_link_of_pair(
    s: AsyncSession, note_link_id: str, pair_id: str, link_id: str | None
) -> None:
    note_link = await s.get(NoteLinkRow, note_link_id) if 0 < len(note_link_id) <= MAX_ID else None
    if (
        note_link is None
        or note_link.pair_id != pair_id
        or (link_id is not None and note_link.link_id != link_id)
    ):
        raise UnknownObjectError("no such note link on this contact", field="noteLinkId")


def _describe(row: OverrideRow) -> dict[str, object]:
    detail: dict[str, object] = {"scope": row.scope}
    for name in ("pin", "link_id", "tag_key", "note_link_id", "field_name"):
        value = getattr(row, name)
        if value is not None:
            detail[name] = value
    if row.exclude:
        detail["exclude"] = True
    if row.expires_at is not None:
        detail["expires_at"] = row.expires_at.isoformat()
    return detail


async def _audit(
    s: AsyncSession,
    actor: str,
    kind: str,
    at: datetime,
    pair_id: str,
    subject: str,
    detail: dict[str, object],
) -> None:
    await repo_audit.append(
        s,
        [
            repo_audit.AuditEntry(
                actor=actor, kind=kind, at=at, pair_id=pair_id, subject=subject, detail=detail
            )
        ],
    )
