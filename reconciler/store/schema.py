"""The store's own SQLModel base and metadata, and the string values its status columns take.

The store's tables live in their own ``MetaData`` (not SQLModel's process-wide default), so a
SQLModel class defined anywhere else (a test, another component) can never leak into the
migrations or into the schema comparison.
"""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import MetaData, Table
from sqlalchemy.orm import registry
from sqlmodel import SQLModel

# Deterministic constraint names: Alembic needs names to alter or drop constraints later, and
# both databases must end up with the same ones.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)


class StoreModel(SQLModel, registry=registry(metadata=metadata)):
    """Base of every table of the store."""


class AccountKind(StrEnum):
    HIGHLEVEL = "highlevel"
    MEMORY = "memory"


class AuthKind(StrEnum):
    PIT = "pit"  # a private integration token: fixed bearer token, no refresh
    OAUTH = "oauth"  # access + rotating refresh token


class LinkStatus(StrEnum):
    ACTIVE = "active"
    UNLINKED = "unlinked"  # kept for history; a contact may be linked again later


class ConflictStatus(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"  # a person chose; the resolution waits to be (or was) applied
    CLOSED = "closed"  # no longer holds (sides agree again, or the resolution was applied)


class RunTrigger(StrEnum):
    SCHEDULE = "schedule"
    WEBHOOK = "webhook"
    MANUAL = "manual"


class RunStatus(StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    PARTIAL = "partial"  # finished, but some items were parked or a side was incomplete
    FAILED = "failed"
    AWAITING_APPROVAL = "awaiting_approval"  # stopped by the delete guard
    PLANNED = "planned"  # a dry run: its plan is stored, nothing was applied


class PlanStatus(StrEnum):
    PENDING = "pending"
    APPLIED = "applied"
    STALE = "stale"
    REFUSED = "refused"


class JournalStatus(StrEnum):
    PENDING = "pending"  # intent committed, outcome unknown (a crash here is recovered)
    DONE = "done"
    PARKED = "parked"
    FAILED = "failed"


class ApiKeyRole(StrEnum):
    VIEWER = "viewer"
    OPERATOR = "operator"
    ADMIN = "admin"


def check_in(column: str, values: type[StrEnum] | tuple[str, ...]) -> str:
    """The SQL of a CHECK constraint limiting ``column`` to the given values."""
    names = tuple(v.value for v in values) if isinstance(values, type) else values
    quoted = ", ".join(f"'{name}'" for name in names)
    return f"{column} IN ({quoted})"


def table_of(model: type[SQLModel]) -> Table:
    """The Core ``Table`` of a table model, for bulk statements (SQLModel leaves it untyped)."""
    table = model.__table__  # type: ignore[attr-defined]
    if not isinstance(table, Table):
        raise TypeError(f"{model.__name__} is not a table model")
    return table
