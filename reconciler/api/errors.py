"""Errors the API shows, and the masking of every other one.

``PublicError`` is a GraphQL error that is meant to be seen: it carries
``extensions.code`` (UNAUTHENTICATED, FORBIDDEN, BAD_USER_INPUT, ...). Anything else raised
while executing an operation is an unexpected error: the response says only "Unexpected
error." with code INTERNAL (no message, no stack trace, no SQL, no secret); the full error goes
to the server log for the operators.
"""

from __future__ import annotations

import logging

from graphql import GraphQLError
from strawberry.extensions import MaskErrors

from reconciler.service.errors import ServiceError

log = logging.getLogger("reconciler.api")


class PublicError(GraphQLError):
    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message, extensions={"code": code})


def unauthenticated() -> PublicError:
    return PublicError(
        "authentication required: send Authorization: Bearer <api key>", code="UNAUTHENTICATED"
    )


def forbidden(role: str) -> PublicError:
    return PublicError(f"this needs an API key with the {role} role", code="FORBIDDEN")


def bad_input(message: str) -> PublicError:
    return PublicError(message, code="BAD_USER_INPUT")


def from_service(error: ServiceError) -> PublicError:
    """A service refusal where the schema has no userErrors for it (queries)."""
    return PublicError(error.message, code="BAD_USER_INPUT")


def should_mask(error: GraphQLError) -> bool:
    """Mask errors raised by code (not syntax/validation errors, not our public ones)."""
    original = error.original_error
    return original is not None and not isinstance(original, PublicError)


class MaskUnexpectedErrors(MaskErrors):
    """``MaskErrors`` that also logs what it hides and tags the masked error INTERNAL."""

    def __init__(self) -> None:
        super().__init__(should_mask_error=should_mask, error_message="Unexpected error.")

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        original = error.original_error
        if original is not None:
            log.error(
                "unexpected error in %s",
                ".".join(str(p) for p in error.path or ()),
                exc_info=(type(original), original, original.__traceback__),
            )
        return GraphQLError(
            message=self.error_message,
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            extensions={"code": "INTERNAL"},
        )
