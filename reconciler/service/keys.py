"""API keys and roles: who may call the API, and what each role may do.

Roles are ordered: a viewer reads; an operator also resolves conflicts, sets overrides and
starts runs; an admin also changes pairs and their policies. Keys are stored hashed by the
store (``repo_api_keys``); the plain key exists only in ``create_key``'s return value.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from reconciler.service.errors import InvalidInputError
from reconciler.store import repo_api_keys, repo_audit
from reconciler.store.db import Store
from reconciler.store.schema import ApiKeyRole
from reconciler.store.tables import ApiKeyRow
from reconciler.store.types import utcnow

Clock = Callable[[], datetime]

_RANK = {ApiKeyRole.VIEWER: 1, ApiKeyRole.OPERATOR: 2, ApiKeyRole.ADMIN: 3}
MAX_KEY_LENGTH = 200  # real keys are ~60 characters; longer input is refused unhashed


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the key's id, its name and role (never the key itself)."""

    key_id: str
    name: str
    role: ApiKeyRole

    @property
    def actor(self) -> str:
        """How audit events name this caller."""
        return f"api_key:{self.key_id}"

    def may(self, role: ApiKeyRole) -> bool:
        """Whether this caller's role includes ``role``'s rights."""
        return _RANK[self.role] >= _RANK[role]


def parse_role(value: str) -> ApiKeyRole:
    try:
        return ApiKeyRole(value.strip().lower())
    except ValueError:
        allowed = ", ".join(role.value for role in ApiKeyRole)
        raise InvalidInputError(f"role must be one of: {allowed}", field="role") from None


async def create_key(
    store: Store, *, name: str, role: ApiKeyRole, actor: str = "cli", clock: Clock = utcnow
) -> tuple[ApiKeyRow, str]:
    """A new key: its row and the plain key, shown once and never stored."""
    name = name.strip()
    if not name or len(name) > 100:
        raise InvalidInputError("a key needs a name of 1 to 100 characters", field="name")
    now = clock()
    async with store.transaction() as s:
        row, plain = await repo_api_keys.create_api_key(s, name=name, role=role, now=now)
        await repo_audit.append(
            s,
            [
                repo_audit.AuditEntry(
                    actor=actor,
                    kind="api_key.created",
                    at=now,
                    subject=row.id,
                    detail={"name": row.name, "role": row.role},
                )
            ],
        )
    return row, plain


async def revoke_key(
    store: Store, key_id: str, *, actor: str = "cli", clock: Clock = utcnow
) -> bool:
    now = clock()
    async with store.transaction() as s:
        revoked = await repo_api_keys.revoke_api_key(s, key_id, now=now)
        if revoked:
            await repo_audit.append(
                s,
                [
                    repo_audit.AuditEntry(
                        actor=actor, kind="api_key.revoked", at=now, subject=key_id
                    )
                ],
            )
    return revoked


async def list_keys(store: Store, *, include_revoked: bool = False) -> list[ApiKeyRow]:
    async with store.session() as s:
        return await repo_api_keys.list_api_keys(s, include_revoked=include_revoked)


async def authenticate(store: Store, plain: str, *, clock: Clock = utcnow) -> Principal | None:
    """The caller a presented key stands for; None for an unknown, revoked or malformed key."""
    plain = plain.strip()
    if not plain or len(plain) > MAX_KEY_LENGTH:
        return None
    async with store.transaction() as s:
        row = await repo_api_keys.verify_api_key(s, plain, now=clock())
    if row is None:
        return None
    return Principal(key_id=row.id, name=row.name, role=ApiKeyRole(row.role))


def bearer_token(header: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header value (None if absent)."""
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()
