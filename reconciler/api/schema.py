"""The strawberry schema: queries, mutations, subscriptions, and the guards every operation
passes (depth limit, cost limit, masked unexpected errors)."""

from __future__ import annotations

import strawberry
from strawberry.extensions import AddValidationRules, ParserCache, ValidationCache
from strawberry.extensions.query_depth_limiter import create_validator

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
# The rule classes are made once: the validation cache is keyed by the rules, so rules made
# per request (as QueryDepthLimiter does) would never hit it.
DepthLimitRule = create_validator(MAX_DEPTH, None)
GUARD_RULES = [DepthLimitRule, CostLimitRule]


def build_schema() -> strawberry.Schema:
    return strawberry.Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        # Every Node type, so node(id:) can return any of them.
        types=[AuditEvent, Conflict, ContactLink, Override, Pair, Plan, Run, SideAccount],
        extensions=[
            # Factories: strawberry makes fresh extension instances for every operation.
            # The console sends the same few documents again and again: parse and validate
            # each once (the caches are keyed by the document text, bounded LRUs).
            lambda: ParserCache(maxsize=256),
            lambda: ValidationCache(maxsize=256),
            lambda: AddValidationRules(GUARD_RULES),
            MaskUnexpectedErrors,
        ],
    )


schema = build_schema()


def schema_sdl() -> str:
    """The schema as SDL, as kept in graphql/schema.graphql."""
    return schema.as_str() + "\n"
