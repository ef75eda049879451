"""A side account's credentials: what the encrypted ``side_account.credentials`` blob holds.

Every secret is a ``Secret`` (masked repr), so an ``AccountCredentials`` can be logged or shown
in a traceback without leaking anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from reconciler.store.crypto import Secret


@dataclass(frozen=True, slots=True)
class AccountCredentials:
    """A private integration token, or OAuth tokens (and the app's secret if per account)."""

    pit: Secret | None = None
    access_token: Secret | None = None
    refresh_token: Secret | None = None
    expires_at: datetime | None = None  # aware UTC
    scopes: frozenset[str] = frozenset()
    client_id: str | None = None
    client_secret: Secret | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in ("pit", "access_token", "refresh_token", "client_secret"):
            secret: Secret | None = getattr(self, name)
            if secret is not None:
                out[name] = secret.reveal()
        if self.expires_at is not None:
            out["expires_at"] = self.expires_at.isoformat()
        if self.scopes:
            out["scopes"] = sorted(self.scopes)
        if self.client_id is not None:
            out["client_id"] = self.client_id
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AccountCredentials:
        def secret(name: str) -> Secret | None:
            value = data.get(name)
            return Secret(value) if isinstance(value, str) else None

        expires = data.get("expires_at")
        return cls(
            pit=secret("pit"),
            access_token=secret("access_token"),
            refresh_token=secret("refresh_token"),
            expires_at=datetime.fromisoformat(expires) if isinstance(expires, str) else None,
            scopes=frozenset(data.get("scopes") or ()),
            client_id=data.get("client_id"),
            client_secret=secret("client_secret"),
        )
