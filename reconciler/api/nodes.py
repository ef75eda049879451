"""The API's objects with an identity (Relay ``Node``s), each a thin view over a store row.

Related objects are loaded through the request's DataLoaders (``info.context.loaders``), so a
page of conflicts with their links, snapshots and bases costs a few statements in all.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import strawberry
from strawberry.scalars import JSON

from reconciler.api.context import ApiInfo
from reconciler.api.ids import decode_id, encode_id
from reconciler.api.pagination import Connection, connection, page_size, scalar_key
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


@strawberry.interface(description="An object with a stable, opaque global id.")
class Node:
    id: strawberry.ID


def _gid(type_name: str, raw: str | int) -> strawberry.ID:
    return strawberry.ID(encode_id(type_name, raw))


# ------------------------------------------------------------------------------------ pairs


@strawberry.type(description="One account of one system (never its credentials).")
class SideAccount(Node):
    row: strawberry.Private[SideAccountRow]

    @classmethod
    def of(cls, row: SideAccountRow) -> SideAccount:
        return cls(id=_gid("SideAccount", row.id), row=row)

    @strawberry.field
    def label(self) -> str:
        return self.row.label

    @strawberry.field
    def kind(self) -> AccountKind:
        return AccountKind(self.row.kind)

    @strawberry.field
    def location_id(self) -> str | None:
        return self.row.location_id

    @strawberry.field
    def auth_kind(self) -> str | None:
        return self.row.auth_kind

    @strawberry.field
    def connected(self) -> bool:
        """Whether credentials are stored (they are never shown)."""
        return self.row.credentials is not None


@strawberry.type(description="Two side accounts kept in agreement, with the pair's policy.")
class Pair(Node):
    row: strawberry.Private[PairRow]

    @classmethod
    def of(cls, row: PairRow) -> Pair:
        return cls(id=_gid("Pair", row.id), row=row)

    @strawberry.field
    def name(self) -> str:
        return self.row.name

    @strawberry.field
    def enabled(self) -> bool:
        return self.row.enabled

    @strawberry.field
    def schedule_interval_seconds(self) -> int:
        return self.row.schedule_interval_s

    @strawberry.field
    def created_at(self) -> datetime:
        return self.row.created_at

    @strawberry.field
    def a_full_scan_at(self) -> datetime | None:
        return self.row.a_full_scan_at

    @strawberry.field
    def b_full_scan_at(self) -> datetime | None:
        return self.row.b_full_scan_at

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
        last = await loaders.last_run.load(self.row.id)
        spent = await loaders.spent_today.load(self.row.id)
        out = []
        for side, account_id in (
            ("a", self.row.side_a_account_id),
            ("b", self.row.side_b_account_id),
        ):
            account = await loaders.account.load(account_id)
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
    side: SideName
    row: strawberry.Private[SnapshotContactRow]

    @strawberry.field
    def contact_id(self) -> str:
        return self.row.contact_id

    @strawberry.field
    def listed(self) -> bool:
        """False when the contact is known only from a webhook hint (values are empty)."""
        return self.row.hash is not None

    @strawberry.field
    def first_name(self) -> str | None:
        return _text(self.row.fields, "first_name")

    @strawberry.field
    def last_name(self) -> str | None:
        return _text(self.row.fields, "last_name")

    @strawberry.field
    def email(self) -> str | None:
        return _text(self.row.fields, "email")

    @strawberry.field
    def phone(self) -> str | None:
        return _text(self.row.fields, "phone")

    @strawberry.field
    def tags(self) -> list[str]:
        return sorted(str(name) for name in (self.row.tags or {}).values())

    @strawberry.field
    def seen_at(self) -> datetime | None:
        return self.row.seen_at

    @strawberry.field
    def missing_since(self) -> datetime | None:
        return self.row.missing_since

    @strawberry.field
    def date_updated(self) -> datetime | None:
        return self.row.date_updated

    @strawberry.field
    def notes_read_at(self) -> datetime | None:
        return self.row.notes_fetched_at

    @strawberry.field
    def parked_error(self) -> str | None:
        return self.row.parked_error

    @strawberry.field
    async def notes(self, info: ApiInfo) -> list[SideNote] | None:
        """The notes as last read; null when this contact's notes were never read."""
        if self.row.notes_fetched_at is None:
            return None
        key = (self.row.pair_id, self.row.side, self.row.contact_id)
        rows = await info.context.loaders.snapshot_notes.load(key)
        return [SideNote(id=row.note_id, body=row.body, hash=row.hash) for row in rows]


@strawberry.type(description="The last state both sides agreed on for a link.")
class LinkBase:
    row: strawberry.Private[LinkBaseRow]

    @strawberry.field
    def first_name(self) -> str | None:
        return _text(self.row.fields, "first_name")

    @strawberry.field
    def last_name(self) -> str | None:
        return _text(self.row.fields, "last_name")

    @strawberry.field
    def email(self) -> str | None:
        return _text(self.row.fields, "email")

    @strawberry.field
    def phone(self) -> str | None:
        return _text(self.row.fields, "phone")

    @strawberry.field
    def tags(self) -> list[str]:
        return sorted(str(name) for name in (self.row.tags or {}).values())

    @strawberry.field
    def updated_at(self) -> datetime:
        return self.row.updated_at

    @strawberry.field
    async def notes(self, info: ApiInfo) -> list[NoteLinkBase]:
        rows = await info.context.loaders.note_links.load(self.row.link_id)
        return [
            NoteLinkBase(
                id=row.id,
                a_note_id=row.a_note_id,
                b_note_id=row.b_note_id,
                body=row.base_body,
                hash=row.base_hash,
            )
            for row in rows
        ]


@strawberry.type(description="Contact a_id on side A is the same person as b_id on side B.")
class ContactLink(Node):
    link: strawberry.Private[Link]

    @classmethod
    def of(cls, link: Link) -> ContactLink:
        return cls(id=_gid("ContactLink", link.id), link=link)

    @strawberry.field
    async def pair(self, info: ApiInfo) -> Pair | None:
        return await load_pair(info, self.link.pair_id)

    @strawberry.field
    def status(self) -> LinkStatus:
        return self.link.status

    @strawberry.field
    def excluded(self) -> bool:
        return self.link.excluded

    @strawberry.field
    def a_contact_id(self) -> str:
        return self.link.a_id

    @strawberry.field
    def b_contact_id(self) -> str:
        return self.link.b_id

    @strawberry.field
    def created_at(self) -> datetime:
        return self.link.created_at

    @strawberry.field
    async def a(self, info: ApiInfo) -> ContactSide | None:
        return await self._side(info, "a")

    @strawberry.field
    async def b(self, info: ApiInfo) -> ContactSide | None:
        return await self._side(info, "b")

    async def _side(self, info: ApiInfo, side: str) -> ContactSide | None:
        contact_id = self.link.a_id if side == "a" else self.link.b_id
        key = (self.link.pair_id, side, contact_id)
        row = await info.context.loaders.snapshot_contact.load(key)
        return ContactSide(side=SideName(side), row=row) if row is not None else None

    @strawberry.field
    async def base(self, info: ApiInfo) -> LinkBase | None:
        row = await info.context.loaders.base.load(self.link.id)
        return LinkBase(row=row) if row is not None else None

    @strawberry.field
    async def display_name(self, info: ApiInfo) -> str:
        """A name to show: the base's, else A's, else B's (name, else email, else ids)."""
        loaders = info.context.loaders
        base = await loaders.base.load(self.link.id)
        candidates: list[dict[str, Any]] = [base.fields] if base is not None else []
        for side, contact_id in (("a", self.link.a_id), ("b", self.link.b_id)):
            row = await loaders.snapshot_contact.load((self.link.pair_id, side, contact_id))
            if row is not None:
                candidates.append(row.fields)
        for fields in candidates:
            name = " ".join(
                part for part in (_text(fields, "first_name"), _text(fields, "last_name")) if part
            )
            if name or _text(fields, "email"):
                return name or str(_text(fields, "email"))
        return f"{self.link.a_id} / {self.link.b_id}"

    @strawberry.field
    async def open_conflicts(self, info: ApiInfo) -> list[Conflict]:
        rows = await info.context.loaders.open_conflicts_of_link.load(self.link.id)
        return [Conflict.of(row) for row in rows]

    @strawberry.field
    async def overrides(self, info: ApiInfo) -> list[Override]:
        rows = await info.context.loaders.overrides_of_link.load(self.link.id)
        return [Override.of(row) for row in rows]


def _text(fields: dict[str, Any] | None, name: str) -> str | None:
    value = (fields or {}).get(name)
    return str(value) if value is not None and name in CORE_FIELDS else None


# -------------------------------------------------------------------------------- conflicts


@strawberry.type(description="A disagreement kept open with base, A and B values.")
class Conflict(Node):
    row: strawberry.Private[ConflictRow]

    @classmethod
    def of(cls, row: ConflictRow) -> Conflict:
        return cls(id=_gid("Conflict", row.id), row=row)

    @strawberry.field
    async def pair(self, info: ApiInfo) -> Pair | None:
        return await load_pair(info, self.row.pair_id)

    @strawberry.field
    async def link(self, info: ApiInfo) -> ContactLink | None:
        if self.row.link_id is None:
            return None
        link = await info.context.loaders.link.load(self.row.link_id)
        return ContactLink.of(link) if link is not None else None

    @strawberry.field
    def kind(self) -> ConflictKind:
        return ConflictKind(self.row.kind)

    @strawberry.field
    def scope(self) -> str:
        """What is in conflict within the link: a field name, a note link id, "tags", ..."""
        return self.row.scope

    @strawberry.field
    def status(self) -> ConflictStatus:
        return ConflictStatus(self.row.status)

    @strawberry.field
    def base_value(self) -> JSON | None:
        return as_json(self.row.base_value)

    @strawberry.field
    def a_value(self) -> JSON | None:
        return as_json(self.row.a_value)

    @strawberry.field
    def b_value(self) -> JSON | None:
        return as_json(self.row.b_value)

    @strawberry.field
    def reason(self) -> Reason | None:
        return Reason.of(self.row.reason)

    @strawberry.field
    def proposed(self) -> Resolution | None:
        return Resolution.of(self.row.proposed)

    @strawberry.field
    def resolution(self) -> Resolution | None:
        return Resolution.of(self.row.resolution)

    @strawberry.field
    def resolved_by(self) -> str | None:
        return self.row.resolved_by

    @strawberry.field
    def detected_at(self) -> datetime:
        return self.row.detected_at

    @strawberry.field
    def updated_at(self) -> datetime:
        return self.row.updated_at

    @strawberry.field
    def resolved_at(self) -> datetime | None:
        return self.row.resolved_at

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
        self, info: ApiInfo, first: int | None = None, after: str | None = None
    ) -> Connection[PlanAction]:
        limit = page_size(first)
        after_seq = scalar_key(after, int)
        store = info.context.store
        async with store.session() as s:
            page = await repo_console.page_plan_actions(
                s, self.row.id, limit=limit, after_seq=after_seq
            )

        async def count() -> int:
            return sum((await info.context.loaders.plan_counts.load(self.row.id)).values())

        return connection(
            page.rows,
            has_more=page.has_more,
            node=lambda row: PlanAction(row=row),
            key=lambda row: [row.seq],
            count=count,
            after=after,
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
