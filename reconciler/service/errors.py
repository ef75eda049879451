"""Errors the service functions raise for a request they refuse.

They belong to the project's one error tree (``ReconcilerError``). Each carries a stable
``code`` and, where the fault is in one input, the ``field`` it is about, so the GraphQL layer
turns them into ``userErrors`` and the CLI into one-line messages without parsing text.
"""

from __future__ import annotations

from reconciler.errors import ReconcilerError


class ServiceError(ReconcilerError):
    """A refused request: ``code`` for programs, ``message`` for people."""

    default_code = "REFUSED"

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.code = code or self.default_code


class InvalidInputError(ServiceError):
    """An input value makes no sense (wrong shape, out of range, unknown choice)."""

    default_code = "INVALID"


class UnknownObjectError(ServiceError):
    """The id names nothing (or nothing of the expected kind)."""

    default_code = "NOT_FOUND"


class StateConflictError(ServiceError):
    """The object is not in a state that allows this (conflict not open, plan applied)."""

    default_code = "CONFLICT"


class UnavailableError(ServiceError):
    """This server cannot do it (no way to reach the sides was configured)."""

    default_code = "UNAVAILABLE"
