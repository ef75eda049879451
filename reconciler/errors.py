"""The one error tree of the project.

Every foreign exception (httpx, JSON, SQLAlchemy, ...) is translated at the boundary where it
happens into one of these, with ``raise ... from exc``, so that callers decide by *class* what to
do: retry (``RetriableError``), refresh credentials (``AuthError``), park one item and go on
(``PermanentItemError``), or stop the run (``FatalRunError``).
"""

from __future__ import annotations


class ReconcilerError(Exception):
    """Base of every error this project raises on purpose."""


class ConfigError(ReconcilerError):
    """A setting is missing or invalid. The message names the setting and fits on one line."""

    def __init__(self, setting: str, problem: str) -> None:
        self.setting = setting
        self.problem = problem
        super().__init__(f"invalid setting {setting}: {problem}")


class SideError(ReconcilerError):
    """An error talking to one side (HighLevel, the memory side, another app)."""

    def __init__(
        self,
        message: str,
        *,
        side: str | None = None,
        status: int | None = None,
        endpoint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.side = side
        self.status = status
        self.endpoint = endpoint


class RetriableError(SideError):
    """Worth trying again after a pause: 429, 5xx, timeouts, dropped connections."""

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        side: str | None = None,
        status: int | None = None,
        endpoint: str | None = None,
    ) -> None:
        super().__init__(message, side=side, status=status, endpoint=endpoint)
        self.retry_after = retry_after


class RateLimitedError(RetriableError):
    """The side answered 429."""


class UncertainWriteError(RetriableError):
    """A write failed in a way that leaves unknown whether it was applied (5xx, timeout).

    The caller must look for the write's effect before trying it again (no duplicates).
    """


class AuthError(SideError):
    """Credentials are expired, revoked or lack a scope; a refresh may or may not help."""


class PermanentItemError(SideError):
    """A 4xx (other than 401/429) for one item: park that item with this error and go on."""


class NotFoundError(PermanentItemError):
    """The item does not exist on the side (404, or 400 "not found" as HighLevel answers)."""


class DuplicateContactError(PermanentItemError):
    """A create was refused because the contact already exists; ``existing_id`` names it."""

    def __init__(
        self,
        message: str,
        *,
        existing_id: str,
        side: str | None = None,
        status: int | None = None,
        endpoint: str | None = None,
    ) -> None:
        super().__init__(message, side=side, status=status, endpoint=endpoint)
        self.existing_id = existing_id


class MalformedDataError(PermanentItemError):
    """The side sent data we cannot understand for one item (parked, the run goes on)."""


class FatalRunError(SideError):
    """Nothing more can be done in this run on this side (e.g. a cursor loop, no budget)."""


class BudgetReservedError(FatalRunError):
    """The side's daily request budget reached the reserve this service must not spend."""


class CursorLoopError(FatalRunError):
    """A paginator saw the same cursor twice: the listing cannot be trusted to be complete."""


class EngineError(ReconcilerError):
    """Base of errors from the reconciliation engine (not from a side)."""


class PlanStaleError(EngineError):
    """A stored plan cannot be applied because a side changed since it was made."""


class DeleteGuardError(EngineError):
    """A run would delete more than the pair's configured share; it waits for approval."""


class PairBusyError(EngineError):
    """Another run of the same pair holds its lease."""


class StoreError(ReconcilerError):
    """The store (database) failed an operation; the message never carries row values."""


class StoreConflictError(StoreError):
    """A write broke a uniqueness rule of the store (e.g. a second active link for a contact)."""
