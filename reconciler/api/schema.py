"""The strawberry schema: queries, mutations, subscriptions, and the guards every operation
passes (depth limit, cost limit, masked unexpected errors)."""

from __future__ import annotations

import strawberry
from strawberry.extensions import AddValidationRules, QueryDepthLimiter

from reconciler.api.errors import MaskUnexpectedErrors
from reconciler.api.limits import CostLimitRule
from reconciler.api.mutations import Mutation
from reconciler.api.nodes import (
    AuditEvent,
    Conflict,
    ContactLink,
    Override,
    Pair,
    Plan,
    Run,
    SideAccount,
)
from reconciler.api.query import Query
from reconciler.api.subscriptions import Subscription

MAX_DEPTH = 12


def build_schema() -> strawberry.Schema:
    return strawberry.Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        # Every Node type, so node(id:) can return any of them.
        types=[AuditEvent, Conflict, ContactLink, Override, Pair, Plan, Run, SideAccount],
        extensions=[
            # Factories: strawberry makes fresh extension instances for every operation.
            lambda: QueryDepthLimiter(max_depth=MAX_DEPTH),
            lambda: AddValidationRules([CostLimitRule]),
            MaskUnexpectedErrors,
        ],
    )


schema = build_schema()


def schema_sdl() -> str:
    """The schema as SDL, as kept in graphql/schema.graphql."""
    return schema.as_str() + "\n"
