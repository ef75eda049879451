"""Reads for the API and console: rows by id in sets (DataLoaders), filtered keyset pages,
counts. Read-only; every function is one or a few statements whatever the number of ids.

Pages are newest first on (timestamp, id); a cursor is the sort key of the previous page's
last row, so a page is an index range scan, never an OFFSET.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import ColumnElement, Select

from reconciler.sides.base import SideName
from reconciler.store.repo_links import Link
from reconciler.store.schema import ConflictStatus, LinkStatus, table_of
from reconciler.store.sql import before_key, chunks, unique
from reconciler.store.tables import (
    AuditEventRow,
    ConflictRow,
    ContactLinkRow,
    LinkBaseRow,
    NoteLinkRow,
    OverrideRow,
    PairRow,
    PlanActionRow,
    PlanRow,
    RunRow,
    SideAccountRow,
    SnapshotContactRow,
    SnapshotNoteRow,
)

_PAIR = table_of(PairRow)
_ACCOUNT = table_of(SideAccountRow)
_LINK = table_of(ContactLinkRow)
_BASE = table_of(LinkBaseRow)
_NOTE_LINK = table_of(NoteLinkRow)
_CONFLICT = table_of(ConflictRow)
_OVERRIDE = table_of(OverrideRow)
_RUN = table_of(RunRow)
_PLAN = table_of(PlanRow)
_ACTION = table_of(PlanActionRow)
_AUDIT = table_of(AuditEventRow)
_CONTACT = table_of(SnapshotContactRow)
_NOTE = table_of(SnapshotNoteRow)

M = TypeVar("M")
SnapshotKey = tuple[str, str, str]  # (pair id, side, contact id)

# ------------------------------------------------------------------------------ by id, in sets


async def _by_ids(
    s: AsyncSession, model: type[M], column: Any, ids: Collection[Any]
) -> dict[Any, M]:
    out: dict[Any, M] = {}
    for batch in chunks(unique(ids)):
        result = await s.execute(
            select(model).where(column.in_(batch)).execution_options(populate_existing=True)
        )
        for row in result.scalars():
            out[getattr(row, column.key)] = row
    return out


async def pairs_by_id(s: AsyncSession, ids: Collection[str]) -> dict[str, PairRow]:
    return await _by_ids(s, PairRow, _PAIR.c.id, ids)


async def accounts_by_id(s: AsyncSession, ids: Collection[str]) -> dict[str, SideAccountRow]:
    return await _by_ids(s, SideAccountRow, _ACCOUNT.c.id, ids)


async def conflicts_by_id(s: AsyncSession, ids: Collection[str]) -> dict[str, ConflictRow]:
    return await _by_ids(s, ConflictRow, _CONFLICT.c.id, ids)


async def overrides_by_id(s: AsyncSession, ids: Collection[str]) -> dict[str, OverrideRow]:
    return await _by_ids(s, OverrideRow, _OVERRIDE.c.id, ids)


async def runs_by_id(s: AsyncSession, ids: Collection[str]) -> dict[str, RunRow]:
    return await _by_ids(s, RunRow, _RUN.c.id, ids)


async def plans_by_id(s: AsyncSession, ids: Collection[str]) -> dict[str, PlanRow]:
    return await _by_ids(s, PlanRow, _PLAN.c.id, ids)


async def audit_events_by_id(s: AsyncSession, ids: Collection[int]) -> dict[int, AuditEventRow]:
    return await _by_ids(s, AuditEventRow, _AUDIT.c.id, ids)


async def links_by_id(s: AsyncSession, ids: Collection[str]) -> dict[str, Link]:
    out: dict[str, Link] = {}
    for batch in chunks(unique(ids)):
        for row in await s.execute(select(_LINK).where(_LINK.c.id.in_(batch))):
            out[row.id] = link_of(row)
    return out


def link_of(row: Any) -> Link:
    return Link(
        id=row.id,
        pair_id=row.pair_id,
        a_id=row.a_id,
        b_id=row.b_id,
        status=LinkStatus(row.status),
        excluded=bool(row.excluded),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


async def base_rows(s: AsyncSession, link_ids: Collection[str]) -> dict[str, LinkBaseRow]:
    return await _by_ids(s, LinkBaseRow, _BASE.c.link_id, link_ids)


async def note_links_of(s: AsyncSession, link_ids: Collection[str]) -> dict[str, list[NoteLinkRow]]:
    out: dict[str, list[NoteLinkRow]] = {}
    for batch in chunks(unique(link_ids)):
        result = await s.execute(
            select(NoteLinkRow)
            .where(_NOTE_LINK.c.link_id.in_(batch))
            .order_by(_NOTE_LINK.c.link_id, _NOTE_LINK.c.created_at, _NOTE_LINK.c.id)
        )
        for row in result.scalars():
            out.setdefault(row.link_id, []).append(row)
    return out


async def snapshot_contacts(
    s: AsyncSession, keys: Collection[SnapshotKey]
) -> dict[SnapshotKey, SnapshotContactRow]:
    """Snapshot rows by (pair, side, contact id), any number of pairs, one statement a chunk."""
    out: dict[SnapshotKey, SnapshotContactRow] = {}
    for batch in chunks(unique(keys), 500):
        result = await s.execute(
            select(SnapshotContactRow).where(
                _by_pair_side(batch, _CONTACT.c.pair_id, _CONTACT.c.side, _CONTACT.c.contact_id)
            )
        )
        for row in result.scalars():
            out[(row.pair_id, row.side, row.contact_id)] = row
    return out


async def snapshot_notes(
    s: AsyncSession, keys: Collection[SnapshotKey]
) -> dict[SnapshotKey, list[SnapshotNoteRow]]:
    out: dict[SnapshotKey, list[SnapshotNoteRow]] = {}
    for batch in chunks(unique(keys), 500):
        result = await s.execute(
            select(SnapshotNoteRow)
            .where(_by_pair_side(batch, _NOTE.c.pair_id, _NOTE.c.side, _NOTE.c.contact_id))
            .order_by(_NOTE.c.note_id)
        )
        for row in result.scalars():
            out.setdefault((row.pair_id, row.side, row.contact_id), []).append(row)
    return out


def _by_pair_side(
    keys: Sequence[SnapshotKey], pair_id: Any, side: Any, contact_id: Any
) -> ColumnElement[bool]:
    """``(pair, side, contact) IN keys`` spelled as one ``pair = ? AND side = ? AND contact
    IN (...)`` per (pair, side): SQLite cannot use an index for a row-value IN list."""
    groups: dict[tuple[str, str], list[str]] = {}
    for pair, which, contact in keys:
        groups.setdefault((pair, which), []).append(contact)
    return or_(
        *(
            and_(pair_id == pair, side == which, contact_id.in_(contacts))
            for (pair, which), contacts in groups.items()
        )
    )


# ----------------------------------------------------------------------------- per-pair facts


async def last_runs(s: AsyncSession, pair_ids: Collection[str]) -> dict[str, RunRow]:
    """Each pair's most recently started run."""
    ranked = (
        select(
            _RUN.c.id,
            func.row_number()
            .over(
                partition_by=_RUN.c.pair_id, order_by=(_RUN.c.started_at.desc(), _RUN.c.id.desc())
            )
            .label("rank"),
        )
        .where(_RUN.c.pair_id.in_(unique(pair_ids)))
        .subquery()
    )
    result = await s.execute(
        select(RunRow)
        .where(_RUN.c.id.in_(select(ranked.c.id).where(ranked.c.rank == 1)))
        .execution_options(populate_existing=True)
    )
    return {row.pair_id: row for row in result.scalars()}


async def runs_since(s: AsyncSession, pair_ids: Collection[str], since: datetime) -> list[RunRow]:
    result = await s.execute(
        select(RunRow).where(_RUN.c.pair_id.in_(unique(pair_ids)), _RUN.c.started_at >= since)
    )
    return list(result.scalars())


async def open_conflict_counts(s: AsyncSession, pair_ids: Collection[str]) -> dict[str, int]:
    result = await s.execute(
        select(_CONFLICT.c.pair_id, func.count())
        .where(
            _CONFLICT.c.pair_id.in_(unique(pair_ids)),
            _CONFLICT.c.status == ConflictStatus.OPEN.value,
        )
        .group_by(_CONFLICT.c.pair_id)
    )
    return {pair_id: int(count) for pair_id, count in result}


async def open_conflicts_of_links(
    s: AsyncSession, link_ids: Collection[str]
) -> dict[str, list[ConflictRow]]:
    out: dict[str, list[ConflictRow]] = {}
    for batch in chunks(unique(link_ids)):
        result = await s.execute(
            select(ConflictRow)
            .where(_CONFLICT.c.link_id.in_(batch), _CONFLICT.c.status == ConflictStatus.OPEN.value)
            .order_by(_CONFLICT.c.detected_at, _CONFLICT.c.id)
            .execution_options(populate_existing=True)
        )
        for row in result.scalars():
            assert row.link_id is not None
            out.setdefault(row.link_id, []).append(row)
    return out


async def active_overrides_of_links(
    s: AsyncSession, link_ids: Collection[str]
) -> dict[str, list[OverrideRow]]:
    out: dict[str, list[OverrideRow]] = {}
    for batch in chunks(unique(link_ids)):
        result = await s.execute(
            select(OverrideRow)
            .where(_OVERRIDE.c.link_id.in_(batch), _OVERRIDE.c.deleted_at.is_(None))
            .order_by(_OVERRIDE.c.created_at, _OVERRIDE.c.id)
        )
        for row in result.scalars():
            assert row.link_id is not None
            out.setdefault(row.link_id, []).append(row)
    return out


# ------------------------------------------------------------------------------------- pages


@dataclass(frozen=True, slots=True)
class Page:
    """``limit`` rows at most, and whether more follow."""

    rows: list[Any]
    has_more: bool


@dataclass(frozen=True, slots=True)
class Window:
    """Which rows of an ordered list: up to ``limit`` rows after the ``after`` key (forward),
    or the ``limit`` rows just before the ``before`` key (backward); list order either way.
    Keys are a row's sort key: (time, id) for newest-first lists, one value for the others.
    ``Page.has_more`` then says whether more rows follow in the direction of travel."""

    limit: int
    after: Any = None
    before: Any = None
    backward: bool = False  # ``last``: from the end of the list (or from ``before``)


async def _page(s: AsyncSession, query: Select[Any], limit: int, *, scalars: bool = True) -> Page:
    result = await s.execute(query.limit(limit + 1).execution_options(populate_existing=True))
    rows = list(result.scalars()) if scalars else list(result)
    return Page(rows=rows[:limit], has_more=len(rows) > limit)


async def _newest_first(
    s: AsyncSession, query: Select[Any], at: Any, key: Any, window: Window, *, scalars: bool = True
) -> Page:
    if window.backward:
        # The rows just newer than ``before`` (or the oldest), read oldest first, turned round.
        if window.before is not None:
            at_value, key_value = window.before
            query = query.where(or_(at > at_value, and_(at == at_value, key > key_value)))
        page = await _page(s, query.order_by(at.asc(), key.asc()), window.limit, scalars=scalars)
        return Page(rows=page.rows[::-1], has_more=page.has_more)
    if window.after is not None:
        query = query.where(before_key(at, key, window.after))
    return await _page(s, query.order_by(at.desc(), key.desc()), window.limit, scalars=scalars)


async def _ascending(s: AsyncSession, query: Select[Any], key: Any, window: Window) -> Page:
    if window.backward:
        if window.before is not None:
            query = query.where(key < window.before)
        page = await _page(s, query.order_by(key.desc()), window.limit)
        return Page(rows=page.rows[::-1], has_more=page.has_more)
    if window.after is not None:
        query = query.where(key > window.after)
    return await _page(s, query.order_by(key), window.limit)


async def _count(s: AsyncSession, table: Any, filters: Sequence[ColumnElement[bool]]) -> int:
    return int(await s.scalar(select(func.count()).select_from(table).where(*filters)) or 0)


@dataclass(frozen=True, slots=True)
class ConflictFilter:
    """Which conflicts. ``search`` matches the conflict's contact as ``LinkFilter.search``
    does; ``detected_before`` keeps those detected before a time (the console's "older than")."""

    pair_id: str | None = None
    status: str | None = None
    kind: str | None = None
    link_id: str | None = None
    search: str | None = None
    detected_before: datetime | None = None

    def clauses(self) -> list[ColumnElement[bool]]:
        out: list[ColumnElement[bool]] = []
        if self.pair_id is not None:
            out.append(_CONFLICT.c.pair_id == self.pair_id)
        if self.status is not None:
            out.append(_CONFLICT.c.status == self.status)
        if self.kind is not None:
            out.append(_CONFLICT.c.kind == self.kind)
        if self.link_id is not None:
            out.append(_CONFLICT.c.link_id == self.link_id)
        if self.search:
            out.append(
                exists().where(_LINK.c.id == _CONFLICT.c.link_id, _link_matches(self.search))
            )
        if self.detected_before is not None:
            out.append(_CONFLICT.c.detected_at < self.detected_before)
        return out


async def page_conflicts(s: AsyncSession, where: ConflictFilter, window: Window) -> Page:
    """Newest detected first."""
    query = select(ConflictRow).where(*where.clauses())
    return await _newest_first(s, query, _CONFLICT.c.detected_at, _CONFLICT.c.id, window)


async def count_conflicts(s: AsyncSession, where: ConflictFilter) -> int:
    return await _count(s, _CONFLICT, where.clauses())


@dataclass(frozen=True, slots=True)
class LinkFilter:
    """Which links: of a pair, active or not, with open conflicts, matching a text or a tag.

    ``search`` matches first/last name or email as either side last listed them or as the
    base holds them, case-insensitively. ``tag_key`` is a normalised tag key (any side or
    the base has it).
    """

    pair_id: str | None = None
    status: str | None = LinkStatus.ACTIVE.value
    has_open_conflicts: bool | None = None
    search: str | None = None
    tag_key: str | None = None


def _link_clauses(where: LinkFilter) -> list[ColumnElement[bool]]:
    out: list[ColumnElement[bool]] = []
    if where.pair_id is not None:
        out.append(_LINK.c.pair_id == where.pair_id)
    if where.status is not None:
        out.append(_LINK.c.status == where.status)
    if where.has_open_conflicts is not None:
        open_conflict = exists().where(
            _CONFLICT.c.link_id == _LINK.c.id, _CONFLICT.c.status == ConflictStatus.OPEN.value
        )
        out.append(open_conflict if where.has_open_conflicts else ~open_conflict)
    if where.search:
        out.append(_link_matches(where.search))
    if where.tag_key:
        key = where.tag_key
        out.append(
            or_(
                _snapshot_has_tag("a", _LINK.c.a_id, key),
                _snapshot_has_tag("b", _LINK.c.b_id, key),
                exists().where(_BASE.c.link_id == _LINK.c.id, _has_key(_BASE.c.tags, key)),
            )
        )
    return out


def _link_matches(search: str) -> ColumnElement[bool]:
    """The link (``_LINK``, correlated) names ``search`` on either side or in its base."""
    pattern = "%" + _escape_like(search.strip().lower()) + "%"
    return or_(
        _snapshot_matches("a", _LINK.c.a_id, pattern),
        _snapshot_matches("b", _LINK.c.b_id, pattern),
        exists().where(_BASE.c.link_id == _LINK.c.id, _fields_match(_BASE.c.fields, pattern)),
    )


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _fields_match(fields: Any, pattern: str) -> ColumnElement[bool]:
    return or_(
        *(
            func.lower(fields[name].as_string()).like(pattern, escape="\\")
            for name in ("first_name", "last_name", "email")
        )
    )


def _snapshot_row(side: SideName, contact_id: Any) -> list[ColumnElement[bool]]:
    return [
        _CONTACT.c.pair_id == _LINK.c.pair_id,
        _CONTACT.c.side == side,
        _CONTACT.c.contact_id == contact_id,
    ]


def _snapshot_matches(side: SideName, contact_id: Any, pattern: str) -> ColumnElement[bool]:
    return exists().where(
        *_snapshot_row(side, contact_id), _fields_match(_CONTACT.c.fields, pattern)
    )


def _snapshot_has_tag(side: SideName, contact_id: Any, key: str) -> ColumnElement[bool]:
    return exists().where(*_snapshot_row(side, contact_id), _has_key(_CONTACT.c.tags, key))


def _has_key(document: Any, key: str) -> ColumnElement[bool]:
    # as_string(): SQLite's plain JSON_EXTRACT would be JSON_QUOTE'd, turning NULL into 'null'.
    value: ColumnElement[Any] = document[key].as_string()
    return value.is_not(None)


async def page_links(s: AsyncSession, where: LinkFilter, window: Window) -> Page:
    """Newest linked first."""
    query = select(_LINK).where(*_link_clauses(where))
    page = await _newest_first(s, query, _LINK.c.created_at, _LINK.c.id, window, scalars=False)
    return Page(rows=[link_of(row) for row in page.rows], has_more=page.has_more)


async def count_links(s: AsyncSession, where: LinkFilter) -> int:
    return await _count(s, _LINK, _link_clauses(where))


async def page_runs(s: AsyncSession, pair_id: str | None, window: Window) -> Page:
    """Newest started first."""
    query = select(RunRow)
    if pair_id is not None:
        query = query.where(_RUN.c.pair_id == pair_id)
    return await _newest_first(s, query, _RUN.c.started_at, _RUN.c.id, window)


async def count_runs(s: AsyncSession, pair_id: str | None) -> int:
    return await _count(s, _RUN, [] if pair_id is None else [_RUN.c.pair_id == pair_id])


def _override_clauses(pair_id: str | None, include_deleted: bool) -> list[ColumnElement[bool]]:
    out: list[ColumnElement[bool]] = []
    if pair_id is not None:
        out.append(_OVERRIDE.c.pair_id == pair_id)
    if not include_deleted:
        out.append(_OVERRIDE.c.deleted_at.is_(None))
    return out


async def page_overrides(
    s: AsyncSession, pair_id: str | None, window: Window, *, include_deleted: bool
) -> Page:
    """Newest created first."""
    query = select(OverrideRow).where(*_override_clauses(pair_id, include_deleted))
    return await _newest_first(s, query, _OVERRIDE.c.created_at, _OVERRIDE.c.id, window)


async def count_overrides(s: AsyncSession, pair_id: str | None, *, include_deleted: bool) -> int:
    return await _count(s, _OVERRIDE, _override_clauses(pair_id, include_deleted))


def _audit_clauses(
    pair_id: str | None, kind: str | None, subject: str | None
) -> list[ColumnElement[bool]]:
    out: list[ColumnElement[bool]] = []
    if pair_id is not None:
        out.append(_AUDIT.c.pair_id == pair_id)
    if kind is not None:
        out.append(_AUDIT.c.kind == kind)
    if subject is not None:
        out.append(_AUDIT.c.subject == subject)
    return out


async def page_audit_events(
    s: AsyncSession,
    window: Window,
    *,
    pair_id: str | None,
    kind: str | None,
    subject: str | None,
) -> Page:
    """Newest first."""
    query = select(AuditEventRow).where(*_audit_clauses(pair_id, kind, subject))
    return await _newest_first(s, query, _AUDIT.c.at, _AUDIT.c.id, window)


async def count_audit_events(
    s: AsyncSession, *, pair_id: str | None, kind: str | None, subject: str | None
) -> int:
    return await _count(s, _AUDIT, _audit_clauses(pair_id, kind, subject))


async def page_plan_actions(s: AsyncSession, plan_id: str, window: Window) -> Page:
    """A plan's actions in their order (by ``seq``)."""
    query = select(PlanActionRow).where(_ACTION.c.plan_id == plan_id)
    return await _ascending(s, query, _ACTION.c.seq, window)


async def plan_action_counts(
    s: AsyncSession, plan_ids: Collection[str]
) -> dict[str, dict[str, int]]:
    """plan id -> action kind -> count."""
    result = await s.execute(
        select(_ACTION.c.plan_id, _ACTION.c.kind, func.count())
        .where(_ACTION.c.plan_id.in_(unique(plan_ids)))
        .group_by(_ACTION.c.plan_id, _ACTION.c.kind)
    )
    out: dict[str, dict[str, int]] = {}
    for plan_id, kind, count in result:
        out.setdefault(plan_id, {})[kind] = int(count)
    return out


async def page_pairs(s: AsyncSession, window: Window) -> Page:
    """Pairs by name."""
    return await _ascending(s, select(PairRow), _PAIR.c.name, window)


async def count_pairs(s: AsyncSession) -> int:
    return await _count(s, _PAIR, [])
