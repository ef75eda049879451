"""``open_sides``: one call that opens a pair's two sides for a run, from its accounts.

The long-lived service builds one ``opener.SideFactory`` (it shares each location's rate budget
between the pairs of the process); this function is the same thing for one-off callers (the
CLI, tests, the demo) and adds a registry of in-memory sides, so a caller can hand in the very
``MemorySide`` objects it prepared (and inspect them afterwards):

- a ``memory`` account is served from ``memory_registry`` (by account id, location id or
  label), else by a memory side kept for the life of the process;
- a ``highlevel`` account gets a ``HighLevelSide`` (private integration token, or OAuth tokens
  kept encrypted in the store by ``DbTokenStore``), on ``http_client`` or on a client opened
  for the block and closed after it. Rate budgets are shared by every ``open_sides`` of the
  process, per location.

A pair whose two accounts are both in the registry needs no settings, key or HTTP client.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

import httpx

from reconciler.errors import EngineError
from reconciler.service.opener import SideFactory
from reconciler.settings import Settings, load_settings
from reconciler.sides.base import Side, SideName
from reconciler.sides.highlevel import RateBudget
from reconciler.sides.memory import MemorySide
from reconciler.store import repo_pairs
from reconciler.store.credentials import AccountCredentials
from reconciler.store.crypto import Cipher
from reconciler.store.db import Store
from reconciler.store.schema import AccountKind
from reconciler.store.tables import SideAccountRow
from reconciler.sync.run import SidePair

# Location -> its budget, for every open_sides of this process (HighLevel limits are per
# location, not per pair or per call); account id -> its memory side, likewise (a memory
# account not in the caller's registry keeps its data between calls, for the process's life).
_BUDGETS: dict[str, RateBudget] = {}
_MEMORY: dict[str, MemorySide] = {}
HTTP_TIMEOUT = httpx.Timeout(30.0, connect=10.0)


class _RegistryFactory(SideFactory):
    """A ``SideFactory`` that serves registered memory sides and the process-wide budgets."""

    def __init__(
        self,
        store: Store,
        cipher: Cipher,
        http: httpx.AsyncClient,
        settings: Settings,
        registry: Mapping[str, Side],
    ) -> None:
        super().__init__(store, cipher, http, settings)
        self._budgets = _BUDGETS
        self._memory = _MEMORY
        self._registry = registry

    def _side(
        self,
        pair_id: str,
        side: SideName,
        account: SideAccountRow,
        credentials: AccountCredentials | None,
    ) -> Side:
        registered = registered_side(account, self._registry)
        if registered is not None:
            return registered
        return super()._side(pair_id, side, account, credentials)


def registered_side(account: SideAccountRow, registry: Mapping[str, Side]) -> Side | None:
    if account.kind != AccountKind.MEMORY.value:
        return None
    for key in (account.id, account.location_id, account.label):
        if key is not None and key in registry:
            return registry[key]
    return None


@asynccontextmanager
async def open_sides(
    store: Store,
    pair_id: str,
    *,
    http_client: httpx.AsyncClient | None = None,
    memory_registry: Mapping[str, Side] | None = None,
    settings: Settings | None = None,
    cipher: Cipher | None = None,
) -> AsyncIterator[SidePair]:
    """The pair's two sides for the block (closed after it)."""
    registry = memory_registry or {}
    async with store.session() as s:
        pair = await repo_pairs.get_pair(s, pair_id)
        if pair is None:
            raise EngineError(f"no pair {pair_id}")
        accounts = [
            await repo_pairs.get_side_account(s, pair.side_a_account_id),
            await repo_pairs.get_side_account(s, pair.side_b_account_id),
        ]
    if any(account is None for account in accounts):
        raise EngineError(f"pair {pair_id} names an account that does not exist")
    registered = [registered_side(a, registry) for a in accounts if a is not None]
    if all(side is not None for side in registered):
        a, b = registered
        assert a is not None
        assert b is not None
        yield SidePair(a=a, b=b)
        return
    settings = settings or load_settings()
    cipher = cipher or Cipher.from_settings(settings)
    async with _client(http_client) as http:
        factory = _RegistryFactory(store, cipher, http, settings, registry)
        async with factory.open(pair_id) as sides:
            yield sides


@asynccontextmanager
async def _client(given: httpx.AsyncClient | None) -> AsyncIterator[httpx.AsyncClient]:
    if given is not None:
        yield given
        return
    async with httpx.AsyncClient(timeout=HTTP_TIMEOUT) as client:
        yield client
