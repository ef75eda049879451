"""Bearer credentials: a fixed private integration token, or OAuth tokens that refresh.

HighLevel refresh tokens rotate on every use and a used one is refused forever, so a refresh
must happen once per expiry, however many requests notice it at the same moment:

- one ``asyncio.Lock`` per session; whoever holds it checks first whether the token it saw
  rejected is still the current one ("already refreshed": then it just takes the new one);
- the new pair is saved through the ``TokenStore`` BEFORE the new access token is used, so a
  crash after the refresh never leaves us holding only a dead refresh token; if the store
  fails, the pair is kept in memory, ``FatalRunError`` is raised, and the next call saves it
  before anything else (the old refresh token is spent: never refresh again with it);
- a refresh refused by the server (400/401/403/422, e.g. "Location is not active") raises
  ``AuthError``; a transient failure (5xx, timeout) raises ``RetriableError``.
"""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Protocol

import httpx

from reconciler.errors import AuthError, FatalRunError, RetriableError
from reconciler.sides import labels
from reconciler.sides.highlevel.clock import Clock, SystemClock
from reconciler.sides.highlevel.tokens import OAuthApp, OAuthTokens, TokenStore


class Credentials(Protocol):
    """What the connector asks of its credentials."""

    @property
    def refreshes(self) -> int:
        """How many times new tokens were fetched (accounting)."""
        ...

    async def bearer(self) -> str:
        """A token to send now (refreshed first if it is about to expire)."""
        ...

    async def refreshed(self, rejected: str) -> str:
        """A token to retry with after the server answered 401 to ``rejected``."""
        ...


class PrivateToken:
    """A private integration token (``pit-...``): fixed, never refreshed."""

    def __init__(self, token: str) -> None:
        if not token:
            raise ValueError("a private integration token must not be empty")
        self._token = token

    def __repr__(self) -> str:
        return "PrivateToken(<hidden>)"

    @property
    def refreshes(self) -> int:
        return 0

    async def bearer(self) -> str:
        return self._token

    async def refreshed(self, rejected: str) -> str:
        raise AuthError("the private integration token was refused (revoked or wrong scopes)")


class OAuthSession:
    """OAuth tokens of one location, kept in a ``TokenStore`` and refreshed in time."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        app: OAuthApp,
        store: TokenStore,
        location_id: str,
        base_url: str = "https://services.leadconnectorhq.com",
        clock: Clock | None = None,
        refresh_skew: timedelta = timedelta(minutes=5),
        user_type: str = "Location",
    ) -> None:
        self._http = http
        self._app = app
        self._store = store
        self._location_id = location_id
        self._token_url = base_url.rstrip("/") + "/oauth/token"
        self._clock = clock or SystemClock()
        self._skew = refresh_skew
        self._user_type = user_type
        self._tokens: OAuthTokens | None = None
        self._unsaved: OAuthTokens | None = None
        self._lock = asyncio.Lock()
        self._refreshes = 0

    def __repr__(self) -> str:
        return f"OAuthSession(location_id={self._location_id!r})"

    @property
    def refreshes(self) -> int:
        return self._refreshes

    @property
    def scopes(self) -> frozenset[str]:
        return self._tokens.scopes if self._tokens is not None else frozenset()

    async def bearer(self) -> str:
        if self._unsaved is not None:
            async with self._lock:
                await self._save_unsaved()
        tokens = self._tokens or await self._load()
        if tokens.expires_at - self._skew <= self._clock.now():
            return await self.refreshed(tokens.access_token)
        return tokens.access_token

    async def refreshed(self, rejected: str) -> str:
        async with self._lock:
            await self._save_unsaved()
            current = self._tokens or await self._load()
            if current.access_token != rejected:
                return current.access_token  # someone refreshed while we waited
            # Another process sharing the store may have rotated the pair already.
            stored = await self._store.load(self._location_id)
            if stored is not None and stored.access_token != rejected:
                self._tokens = stored
                return stored.access_token
            self._unsaved = await self._exchange(current.refresh_token)
            self._refreshes += 1
            await self._save_unsaved()  # durable before first use: see module docstring
            assert self._tokens is not None  # adopted by the save
            return self._tokens.access_token

    async def _save_unsaved(self) -> None:
        """Persist a rotated pair, then adopt it. A pair the store refused stays in memory
        (its refresh token is the only valid one now) and is saved again before any use."""
        fresh = self._unsaved
        if fresh is None:
            return
        try:
            await self._store.save(fresh)
        except Exception as exc:  # any store failure: the new tokens must not be used yet
            raise FatalRunError(
                f"could not save the rotated OAuth tokens of location {self._location_id} "
                f"({type(exc).__name__}); they are kept in memory and saved before any use"
            ) from exc
        self._tokens = fresh
        self._unsaved = None

    async def _load(self) -> OAuthTokens:
        tokens = await self._store.load(self._location_id)
        if tokens is None:
            raise AuthError(f"no OAuth tokens stored for location {self._location_id}")
        self._tokens = tokens
        return tokens

    async def _exchange(self, refresh_token: str) -> OAuthTokens:
        form = {
            "client_id": self._app.client_id,
            "client_secret": self._app.client_secret,
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "user_type": self._user_type,
        }
        return await _token_request(
            self._http, self._token_url, form, clock=self._clock, location_id=self._location_id
        )


async def exchange_code(
    http: httpx.AsyncClient,
    *,
    app: OAuthApp,
    code: str,
    redirect_uri: str,
    location_id: str,
    base_url: str = "https://services.leadconnectorhq.com",
    clock: Clock | None = None,
) -> OAuthTokens:
    """The first token pair of an installation, from the authorization code (save it next)."""
    form = {
        "client_id": app.client_id,
        "client_secret": app.client_secret,
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri,
        "user_type": "Location",
    }
    return await _token_request(
        http,
        base_url.rstrip("/") + "/oauth/token",
        form,
        clock=clock or SystemClock(),
        location_id=location_id,
    )


async def _token_request(
    http: httpx.AsyncClient,
    url: str,
    form: dict[str, str],
    *,
    clock: Clock,
    location_id: str,
) -> OAuthTokens:
    try:
        response = await http.post(url, data=form, headers={"Accept": "application/json"})
    except httpx.HTTPError as exc:
        raise RetriableError(
            f"token request failed: {type(exc).__name__}", endpoint=labels.OAUTH_REFRESH
        ) from exc
    if response.status_code >= 500 or response.status_code == 429:
        raise RetriableError(
            f"token request answered {response.status_code}",
            status=response.status_code,
            endpoint=labels.OAUTH_REFRESH,
        )
    if response.status_code != 200:
        raise AuthError(
            f"token request refused ({response.status_code}): {_message(response)}",
            status=response.status_code,
            endpoint=labels.OAUTH_REFRESH,
        )
    try:
        data = response.json()
        access = data["access_token"]
        refresh = data["refresh_token"]
        expires_in = float(data["expires_in"])
        scope = data.get("scope") or ""
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        # The old refresh token may already be spent: nothing safe to retry with.
        raise AuthError(
            "token request answered 200 without a usable token pair",
            endpoint=labels.OAUTH_REFRESH,
        ) from exc
    if not isinstance(access, str) or not isinstance(refresh, str) or not access:
        raise AuthError("token request answered malformed tokens", endpoint=labels.OAUTH_REFRESH)
    return OAuthTokens(
        access_token=access,
        refresh_token=refresh,
        expires_at=clock.now() + timedelta(seconds=expires_in),
        scopes=frozenset(str(scope).split()),
        location_id=str(data.get("locationId") or location_id),
    )


def _message(response: httpx.Response) -> str:
    """The server's ``message`` (never the request, which carries secrets), bounded."""
    try:
        message = response.json().get("message")
    except (ValueError, AttributeError):
        return response.text[:200]
    if isinstance(message, list):
        message = "; ".join(str(m) for m in message)
    return json.dumps(message)[:200] if not isinstance(message, str) else message[:200]
