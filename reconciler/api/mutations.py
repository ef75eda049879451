"""The root ``Mutation``: operators resolve, override, exclude and run; admins change pairs.

Every resolver checks the caller's role first (a GraphQL error with ``extensions.code``), then
turns the input into raw ids and values, calls one service function, and maps the service's
refusals (``ServiceError``) to ``userErrors``.
"""

from __future__ import annotations

from typing import Any

import strawberry

from reconciler.api.context import ApiInfo, require
from reconciler.api.ids import decode_typed
from reconciler.api.inputs import (
    ConflictResolveInput,
    ConflictResolvePayload,
    ConflictsResolveInput,
    ConflictsResolvePayload,
    ContactExclusionInput,
    ContactExclusionPayload,
    OverrideCreateInput,
    OverrideCreatePayload,
    OverrideDeleteInput,
    OverrideDeletePayload,
    PairPolicyUpdateInput,
    PairPolicyUpdatePayload,
    PlanApplyInput,
    SyncRunPayload,
    SyncRunStartInput,
)
from reconciler.api.nodes import Conflict, ContactLink, Override, Pair, Plan, Run
from reconciler.api.values import UserError, user_error
from reconciler.service import conflicts, overrides, pairs, runs
from reconciler.service.errors import InvalidInputError, ServiceError, UnknownObjectError
from reconciler.store.schema import ApiKeyRole
from reconciler.sync.model import Resolution, ResolutionChoice


def _raw(global_id: str, type_name: str, field: str) -> str:
    raw = decode_typed(global_id, type_name)
    if raw is None:
        raise UnknownObjectError(f"not a {type_name} id", field=field)
    return raw


def _run_payload(outcome: runs.RunOutcome) -> SyncRunPayload:
    return SyncRunPayload(
        run=Run.of(outcome.run) if outcome.run is not None else None,
        plan=Plan.of(outcome.plan) if outcome.plan is not None else None,
    )


@strawberry.type
class Mutation:
    @strawberry.mutation
    async def conflict_resolve(
        self, info: ApiInfo, input: ConflictResolveInput
    ) -> ConflictResolvePayload:
        """Resolve an open conflict; it takes effect in the pair's next run (or at once with
        applyNow, which runs the pair)."""
        principal = require(info, ApiKeyRole.OPERATOR)
        ctx = info.context
        try:
            raw = _raw(input.id, "Conflict", "id")
            resolution = Resolution(choice=ResolutionChoice(input.choice), value=input.value)
            row = await conflicts.resolve_conflict(
                ctx.store,
                raw,
                resolution,
                actor=principal.actor,
                clock=ctx.services.clock,
                bus=ctx.services.bus,
            )
        except ServiceError as error:
            return ConflictResolvePayload(user_errors=[user_error(error)])
        payload = ConflictResolvePayload(conflict=Conflict.of(row))
        if input.apply_now:
            try:
                outcome = await runs.start_run(
                    ctx.store,
                    row.pair_id,
                    dry_run=False,
                    side_opener=ctx.services.side_opener,
                    actor=principal.actor,
                    clock=ctx.services.clock,
                    bus=ctx.services.bus,
                )
            except ServiceError as error:
                # The resolution is stored either way: the next scheduled run applies it.
                payload.user_errors = [
                    UserError(field=["input", "applyNow"], code=error.code, message=error.message)
                ]
                return payload
            payload.run = Run.of(outcome.run) if outcome.run is not None else None
            ctx.fresh_loaders()
            fresh = await ctx.loaders.conflict.load(row.id)
            payload.conflict = Conflict.of(fresh) if fresh is not None else payload.conflict
        return payload

    @strawberry.mutation
    async def conflicts_resolve(
        self, info: ApiInfo, input: ConflictsResolveInput
    ) -> ConflictsResolvePayload:
        """Resolve many conflicts the same way; those that cannot be are listed in userErrors
        (field ["input", "ids", "<index>"]), the others are resolved."""
        principal = require(info, ApiKeyRole.OPERATOR)
        ctx = info.context
        errors: list[UserError] = []
        raw_ids: list[str] = []
        for index, global_id in enumerate(input.ids):
            raw = decode_typed(global_id, "Conflict")
            if raw is None:
                errors.append(
                    UserError(
                        field=["input", "ids", str(index)],
                        code="NOT_FOUND",
                        message="not a Conflict id",
                    )
                )
            else:
                raw_ids.append(raw)
        if errors:
            return ConflictsResolvePayload(user_errors=errors)
        try:
            result = await conflicts.resolve_conflicts(
                ctx.store,
                raw_ids,
                Resolution(choice=ResolutionChoice(input.choice), value=input.value),
                actor=principal.actor,
                clock=ctx.services.clock,
                bus=ctx.services.bus,
            )
        except ServiceError as error:
            return ConflictsResolvePayload(user_errors=[user_error(error)])
        return ConflictsResolvePayload(
            conflicts=[Conflict.of(row) for row in result.resolved],
            user_errors=[
                UserError(
                    field=["input", "ids", str(failure.index)],
                    code=failure.error.code,
                    message=failure.error.message,
                )
                for failure in result.failures
            ],
        )

    @strawberry.mutation
    async def override_create(
        self, info: ApiInfo, input: OverrideCreateInput
    ) -> OverrideCreatePayload:
        principal = require(info, ApiKeyRole.OPERATOR)
        ctx = info.context
        try:
            if input.expires_at is not None and input.expires_at.tzinfo is None:
                raise InvalidInputError("expiresAt needs a time zone offset", field="expiresAt")
            request = overrides.OverrideRequest(
                pair_id=_raw(input.pair_id, "Pair", "pairId"),
                scope=input.scope,
                pin="a" if input.pin == "a" else "b" if input.pin == "b" else None,
                exclude=input.exclude,
                link_id=_raw(input.contact_id, "ContactLink", "contactId")
                if input.contact_id is not None
                else None,
                tag_name=input.tag_name,
                note_link_id=input.note_link_id,
                field_name=input.field_name,
                expires_at=input.expires_at,
            )
            row = await overrides.create_override(
                ctx.store, request, actor=principal.actor, clock=ctx.services.clock
            )
        except ServiceError as error:
            return OverrideCreatePayload(user_errors=[user_error(error)])
        return OverrideCreatePayload(override=Override.of(row))

    @strawberry.mutation
    async def override_delete(
        self, info: ApiInfo, input: OverrideDeleteInput
    ) -> OverrideDeletePayload:
        principal = require(info, ApiKeyRole.OPERATOR)
        ctx = info.context
        try:
            row = await overrides.delete_override(
                ctx.store,
                _raw(input.id, "Override", "id"),
                actor=principal.actor,
                clock=ctx.services.clock,
            )
        except ServiceError as error:
            return OverrideDeletePayload(user_errors=[user_error(error)])
        return OverrideDeletePayload(deleted_override_id=input.id, override=Override.of(row))

    @strawberry.mutation
    async def contact_exclude(
        self, info: ApiInfo, input: ContactExclusionInput
    ) -> ContactExclusionPayload:
        """Take a linked contact out of sync until contactInclude."""
        return await _set_excluded(info, input, excluded=True)

    @strawberry.mutation
    async def contact_include(
        self, info: ApiInfo, input: ContactExclusionInput
    ) -> ContactExclusionPayload:
        """Bring an excluded contact back into sync (ends its exclusion overrides too)."""
        return await _set_excluded(info, input, excluded=False)

    @strawberry.mutation
    async def sync_run_start(self, info: ApiInfo, input: SyncRunStartInput) -> SyncRunPayload:
        """Run a pair now; a dry run returns the plan it would apply."""
        principal = require(info, ApiKeyRole.OPERATOR)
        ctx = info.context
        try:
            outcome = await runs.start_run(
                ctx.store,
                _raw(input.pair_id, "Pair", "pairId"),
                dry_run=input.dry_run,
                side_opener=ctx.services.side_opener,
                actor=principal.actor,
                clock=ctx.services.clock,
                bus=ctx.services.bus,
            )
        except ServiceError as error:
            return SyncRunPayload(user_errors=[user_error(error)])
        return _run_payload(outcome)

    @strawberry.mutation
    async def plan_apply(self, info: ApiInfo, input: PlanApplyInput) -> SyncRunPayload:
        """Apply a dry run's plan; refused (code STALE) if a side changed since."""
        principal = require(info, ApiKeyRole.OPERATOR)
        ctx = info.context
        try:
            outcome = await runs.apply_stored_plan(
                ctx.store,
                _raw(input.plan_id, "Plan", "planId"),
                side_opener=ctx.services.side_opener,
                actor=principal.actor,
                clock=ctx.services.clock,
                bus=ctx.services.bus,
            )
        except ServiceError as error:
            return SyncRunPayload(user_errors=[user_error(error)])
        return _run_payload(outcome)

    @strawberry.mutation
    async def pair_policy_update(
        self, info: ApiInfo, input: PairPolicyUpdateInput
    ) -> PairPolicyUpdatePayload:
        """Change a pair's policy settings, schedule or enabled flag (admins)."""
        principal = require(info, ApiKeyRole.ADMIN)
        ctx = info.context
        patch: dict[str, Any] = {}
        if input.policy is not None:
            for name, value in vars(input.policy).items():
                if value is not None:
                    patch[name] = value.value if hasattr(value, "value") else value
        try:
            row = await pairs.update_pair_settings(
                ctx.store,
                _raw(input.pair_id, "Pair", "pairId"),
                actor=principal.actor,
                policy=patch or None,
                enabled=input.enabled,
                schedule_interval_s=input.schedule_interval_seconds,
                clock=ctx.services.clock,
            )
        except ServiceError as error:
            return PairPolicyUpdatePayload(user_errors=[user_error(error)])
        return PairPolicyUpdatePayload(pair=Pair.of(row))


async def _set_excluded(
    info: ApiInfo, input: ContactExclusionInput, *, excluded: bool
) -> ContactExclusionPayload:
    principal = require(info, ApiKeyRole.OPERATOR)
    ctx = info.context
    try:
        link = await overrides.set_contact_excluded(
            ctx.store,
            _raw(input.id, "ContactLink", "id"),
            excluded,
            actor=principal.actor,
            clock=ctx.services.clock,
        )
    except ServiceError as error:
        return ContactExclusionPayload(user_errors=[user_error(error)])
    return ContactExclusionPayload(contact_link=ContactLink.of(link))
