"""The root ``Query``: every read the console and internal tools make (viewer role)."""

from __future__ import annotations

from datetime import datetime

import strawberry

from reconciler.api import prefetch
from reconciler.api.context import ApiInfo, require
from reconciler.api.errors import bad_input
from reconciler.api.ids import decode_typed
from reconciler.api.nodes import (
    AuditEvent,
    Conflict,
    ContactLink,
    Node,
    Override,
    Pair,
    Plan,
    Run,
    load_pair,
    resolve_node,
)
from reconciler.api.pagination import (
    Connection,
    connection,
    scalar_key,
    time_int_key,
    time_key,
    window,
)
from reconciler.store import repo_console
from reconciler.store.repo_console import ConflictFilter, LinkFilter
from reconciler.store.repo_pairs import pair_policy
from reconciler.store.schema import ApiKeyRole, ConflictStatus, LinkStatus
from reconciler.sync.model import ConflictKind
from reconciler.sync.normalise import tag_key

MAX_SEARCH = 200


@strawberry.type(description="Who is calling (the API key's name and role).")
class Viewer:
    name: str
    role: ApiKeyRole


def _raw_id(global_id: str | None, type_name: str, argument: str) -> str | None:
    if global_id is None:
        return None
    raw = decode_typed(global_id, type_name)
    if raw is None:
        raise bad_input(f"{argument} is not a {type_name} id")
    return raw


@strawberry.type
class Query:
    @strawberry.field
    def viewer(self, info: ApiInfo) -> Viewer:
        principal = require(info, ApiKeyRole.VIEWER)
        return Viewer(name=principal.name, role=principal.role)

    @strawberry.field
    async def node(self, info: ApiInfo, id: strawberry.ID) -> Node | None:
        require(info, ApiKeyRole.VIEWER)
        return await resolve_node(info, id)

    @strawberry.field
    async def nodes(self, info: ApiInfo, ids: list[strawberry.ID]) -> list[Node | None]:
        require(info, ApiKeyRole.VIEWER)
        if len(ids) > 100:
            raise bad_input("at most 100 ids")
        return [await resolve_node(info, global_id) for global_id in ids]

    @strawberry.field
    async def pair(self, info: ApiInfo, id: strawberry.ID) -> Pair | None:
        require(info, ApiKeyRole.VIEWER)
        raw = decode_typed(id, "Pair")
        return await load_pair(info, raw) if raw is not None else None

    @strawberry.field
    async def pairs(
        self,
        info: ApiInfo,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[Pair]:
        require(info, ApiKeyRole.VIEWER)
        wanted = window(first, after, last, before, lambda c: scalar_key(c, str))
        store = info.context.store
        async with store.session() as s:
            page = await repo_console.page_pairs(s, wanted)

        async def count() -> int:
            async with store.session() as s:
                return await repo_console.count_pairs(s)

        return connection(
            page,
            wanted,
            node=Pair.of,
            key=lambda row: [row.name],
            count=count,
        )

    @strawberry.field
    async def contact_links(
        self,
        info: ApiInfo,
        pair_id: strawberry.ID | None = None,
        has_open_conflicts: bool | None = None,
        search: str | None = None,
        tag: str | None = None,
        status: LinkStatus | None = LinkStatus.ACTIVE,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[ContactLink]:
        require(info, ApiKeyRole.VIEWER)
        wanted = window(first, after, last, before, time_key)
        raw_pair = _raw_id(pair_id, "Pair", "pairId")
        if search is not None and len(search) > MAX_SEARCH:
            raise bad_input(f"search is at most {MAX_SEARCH} characters")
        key = None
        if tag is not None:
            if not tag.strip() or len(tag) > MAX_SEARCH:
                raise bad_input(f"tag is 1 to {MAX_SEARCH} characters")
            case_insensitive = True
            if raw_pair is not None:
                pair = await info.context.loaders.pair.load(raw_pair)
                if pair is not None:
                    case_insensitive = pair_policy(pair).tags_case_insensitive
            key = tag_key(tag, case_insensitive=case_insensitive)
        where = LinkFilter(
            pair_id=raw_pair,
            status=status.value if status is not None else None,
            has_open_conflicts=has_open_conflicts,
            search=search.strip() or None if search is not None else None,
            tag_key=key,
        )
        store = info.context.store
        async with store.session() as s:
            page = await repo_console.page_links(s, where, wanted)
        await prefetch.links(info.context.loaders, page.rows, prefetch.selected_names(info))

        async def count() -> int:
            async with store.session() as s:
                return await repo_console.count_links(s, where)

        return connection(
            page,
            wanted,
            node=ContactLink.of,
            key=lambda link: [link.created_at, link.id],
            count=count,
        )

    @strawberry.field
    async def conflicts(
        self,
        info: ApiInfo,
        pair_id: strawberry.ID | None = None,
        status: ConflictStatus | None = None,
        kind: ConflictKind | None = None,
        contact_id: strawberry.ID | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        search: str | None = None,
        detected_before: datetime | None = None,
    ) -> Connection[Conflict]:
        """Newest detected first. ``contactId`` is a ContactLink id; ``search`` matches the
        contact's name or email (either side or the base); ``detectedBefore`` keeps older
        conflicts only."""
        require(info, ApiKeyRole.VIEWER)
        wanted = window(first, after, last, before, time_key)
        if search is not None and len(search) > MAX_SEARCH:
            raise bad_input(f"search is at most {MAX_SEARCH} characters")
        if detected_before is not None and detected_before.tzinfo is None:
            raise bad_input("detectedBefore needs a time zone (e.g. 2025-03-01T12:00:00Z)")
        where = ConflictFilter(
            pair_id=_raw_id(pair_id, "Pair", "pairId"),
            status=status.value if status is not None else None,
            kind=kind.value if kind is not None else None,
            link_id=_raw_id(contact_id, "ContactLink", "contactId"),
            search=search.strip() or None if search is not None else None,
            detected_before=detected_before,
        )
        store = info.context.store
        async with store.session() as s:
            page = await repo_console.page_conflicts(s, where, wanted)
        await prefetch.conflicts(info, page.rows)

        async def count() -> int:
            async with store.session() as s:
                return await repo_console.count_conflicts(s, where)

        return connection(
            page,
            wanted,
            node=Conflict.of,
            key=lambda row: [row.detected_at, row.id],
            count=count,
        )

    @strawberry.field
    async def conflict(self, info: ApiInfo, id: strawberry.ID) -> Conflict | None:
        require(info, ApiKeyRole.VIEWER)
        raw = decode_typed(id, "Conflict")
        row = await info.context.loaders.conflict.load(raw) if raw is not None else None
        return Conflict.of(row) if row is not None else None

    @strawberry.field
    async def runs(
        self,
        info: ApiInfo,
        pair_id: strawberry.ID | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[Run]:
        """Newest first."""
        require(info, ApiKeyRole.VIEWER)
        wanted = window(first, after, last, before, time_key)
        raw_pair = _raw_id(pair_id, "Pair", "pairId")
        store = info.context.store
        async with store.session() as s:
            page = await repo_console.page_runs(s, raw_pair, wanted)

        async def count() -> int:
            async with store.session() as s:
                return await repo_console.count_runs(s, raw_pair)

        return connection(
            page,
            wanted,
            node=Run.of,
            key=lambda row: [row.started_at, row.id],
            count=count,
        )

    @strawberry.field
    async def plan(self, info: ApiInfo, id: strawberry.ID) -> Plan | None:
        require(info, ApiKeyRole.VIEWER)
        raw = decode_typed(id, "Plan")
        row = await info.context.loaders.plan.load(raw) if raw is not None else None
        return Plan.of(row) if row is not None else None

    @strawberry.field
    async def overrides(
        self,
        info: ApiInfo,
        pair_id: strawberry.ID | None = None,
        include_deleted: bool = False,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[Override]:
        """Newest first."""
        require(info, ApiKeyRole.VIEWER)
        wanted = window(first, after, last, before, time_key)
        raw_pair = _raw_id(pair_id, "Pair", "pairId")
        store = info.context.store
        async with store.session() as s:
            page = await repo_console.page_overrides(
                s, raw_pair, wanted, include_deleted=include_deleted
            )

        async def count() -> int:
            async with store.session() as s:
                return await repo_console.count_overrides(
                    s, raw_pair, include_deleted=include_deleted
                )

        return connection(
            page,
            wanted,
            node=Override.of,
            key=lambda row: [row.created_at, row.id],
            count=count,
        )

    @strawberry.field
    async def audit_events(
        self,
        info: ApiInfo,
        pair_id: strawberry.ID | None = None,
        kind: str | None = None,
        subject: str | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[AuditEvent]:
        """Newest first. ``subject`` is the raw id an event is about (a conflict id, ...)."""
        require(info, ApiKeyRole.VIEWER)
        wanted = window(first, after, last, before, time_int_key)
        raw_pair = _raw_id(pair_id, "Pair", "pairId")
        if (kind and len(kind) > MAX_SEARCH) or (subject and len(subject) > MAX_SEARCH):
            raise bad_input(f"kind and subject are at most {MAX_SEARCH} characters")
        store = info.context.store
        async with store.session() as s:
            page = await repo_console.page_audit_events(
                s, wanted, pair_id=raw_pair, kind=kind, subject=subject
            )

        async def count() -> int:
            async with store.session() as s:
                return await repo_console.count_audit_events(
                    s, pair_id=raw_pair, kind=kind, subject=subject
                )

        return connection(
            page,
            wanted,
            node=AuditEvent.of,
            key=lambda row: [row.at, row.id],
            count=count,
        )
