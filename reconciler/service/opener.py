"""Opening a pair's two sides from its accounts in the store: the service's ``SideOpener``.

Per account kind:

- ``highlevel``: a ``HighLevelSide`` on the account's ``base_url`` (else the settings'), with
  a private integration token, or OAuth tokens from ``DbTokenStore`` that refresh (and rotate)
  through the store, with the app's client id/secret from the account or the settings. An
  account without credentials cannot be opened: the error says how to install it.
- ``memory``: an in-memory side kept for the life of this process (tests, benchmarks, trying
  the service without any HighLevel account). Its data is not shared between processes.

A location's ``RateBudget`` is shared by every pair of this process that uses the location:
HighLevel's limits are per app and location, not per pair.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import httpx

from reconciler.errors import AuthError, EngineError
from reconciler.settings import Settings
from reconciler.sides.base import Side, SideName
from reconciler.sides.highlevel import (
    Credentials,
    HighLevelSide,
    OAuthApp,
    OAuthSession,
    PrivateToken,
    RateBudget,
)
from reconciler.sides.memory import MemorySide
from reconciler.store import repo_pairs
from reconciler.store.credentials import AccountCredentials
from reconciler.store.crypto import Cipher
from reconciler.store.db import Store
from reconciler.store.schema import AccountKind
from reconciler.store.tables import SideAccountRow
from reconciler.store.token_store import DbTokenStore
from reconciler.sync.run import SidePair


class SideFactory:
    """Opens sides for pairs; holds what outlives one run (rate budgets, memory sides)."""

    def __init__(
        self,
        store: Store,
        cipher: Cipher,
        http: httpx.AsyncClient,
        settings: Settings,
    ) -> None:
        self.store = store
        self.cipher = cipher
        self.http = http
        self.settings = settings
        self._budgets: dict[str, RateBudget] = {}
        self._memory: dict[str, MemorySide] = {}

    def opener(self, pair_id: str) -> AbstractAsyncContextManager[SidePair]:
        return self.open(pair_id)

    @asynccontextmanager
    async def open(self, pair_id: str) -> AsyncIterator[SidePair]:
        async with self.store.session() as s:
            pair = await repo_pairs.get_pair(s, pair_id)
            if pair is None:
                raise EngineError(f"no pair {pair_id}")
            accounts = {
                "a": await repo_pairs.get_side_account(s, pair.side_a_account_id),
                "b": await repo_pairs.get_side_account(s, pair.side_b_account_id),
            }
            credentials = {
                name: await repo_pairs.get_credentials(s, self.cipher, account.id)
                if account is not None
                else None
                for name, account in accounts.items()
            }
        opened: list[Side] = []
        try:
            for name in ("a", "b"):
                side_name: SideName = "a" if name == "a" else "b"
                account = accounts[side_name]
                if account is None:
                    raise EngineError(f"side {side_name} of pair {pair_id} has no account")
                opened.append(self._side(pair_id, side_name, account, credentials[side_name]))
            yield SidePair(a=opened[0], b=opened[1])
        finally:
            for side in opened:
                await side.aclose()

    def _side(
        self,
        pair_id: str,
        side: SideName,
        account: SideAccountRow,
        credentials: AccountCredentials | None,
    ) -> Side:
        if account.kind == AccountKind.MEMORY.value:
            memory = self._memory.get(account.id)
            if memory is None:
                memory = self._memory[account.id] = MemorySide(account.label)
            return memory
        if account.kind != AccountKind.HIGHLEVEL.value or not account.location_id:
            raise EngineError(f"side {side} of pair {pair_id}: unsupported account {account.kind}")
        location = account.location_id
        base_url = account.base_url or self.settings.highlevel_base_url
        budget = self._budgets.get(location)
        if budget is None:
            budget = self._budgets[location] = RateBudget(name=f"highlevel:{location}")
        return HighLevelSide(
            self.http,
            location_id=location,
            credentials=self._credentials(pair_id, side, location, base_url, credentials),
            base_url=base_url,
            budget=budget,
        )

    def _credentials(
        self,
        pair_id: str,
        side: SideName,
        location: str,
        base_url: str,
        credentials: AccountCredentials | None,
    ) -> Credentials:
        if credentials is not None and credentials.pit is not None:
            return PrivateToken(credentials.pit.reveal())
        if credentials is not None and credentials.refresh_token is not None:
            client_id = credentials.client_id or self.settings.oauth_client_id
            secret = (
                credentials.client_secret.reveal()
                if credentials.client_secret is not None
                else self.settings.oauth_client_secret.get_secret_value()
                if self.settings.oauth_client_secret is not None
                else None
            )
            if not client_id or not secret:
                raise AuthError(
                    f"side {side} (location {location}) has OAuth tokens but no app "
                    "credentials: set RECONCILER_OAUTH_CLIENT_ID and "
                    "RECONCILER_OAUTH_CLIENT_SECRET",
                    side=side,
                )
            return OAuthSession(
                self.http,
                app=OAuthApp(client_id, secret),
                store=DbTokenStore(self.store, self.cipher),
                location_id=location,
                base_url=base_url,
            )
        raise AuthError(
            f"side {side} (location {location}) is not connected: install it at "
            f"{self.settings.service_url}/oauth/start?pair={pair_id}&side={side} "
            "or give it a private integration token",
            side=side,
        )
