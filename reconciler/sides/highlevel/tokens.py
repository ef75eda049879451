"""OAuth tokens and where they are kept.

HighLevel refresh tokens rotate on every use and a used one is dead: the new pair must be
persisted before the new access token is used, or a crash right after a refresh locks the
location out. ``TokenStore`` is that persistence; ``MemoryTokenStore`` serves tests and the
sandbox demo (the service provides an encrypted database-backed one).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True, slots=True)
class OAuthTokens:
    """One location's token pair. Secrets stay out of ``repr`` (and so out of logs)."""

    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    expires_at: datetime  # aware UTC
    scopes: frozenset[str]
    location_id: str


@dataclass(frozen=True, slots=True)
class OAuthApp:
    """A marketplace app's client credentials (injected, never logged)."""

    client_id: str
    client_secret: str = field(repr=False)


class TokenStore(Protocol):
    """Durable home of each location's current tokens."""

    async def load(self, location_id: str) -> OAuthTokens | None:
        """The tokens last saved for ``location_id``, or ``None``."""
        ...

    async def save(self, tokens: OAuthTokens) -> None:
        """Replace the location's tokens atomically; must be durable when it returns."""
        ...


class MemoryTokenStore:
    """A ``TokenStore`` in a dict: tests, the sandbox demo."""

    def __init__(self, tokens: Iterable[OAuthTokens] = ()) -> None:
        self._tokens = {t.location_id: t for t in tokens}
        self.saves = 0

    async def load(self, location_id: str) -> OAuthTokens | None:
        return self._tokens.get(location_id)

    async def save(self, tokens: OAuthTokens) -> None:
        self._tokens[tokens.location_id] = tokens
        self.saves += 1
