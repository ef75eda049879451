"""GraphQL enums and value types (objects without an identity of their own)."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, cast

import strawberry
from strawberry.scalars import JSON

from reconciler.service.conflict_diff import ConflictDiff as DiffValue
from reconciler.service.errors import ServiceError
from reconciler.store.codec import reason_from_json, resolution_from_json
from reconciler.store.schema import (
    AccountKind,
    ApiKeyRole,
    ConflictStatus,
    LinkStatus,
    PlanStatus,
)
from reconciler.sync import model
from reconciler.sync.model import (
    ConflictKind,
    CreateDirection,
    DeletePolicy,
    FieldConflictPolicy,
    NoteConflictPolicy,
    NoteDeleteEditPolicy,
    OverrideScope,
    ResolutionChoice,
    TagsInitialPolicy,
)


def as_json(value: object) -> JSON:
    """A JSON-serialisable Python value as the JSON scalar (a typing cast, no conversion)."""
    return cast(JSON, value)


@strawberry.enum(name="SideName")
class SideName(StrEnum):
    A = "a"
    B = "b"


# The engine's and the store's enums, registered as GraphQL enums under these names.
for _enum, _name in (
    (ConflictKind, "ConflictKind"),
    (ConflictStatus, "ConflictStatus"),
    (ResolutionChoice, "ResolutionChoice"),
    (OverrideScope, "OverrideScope"),
    (LinkStatus, "LinkStatus"),
    (PlanStatus, "PlanStatus"),
    (AccountKind, "AccountKind"),
    (ApiKeyRole, "Role"),
    (TagsInitialPolicy, "TagsInitialPolicy"),
    (NoteConflictPolicy, "NoteConflictPolicy"),
    (NoteDeleteEditPolicy, "NoteDeleteEditPolicy"),
    (FieldConflictPolicy, "FieldConflictPolicy"),
    (DeletePolicy, "DeletePolicy"),
    (CreateDirection, "CreateDirection"),
):
    strawberry.enum(_enum, name=_name)


@strawberry.type(description="Why a mutation did not do what was asked; nothing was changed.")
class UserError:
    field: list[str] | None = strawberry.field(
        description='The input field at fault, as a path (e.g. ["input", "value"]).'
    )
    code: str = strawberry.field(
        description="INVALID, NOT_FOUND, CONFLICT, STALE, BUSY, UNAVAILABLE, ..."
    )
    message: str


def user_error(error: ServiceError, *, prefix: tuple[str, ...] = ("input",)) -> UserError:
    path = [*prefix, error.field] if error.field else None
    return UserError(field=path, code=error.code, message=error.message)


@strawberry.type(description="The merge rule or policy that produced an action or conflict.")
class Reason:
    rule: str = strawberry.field(description="e.g. note.changed_both_differently")
    policy: str | None = strawberry.field(description="e.g. note_conflict=manual")
    override_id: str | None
    conflict_id: str | None
    compared: JSON = strawberry.field(description="The hashes or values compared.")
    detail: str

    @classmethod
    def of(cls, data: dict[str, Any]) -> Reason | None:
        if not data:
            return None
        try:
            reason = reason_from_json(data)
        except (KeyError, ValueError):
            # A reason in a shape this version does not know: show what it says as is.
            return cls(
                rule=str(data.get("rule", "")),
                policy=None,
                override_id=None,
                conflict_id=None,
                compared=as_json({}),
                detail=str(data.get("detail", "")),
            )
        return cls(
            rule=reason.rule.value,
            policy=reason.policy,
            override_id=reason.override_id,
            conflict_id=reason.conflict_id,
            compared=as_json(dict(reason.compared)),
            detail=reason.detail,
        )


@strawberry.type
class Resolution:
    choice: ResolutionChoice
    value: JSON | None

    @classmethod
    def of(cls, data: dict[str, Any] | None) -> Resolution | None:
        if not data:
            return None
        try:
            resolution = resolution_from_json(data)
        except ValueError:
            return None
        return cls(choice=resolution.choice, value=as_json(resolution.value))


@strawberry.type(description="A readable diff of a conflict's three values.")
class ConflictDiff:
    format: str = strawberry.field(
        description='"unified" (note bodies) or "changes" (one line per changed item)'
    )
    base_to_a: str
    base_to_b: str
    a_to_b: str

    @classmethod
    def of(cls, diff: DiffValue) -> ConflictDiff:
        return cls(
            format=diff.format,
            base_to_a=diff.base_to_a,
            base_to_b=diff.base_to_b,
            a_to_b=diff.a_to_b,
        )


@strawberry.type(description="How a pair settles what the sides disagree on.")
class PairPolicy:
    tags_initial: TagsInitialPolicy
    note_conflict: NoteConflictPolicy
    note_delete_vs_edit: NoteDeleteEditPolicy
    field_conflict: FieldConflictPolicy
    delete: DeletePolicy
    create: CreateDirection
    tags_case_insensitive: bool
    archive_tag: str
    delete_guard_share: float
    delete_guard_min: int
    default_phone_region: str

    @classmethod
    def of(cls, policy: model.PairPolicy) -> PairPolicy:
        return cls(
            tags_initial=policy.tags_initial,
            note_conflict=policy.note_conflict,
            note_delete_vs_edit=policy.note_delete_vs_edit,
            field_conflict=policy.field_conflict,
            delete=policy.delete,
            create=policy.create,
            tags_case_insensitive=policy.tags_case_insensitive,
            archive_tag=policy.archive_tag,
            delete_guard_share=policy.delete_guard_share,
            delete_guard_min=policy.delete_guard_min,
            default_phone_region=policy.default_phone_region,
        )


@strawberry.type(description="What a side's daily request budget has left.")
class SideBudget:
    side: SideName
    requests_last_run: int | None
    daily_limit: int | None
    remaining_daily: int | None


@strawberry.type
class ActionCount:
    kind: str
    count: int


@strawberry.type
class SideRequests:
    side: SideName
    total: int
    by_endpoint: JSON


@strawberry.type
class SideNote:
    id: str = strawberry.field(description="The note's id on its side.")
    body: str
    hash: str


@strawberry.type(description="The agreed state of one note link: a note on A and its twin on B.")
class NoteLinkBase:
    id: str = strawberry.field(description="The note link's id.")
    a_note_id: str
    b_note_id: str
    body: str
    hash: str


def counts_of(counts: dict[str, Any]) -> list[ActionCount]:
    return [
        ActionCount(kind=str(kind), count=int(count))
        for kind, count in sorted(counts.items())
        if isinstance(count, int)
    ]
