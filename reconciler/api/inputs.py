"""Mutation inputs and payloads. Payloads always have ``userErrors``: a refused request
returns them (and changes nothing) instead of raising."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.scalars import JSON

from reconciler.api.nodes import Conflict, ContactLink, Override, Pair, Plan, Run
from reconciler.api.values import SideName, UserError
from reconciler.sync.model import (
    CreateDirection,
    DeletePolicy,
    FieldConflictPolicy,
    NoteConflictPolicy,
    NoteDeleteEditPolicy,
    OverrideScope,
    ResolutionChoice,
    TagsInitialPolicy,
)


@strawberry.input
class ConflictResolveInput:
    id: strawberry.ID
    choice: ResolutionChoice
    value: JSON | None = strawberry.field(
        default=None, description="CUSTOM only: the value to settle on (text, tag list, ...)."
    )
    apply_now: bool = strawberry.field(
        default=False, description="Run the pair at once instead of waiting for its next run."
    )


@strawberry.type
class ConflictResolvePayload:
    conflict: Conflict | None = None
    run: Run | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class ConflictsResolveInput:
    ids: list[strawberry.ID]
    choice: ResolutionChoice
    value: JSON | None = None


@strawberry.type
class ConflictsResolvePayload:
    conflicts: list[Conflict] = strawberry.field(default_factory=list)
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class OverrideCreateInput:
    pair_id: strawberry.ID
    scope: OverrideScope
    pin: SideName | None = None
    exclude: bool = False
    contact_id: strawberry.ID | None = strawberry.field(
        default=None, description="A ContactLink id (scopes CONTACT, NOTE, FIELD; TAG optional)."
    )
    tag_name: str | None = None
    note_link_id: str | None = None
    field_name: str | None = None
    expires_at: datetime | None = None


@strawberry.type
class OverrideCreatePayload:
    override: Override | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class OverrideDeleteInput:
    id: strawberry.ID


@strawberry.type
class OverrideDeletePayload:
    deleted_override_id: strawberry.ID | None = None
    override: Override | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class ContactExclusionInput:
    id: strawberry.ID = strawberry.field(description="The ContactLink.")


@strawberry.type
class ContactExclusionPayload:
    contact_link: ContactLink | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class SyncRunStartInput:
    pair_id: strawberry.ID
    dry_run: bool = strawberry.field(
        default=True, description="Plan only (the plan is kept for planApply)."
    )


@strawberry.type
class SyncRunPayload:
    run: Run | None = None
    plan: Plan | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class PlanApplyInput:
    plan_id: strawberry.ID


@strawberry.input(description="The policy settings to change; those left out stay as they are.")
class PairPolicyInput:
    tags_initial: TagsInitialPolicy | None = None
    note_conflict: NoteConflictPolicy | None = None
    note_delete_vs_edit: NoteDeleteEditPolicy | None = None
    field_conflict: FieldConflictPolicy | None = None
    delete: DeletePolicy | None = None
    create: CreateDirection | None = None
    tags_case_insensitive: bool | None = None
    archive_tag: str | None = None
    delete_guard_share: float | None = None
    delete_guard_min: int | None = None
    default_phone_region: str | None = None


@strawberry.input
class PairPolicyUpdateInput:
    pair_id: strawberry.ID
    policy: PairPolicyInput | None = None
    enabled: bool | None = None
    schedule_interval_seconds: int | None = None


@strawberry.type
class PairPolicyUpdatePayload:
    pair: Pair | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)
