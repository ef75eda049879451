"""The API's objects with an identity (Relay ``Node``s), each a thin view over a store row.

Related objects are loaded through the request's DataLoaders (``info.context.loaders``), so a
page of conflicts with their links, snapshots and bases costs a few statements in all.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeAlias, TypeVar

import strawberry
from strawberry.scalars import JSON

from reconciler.api.context import ApiInfo
from reconciler.api.ids import decode_id, encode_id
from reconciler.api.loaders import held, now_or_later
from reconciler.api.pagination import Connection, connection, scalar_key, window
from reconciler.api.values import (
    ActionCount,
    ConflictDiff,
    NoteLinkBase,
    PairPolicy,
    Reason,
    Resolution,
    SideBudget,
    SideName,
    SideNote,
    SideRequests,
    as_json,
    counts_of,
)
from reconciler.service.conflict_diff import conflict_diff
from reconciler.service.pairs import requests_spent, side_budget
from reconciler.sides.base import CORE_FIELDS
from reconciler.store import repo_console
from reconciler.store.repo_links import Link
from reconciler.store.repo_pairs import pair_policy
from reconciler.store.schema import AccountKind, ConflictStatus, LinkStatus, PlanStatus
from reconciler.store.tables import (
    AuditEventRow,
    ConflictRow,
    LinkBaseRow,
    OverrideRow,
    PairRow,
    PlanActionRow,
    PlanRow,
    RunRow,
    SideAccountRow,
    SnapshotContactRow,
)
from reconciler.sync.model import ConflictKind, OverrideScope

T = TypeVar("T")
U = TypeVar("U")
V = TypeVar("V")
# What a relation's resolver returns: the object now, or an awaitable of it (see
# ``loaders.now_or_later``); the GraphQL type is given to strawberry as ``graphql_type``.
Later: TypeAlias = V | Awaitable[V]


@strawberry.interface(description="An object with a stable, opaque global id.")
class Node:
    id: strawberry.ID


def _gid(type_name: str, raw: str | int) -> strawberry.ID:
    return strawberry.ID(encode_id(type_name, raw))


# ------------------------------------------------------------------------ relation resolvers
#
# Relations resolve through ``now_or_later``: a plain value when the request's loaders already
# hold it (a prefetched page), an awaitable otherwise. Defined before the types that use them
# (strawberry reads a resolver's signature when the type is created).


def _side_notes(root: ContactSide, info: ApiInfo) -> Later[list[SideNote] | None]:
    if root.row.notes_fetched_at is None:
        return None
    key = (root.row.pair_id, root.row.side, root.row.contact_id)
    return now_or_later(
        info.context.loaders.snapshot_notes,
        key,
        lambda rows: [SideNote(id=row.note_id, body=row.body, hash=row.hash) for row in rows],
    )


def _base_notes(root: LinkBase, info: ApiInfo) -> Later[list[NoteLinkBase]]:
    return now_or_later(
        info.context.loaders.note_links,
        root.row.link_id,
        lambda rows: [
            NoteLinkBase(
                id=row.id,
                a_note_id=row.a_note_id,
                b_note_id=row.b_note_id,
                body=row.base_body,
                hash=row.base_hash,
            )
            for row in rows
        ],
    )


def _snapshot_key(link: Link, side: str) -> tuple[str, str, str]:
    return (link.pair_id, side, link.a_id if side == "a" else link.b_id)


def _link_side(root: ContactLink, info: ApiInfo, side: str) -> Later[ContactSide | None]:
    return now_or_later(
        info.context.loaders.snapshot_contact,
        _snapshot_key(root.link, side),
        _maybe(ContactSide.of),
    )


def _display_name(root: ContactLink, info: ApiInfo) -> Later[str]:
    loaders = info.context.loaders
    held_rows = [
        held(loaders.base, root.link.id),
        held(loaders.snapshot_contact, _snapshot_key(root.link, "a")),
        held(loaders.snapshot_contact, _snapshot_key(root.link, "b")),
    ]
    if all(future is not None for future in held_rows):
        return _name_of(root.link, [f.result() for f in held_rows if f is not None])

    async def later() -> str:
        rows = await asyncio.gather(
            loaders.base.load(root.link.id),
            loaders.snapshot_contact.load(_snapshot_key(root.link, "a")),
            loaders.snapshot_contact.load(_snapshot_key(root.link, "b")),
        )
        return _name_of(root.link, list(rows))

    return later()


def _name_of(link: Link, rows: list[Any]) -> str:
    for row in rows:
        if row is None:
            continue
        fields = row.fields or {}
        name = " ".join(
            part for part in (_text(fields, "first_name"), _text(fields, "last_name")) if part
        )
        if name or _text(fields, "email"):
            return name or str(_text(fields, "email"))
    return f"{link.a_id} / {link.b_id}"


def _maybe(build: Callable[[T], U]) -> Callable[[T | None], U | None]:
    return lambda value: build(value) if value is not None else None


def _text(fields: dict[str, Any] | None, name: str) -> str | None:
    value = (fields or {}).get(name)
    return str(value) if value is not None and name in CORE_FIELDS else None


def _tags(tags: dict[str, Any] | None) -> list[str]:
    return sorted(str(name) for name in (tags or {}).values())


def pair_of(info: ApiInfo, pair_id: str) -> Later[Pair | None]:
    return now_or_later(info.context.loaders.pair, pair_id, _maybe(Pair.of))


def link_of(info: ApiInfo, link_id: str | None) -> Later[ContactLink | None]:
    if link_id is None:
        return None
    return now_or_later(info.context.loaders.link, link_id, _maybe(ContactLink.of))


def _link_pair(root: ContactLink, info: ApiInfo) -> Later[Pair | None]:
    return pair_of(info, root.link.pair_id)


def _link_a(root: ContactLink, info: ApiInfo) -> Later[ContactSide | None]:
    return _link_side(root, info, "a")


def _link_b(root: ContactLink, info: ApiInfo) -> Later[ContactSide | None]:
    return _link_side(root, info, "b")


def _link_base(root: ContactLink, info: ApiInfo) -> Later[LinkBase | None]:
    return now_or_later(info.context.loaders.base, root.link.id, _maybe(LinkBase.of))


def _conflict_pair(root: Conflict, info: ApiInfo) -> Later[Pair | None]:
    return pair_of(info, root.row.pair_id)


def _conflict_link(root: Conflict, info: ApiInfo) -> Later[ContactLink | None]:
    return link_of(info, root.row.link_id)


# ------------------------------------------------------------------------------------ pairs
#
# Scalar fields are plain attributes filled in by ``of()``: strawberry resolves an attribute
# far faster than a method, which matters on a page of 50 conflicts with their details.
# Methods remain for what needs a loader (related objects).


@strawberry.type(description="One account of one system (never its credentials).")
class SideAccount(Node):
    label: str
    kind: AccountKind
    location_id: str | None
    auth_kind: str | None
    connected: bool = strawberry.field(
        description="Whether credentials are stored (they are never shown)."
    )

    @classmethod
    def of(cls, row: SideAccountRow) -> SideAccount:
        return cls(
            id=_gid("SideAccount", row.id),
            label=row.label,
            kind=AccountKind(row.kind),
            location_id=row.location_id,
            auth_kind=row.auth_kind,
            connected=row.credentials is not None,
        )


@strawberry.type(description="Two side accounts kept in agreement, with the pair's policy.")
class Pair(Node):
    row: strawberry.Private[PairRow]
    name: str
    enabled: bool
    schedule_interval_seconds: int
    created_at: datetime
    a_full_scan_at: datetime | None
    b_full_scan_at: datetime | None

    @classmethod
    def of(cls, row: PairRow) -> Pair:
        return cls(
            id=_gid("Pair", row.id),
            row=row,
            name=row.name,
            enabled=row.enabled,
            schedule_interval_seconds=row.schedule_interval_s,
            created_at=row.created_at,
            a_full_scan_at=row.a_full_scan_at,
            b_full_scan_at=row.b_full_scan_at,
        )

    @strawberry.field
    async def side_a(self, info: ApiInfo) -> SideAccount | None:
        row = await info.context.loaders.account.load(self.row.side_a_account_id)
        return SideAccount.of(row) if row is not None else None

    @strawberry.field
    async def side_b(self, info: ApiInfo) -> SideAccount | None:
        row = await info.context.loaders.account.load(self.row.side_b_account_id)
        return SideAccount.of(row) if row is not None else None

    @strawberry.field
    def policy(self) -> PairPolicy:
        return PairPolicy.of(pair_policy(self.row))

    @strawberry.field
    async def last_run(self, info: ApiInfo) -> Run | None:
        row = await info.context.loaders.last_run.load(self.row.id)
        return Run.of(row) if row is not None else None

    @strawberry.field
    async def open_conflict_count(self, info: ApiInfo) -> int:
        return await info.context.loaders.open_conflict_count.load(self.row.id)

    @strawberry.field
    async def budget(self, info: ApiInfo) -> list[SideBudget]:
        loaders = info.context.loaders
        last, spent, account_a, account_b = await asyncio.gather(
            loaders.last_run.load(self.row.id),
            loaders.spent_today.load(self.row.id),
            loaders.account.load(self.row.side_a_account_id),
            loaders.account.load(self.row.side_b_account_id),
        )
        out = []
        for side, account in (("a", account_a), ("b", account_b)):
            kind = account.kind if account is not None else ""
            value = side_budget("a" if side == "a" else "b", kind, last, spent.get(side))
            out.append(
                SideBudget(
                    side=SideName(side),
                    requests_last_run=value.requests_last_run,
                    daily_limit=value.daily_limit,
                    remaining_daily=value.remaining_daily,
                )
            )
        return out


# ------------------------------------------------------------------------------------ links


@strawberry.type(description="One side's last listed view of a linked contact.")
class ContactSide:
    row: strawberry.Private[SnapshotContactRow]
    side: SideName
    contact_id: str
    listed: bool = strawberry.field(
        description="False when the contact is known only from a webhook hint (no values)."
    )
    first_name: str | None
    last_name: str | None
    email: str | None
    phone: str | None
    tags: list[str]
    seen_at: datetime | None
    missing_since: datetime | None
    date_updated: datetime | None
    notes_read_at: datetime | None
    parked_error: str | None

    @classmethod
    def of(cls, row: SnapshotContactRow) -> ContactSide:
        fields = row.fields or {}
        return cls(
            row=row,
            side=SideName(row.side),
            contact_id=row.contact_id,
            listed=row.hash is not None,
            first_name=_text(fields, "first_name"),
            last_name=_text(fields, "last_name"),
            email=_text(fields, "email"),
            phone=_text(fields, "phone"),
            tags=_tags(row.tags),
            seen_at=row.seen_at,
            missing_since=row.missing_since,
            date_updated=row.date_updated,
            notes_read_at=row.notes_fetched_at,
            parked_error=row.parked_error,
        )

    notes: Later[list[SideNote] | None] = strawberry.field(
        resolver=_side_notes,
        graphql_type=list[SideNote] | None,
        description="The notes as last read; null when this contact's notes were never read.",
    )


@strawberry.type(description="The last state both sides agreed on for a link.")
class LinkBase:
    row: strawberry.Private[LinkBaseRow]
    first_name: str | None
    last_name: str | None
    email: str | None
    phone: str | None
    tags: list[str]
    updated_at: datetime

    @classmethod
    def of(cls, row: LinkBaseRow) -> LinkBase:
        fields = row.fields or {}
        return cls(
            row=row,
            first_name=_text(fields, "first_name"),
            last_name=_text(fields, "last_name"),
            email=_text(fields, "email"),
            phone=_text(fields, "phone"),
            tags=_tags(row.tags),
            updated_at=row.updated_at,
        )

    notes: Later[list[NoteLinkBase]] = strawberry.field(
        resolver=_base_notes, graphql_type=list[NoteLinkBase]
    )


@strawberry.type(description="Contact a_id on side A is the same person as b_id on side B.")
class ContactLink(Node):
    link: strawberry.Private[Link]
    status: LinkStatus
    excluded: bool
    a_contact_id: str
    b_contact_id: str
    created_at: datetime

    @classmethod
    def of(cls, link: Link) -> ContactLink:
        return cls(
            id=_gid("ContactLink", link.id),
            link=link,
            status=link.status,
            excluded=link.excluded,
            a_contact_id=link.a_id,
            b_contact_id=link.b_id,
            created_at=link.created_at,
        )

    pair: Later[Pair | None] = strawberry.field(resolver=_link_pair, graphql_type=Pair | None)
    a: Later[ContactSide | None] = strawberry.field(
        resolver=_link_a, graphql_type=ContactSide | None
    )
    b: Later[ContactSide | None] = strawberry.field(
        resolver=_link_b, graphql_type=ContactSide | None
    )
    base: Later[LinkBase | None] = strawberry.field(
        resolver=_link_base,
        graphql_type=LinkBase | None,
    )
    display_name: Later[str] = strawberry.field(
        resolver=_display_name,
        graphql_type=str,
        description="A name to show: the base's, else A's, else B's (else the contact ids).",
    )

    @strawberry.field
    async def open_conflicts(self, info: ApiInfo) -> list[Conflict]:
        rows = await info.context.loaders.open_conflicts_of_link.load(self.link.id)
        return [Conflict.of(row) for row in rows]

    @strawberry.field
    async def overrides(self, info: ApiInfo) -> list[Override]:
        rows = await info.context.loaders.overrides_of_link.load(self.link.id)
        return [Override.of(row) for row in rows]


# -------------------------------------------------------------------------------- conflicts


@strawberry.type(description="A disagreement kept open with base, A and B values.")
class Conflict(Node):
    row: strawberry.Private[ConflictRow]
    kind: ConflictKind
    scope: str = strawberry.field(
        description='What is in conflict within the link: a field name, a note link id, "tags".'
    )
    status: ConflictStatus
    base_value: JSON | None
    a_value: JSON | None
    b_value: JSON | None
    reason: Reason | None
    proposed: Resolution | None
    resolution: Resolution | None
    resolved_by: str | None
    detected_at: datetime
    updated_at: datetime
    resolved_at: datetime | None

    @classmethod
    def of(cls, row: ConflictRow) -> Conflict:
        return cls(
            id=_gid("Conflict", row.id),
            row=row,
            kind=ConflictKind(row.kind),
            scope=row.scope,
            status=ConflictStatus(row.status),
            base_value=as_json(row.base_value),
            a_value=as_json(row.a_value),
            b_value=as_json(row.b_value),
            reason=Reason.of(row.reason),
            proposed=Resolution.of(row.proposed),
            resolution=Resolution.of(row.resolution),
            resolved_by=row.resolved_by,
            detected_at=row.detected_at,
            updated_at=row.updated_at,
            resolved_at=row.resolved_at,
        )

    pair: Later[Pair | None] = strawberry.field(resolver=_conflict_pair, graphql_type=Pair | None)
    link: Later[ContactLink | None] = strawberry.field(
        resolver=_conflict_link,
        graphql_type=ContactLink | None,
    )

    @strawberry.field
    def diff(self) -> ConflictDiff:
        row = self.row
        diff = conflict_diff(
            ConflictKind(row.kind), row.scope, row.base_value, row.a_value, row.b_value
        )
        return ConflictDiff.of(diff)


# ------------------------------------------------------------------------------ runs, plans


@strawberry.type(description="One reconciliation run of one pair.")
class Run(Node):
    row: strawberry.Private[RunRow]

    @classmethod
    def of(cls, row: RunRow) -> Run:
        return cls(id=_gid("Run", row.id), row=row)

    @strawberry.field
    async def pair(self, info: ApiInfo) -> Pair | None:
        return await load_pair(info, self.row.pair_id)

    @strawberry.field
    def trigger(self) -> str:
        return self.row.trigger

    @strawberry.field
    def dry_run(self) -> bool:
        return self.row.dry_run

    @strawberry.field
    def status(self) -> str:
        """running, succeeded, partial, failed, awaiting_approval, ..."""
        return self.row.status

    @strawberry.field
    def started_at(self) -> datetime:
        return self.row.started_at

    @strawberry.field
    def finished_at(self) -> datetime | None:
        return self.row.finished_at

    @strawberry.field
    def duration_ms(self) -> int | None:
        if self.row.finished_at is None:
            return None
        return int((self.row.finished_at - self.row.started_at).total_seconds() * 1000)

    @strawberry.field
    def a_complete(self) -> bool | None:
        return self.row.a_complete

    @strawberry.field
    def b_complete(self) -> bool | None:
        return self.row.b_complete

    @strawberry.field
    def counts(self) -> list[ActionCount]:
        return counts_of(dict(self.row.counts or {}))

    @strawberry.field
    def requests(self) -> list[SideRequests]:
        out = []
        for side in ("a", "b"):
            per = (self.row.requests or {}).get(side)
            out.append(
                SideRequests(
                    side=SideName(side),
                    total=requests_spent(self.row, "a" if side == "a" else "b"),
                    by_endpoint=as_json(per if isinstance(per, dict) else {}),
                )
            )
        return out

    @strawberry.field
    def requests_spent(self) -> int:
        return requests_spent(self.row, "a") + requests_spent(self.row, "b")

    @strawberry.field
    def conflicts_opened(self) -> int:
        return self.row.conflicts_opened

    @strawberry.field
    def conflicts_closed(self) -> int | None:
        # Resolutions carried out, or sides that came to agree; null on runs recorded
        # before migration 0003 counted them.
        return self.row.conflicts_closed

    @strawberry.field
    def errors(self) -> list[str]:
        return [
            error if isinstance(error, str) else json.dumps(error, default=str)
            for error in self.row.errors or []
        ]

    @strawberry.field
    async def plan(self, info: ApiInfo) -> Plan | None:
        if self.row.plan_id is None:
            return None
        row = await info.context.loaders.plan.load(self.row.plan_id)
        return Plan.of(row) if row is not None else None


@strawberry.type(description="One action of a plan, with the reason for it.")
class PlanAction:
    row: strawberry.Private[PlanActionRow]

    @strawberry.field
    def seq(self) -> int:
        return self.row.seq

    @strawberry.field
    def kind(self) -> str:
        return self.row.kind

    @strawberry.field
    def side(self) -> SideName | None:
        return SideName(self.row.side) if self.row.side else None

    @strawberry.field
    async def link(self, info: ApiInfo) -> ContactLink | None:
        if self.row.link_id is None:
            return None
        link = await info.context.loaders.link.load(self.row.link_id)
        return ContactLink.of(link) if link is not None else None

    @strawberry.field
    def contact_id(self) -> str | None:
        return self.row.contact_id

    @strawberry.field
    def source_side(self) -> SideName | None:
        return SideName(self.row.source_side) if self.row.source_side else None

    @strawberry.field
    def source_id(self) -> str | None:
        return self.row.source_id

    @strawberry.field
    def payload(self) -> JSON:
        return as_json(self.row.payload or {})

    @strawberry.field
    def reason(self) -> Reason | None:
        return Reason.of(self.row.reason)


@strawberry.type(description="A persisted plan: a dry run's actions, applied later by id.")
class Plan(Node):
    row: strawberry.Private[PlanRow]

    @classmethod
    def of(cls, row: PlanRow) -> Plan:
        return cls(id=_gid("Plan", row.id), row=row)

    @strawberry.field
    async def pair(self, info: ApiInfo) -> Pair | None:
        return await load_pair(info, self.row.pair_id)

    @strawberry.field
    async def run(self, info: ApiInfo) -> Run | None:
        if self.row.run_id is None:
            return None
        row = await info.context.loaders.run.load(self.row.run_id)
        return Run.of(row) if row is not None else None

    @strawberry.field
    def status(self) -> PlanStatus:
        return PlanStatus(self.row.status)

    @strawberry.field
    def created_at(self) -> datetime:
        return self.row.created_at

    @strawberry.field
    def updated_at(self) -> datetime:
        return self.row.updated_at

    @strawberry.field
    async def counts(self, info: ApiInfo) -> list[ActionCount]:
        return counts_of(await info.context.loaders.plan_counts.load(self.row.id))

    @strawberry.field
    async def action_count(self, info: ApiInfo) -> int:
        return sum((await info.context.loaders.plan_counts.load(self.row.id)).values())

    @strawberry.field
    async def actions(
        self,
        info: ApiInfo,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[PlanAction]:
        wanted = window(first, after, last, before, lambda cursor: scalar_key(cursor, int))
        async with info.context.store.session() as s:
            page = await repo_console.page_plan_actions(s, self.row.id, wanted)

        async def count() -> int:
            return sum((await info.context.loaders.plan_counts.load(self.row.id)).values())

        return connection(
            page,
            wanted,
            node=lambda row: PlanAction(row=row),
            key=lambda row: [row.seq],
            count=count,
        )


# ---------------------------------------------------------------------- overrides, audit


@strawberry.type(description="A person's decision that beats policy: a pinned side or exclusion.")
class Override(Node):
    row: strawberry.Private[OverrideRow]

    @classmethod
    def of(cls, row: OverrideRow) -> Override:
        return cls(id=_gid("Override", row.id), row=row)

    @strawberry.field
    async def pair(self, info: ApiInfo) -> Pair | None:
        return await load_pair(info, self.row.pair_id)

    @strawberry.field
    def scope(self) -> OverrideScope:
        return OverrideScope(self.row.scope)

    @strawberry.field
    def pin(self) -> SideName | None:
        return SideName(self.row.pin) if self.row.pin else None

    @strawberry.field
    def exclude(self) -> bool:
        return self.row.exclude

    @strawberry.field
    async def link(self, info: ApiInfo) -> ContactLink | None:
        if self.row.link_id is None:
            return None
        link = await info.context.loaders.link.load(self.row.link_id)
        return ContactLink.of(link) if link is not None else None

    @strawberry.field
    def tag_key(self) -> str | None:
        return self.row.tag_key

    @strawberry.field
    def note_link_id(self) -> str | None:
        return self.row.note_link_id

    @strawberry.field
    def field_name(self) -> str | None:
        return self.row.field_name

    @strawberry.field
    def expires_at(self) -> datetime | None:
        return self.row.expires_at

    @strawberry.field
    def created_by(self) -> str:
        return self.row.created_by

    @strawberry.field
    def created_at(self) -> datetime:
        return self.row.created_at

    @strawberry.field
    def deleted_at(self) -> datetime | None:
        return self.row.deleted_at

    @strawberry.field
    def active(self, info: ApiInfo) -> bool:
        now = info.context.now()
        return self.row.deleted_at is None and (
            self.row.expires_at is None or now < self.row.expires_at
        )


@strawberry.type(description="Something that happened, and who did it.")
class AuditEvent(Node):
    row: strawberry.Private[AuditEventRow]

    @classmethod
    def of(cls, row: AuditEventRow) -> AuditEvent:
        assert row.id is not None
        return cls(id=_gid("AuditEvent", row.id), row=row)

    @strawberry.field
    async def pair(self, info: ApiInfo) -> Pair | None:
        return await load_pair(info, self.row.pair_id) if self.row.pair_id else None

    @strawberry.field
    def at(self) -> datetime:
        return self.row.at

    @strawberry.field
    def actor(self) -> str:
        return self.row.actor

    @strawberry.field
    def kind(self) -> str:
        return self.row.kind

    @strawberry.field
    def subject(self) -> str | None:
        return self.row.subject

    @strawberry.field
    def detail(self) -> JSON:
        return as_json(self.row.detail or {})


# ---------------------------------------------------------------------------- node lookups


async def load_pair(info: ApiInfo, pair_id: str) -> Pair | None:
    row = await info.context.loaders.pair.load(pair_id)
    return Pair.of(row) if row is not None else None


async def resolve_node(info: ApiInfo, global_id: str) -> Node | None:
    """The object a global id names; None for an unknown or malformed id."""
    decoded = decode_id(global_id)
    if decoded is None:
        return None
    type_name, raw = decoded
    loaders = info.context.loaders
    if type_name == "Pair":
        return await load_pair(info, raw)
    if type_name == "SideAccount":
        account = await loaders.account.load(raw)
        return SideAccount.of(account) if account is not None else None
    if type_name == "ContactLink":
        link = await loaders.link.load(raw)
        return ContactLink.of(link) if link is not None else None
    if type_name == "Conflict":
        conflict = await loaders.conflict.load(raw)
        return Conflict.of(conflict) if conflict is not None else None
    if type_name == "Run":
        run = await loaders.run.load(raw)
        return Run.of(run) if run is not None else None
    if type_name == "Plan":
        plan = await loaders.plan.load(raw)
        return Plan.of(plan) if plan is not None else None
    if type_name == "Override":
        override = await loaders.override.load(raw)
        return Override.of(override) if override is not None else None
    if type_name == "AuditEvent" and raw.isdigit() and len(raw) < 19:
        event = await loaders.audit_event.load(int(raw))
        return AuditEvent.of(event) if event is not None else None
    return None


__all__ = [
    "AuditEvent",
    "Conflict",
    "ConflictStatus",
    "ContactLink",
    "LinkStatus",
    "Node",
    "Override",
    "Pair",
    "Plan",
    "PlanAction",
    "Run",
    "SideAccount",
]
