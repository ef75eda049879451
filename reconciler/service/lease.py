"""Pair leases: one run of a pair at a time, across the processes sharing one store.

Two guards, both needed:

- an ``asyncio.Lock`` per pair in this process: the store's lease is per *holder*, and every
  task of this process holds it under the same name, so the store alone would let two tasks
  of one process run the same pair together;
- the ``pair_lease`` row (``repo_pairs.acquire_lease``): one conditional upsert takes the lease
  only if it is free, expired or already ours, so two processes racing for a pair cannot both
  win, on PostgreSQL (row lock of the upsert) and SQLite alike. It expires ``ttl`` after its last
  renewal; while a run goes on it is renewed every third of ``ttl``, so a process that dies
  (kill -9, lost machine) frees its pairs within ``ttl``.

A run that cannot renew its lease before it expires has lost it (another process may run the
pair by now): the run's task is cancelled and ``hold`` raises ``LeaseLostError`` (a
``PairBusyError``). Cancelling is what a crash does; the write journal makes it safe (the next
run finishes the work).

The renewer alone notices a loss only when it next runs: a process that stalls past the ttl
(CPU starvation, a long pause) resumes with its run possibly first in line, while another
process already runs the pair. So ``guarded`` gives the run's sides a write guard that checks,
before every wave of side writes, that the lease is still valid by this process's own clock,
and stops the run with ``LeaseLostError`` otherwise: a run that may have lost its lease makes
no further calls (at most the wave already in flight completes).

Why an upsert and not ``SELECT ... FOR UPDATE SKIP LOCKED`` or an advisory lock: the lease must
outlive the transaction that takes it (a run spans many transactions and connections), and
must survive a lost connection without freeing the pair early; a row with a holder and an
expiry does both, and the one-statement upsert is atomic on both databases.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import datetime, timedelta

from reconciler.errors import PairBusyError, StoreError
from reconciler.store import repo_pairs
from reconciler.store.db import Store
from reconciler.store.types import utcnow
from reconciler.sync.runtime import SidePair

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


class LeaseLostError(PairBusyError):
    """The run's lease expired before it could be renewed (another process may run the pair
    now): the run was stopped."""


def new_holder_id() -> str:
    """This process's name in leases: host, pid and a random part (a restarted process with
    a recycled pid must not inherit leases of its dead predecessor)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


class LeaseKeeper:
    """Takes, renews and releases pair leases for one process (one holder id)."""

    def __init__(
        self,
        store: Store,
        *,
        holder: str | None = None,
        ttl: float = 60.0,
        clock: Clock = utcnow,
    ) -> None:
        if ttl <= 0:
            raise ValueError("the lease ttl must be positive")
        self.store = store
        self.holder = holder or new_holder_id()
        self.ttl = timedelta(seconds=ttl)
        self._clock = clock
        self._locks: dict[str, asyncio.Lock] = {}
        self._held: set[str] = set()
        self._expires: dict[str, datetime] = {}  # pair -> when our lease runs out, as we know

    @property
    def held(self) -> frozenset[str]:
        """The pairs this process holds right now."""
        return frozenset(self._held)

    def busy_here(self, pair_id: str) -> bool:
        lock = self._locks.get(pair_id)
        return lock is not None and lock.locked()

    @asynccontextmanager
    async def hold(self, pair_id: str) -> AsyncIterator[None]:
        """Run the block as the pair's only runner, or raise ``PairBusyError`` at once."""
        lock = self._locks.setdefault(pair_id, asyncio.Lock())
        if lock.locked():
            raise PairBusyError(f"pair {pair_id} is being run by this process")
        async with lock:
            taken_at = self._clock()
            if not await self._acquire(pair_id):
                raise PairBusyError(f"pair {pair_id} is being run by another process")
            self._expires[pair_id] = taken_at + self.ttl
            self._held.add(pair_id)
            owner = asyncio.current_task()
            lost = asyncio.Event()
            renewer = asyncio.create_task(
                self._renew(pair_id, owner, lost), name=f"lease-renewer:{pair_id}"
            )
            try:
                yield
            except asyncio.CancelledError:
                if lost.is_set() and owner is not None and owner.uncancel() == 0:
                    # Our own renewer cancelled the run: report it as what it is.
                    raise LeaseLostError(
                        f"lease on pair {pair_id} lost (not renewed in time); run stopped"
                    ) from None
                raise
            finally:
                renewer.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await renewer
                self._held.discard(pair_id)
                self._expires.pop(pair_id, None)
                # After a loss the row may be another holder's: release only deletes ours.
                await self._release(pair_id)

    def check(self, pair_id: str) -> None:
        """``LeaseLostError`` unless this process holds the pair's lease and, by its own clock,
        the lease has not run out."""
        expires = self._expires.get(pair_id)
        if pair_id not in self._held or expires is None or self._clock() >= expires:
            raise LeaseLostError(
                f"lease on pair {pair_id} may have run out (not renewed in time); run stopped "
                "before its next writes"
            )

    def guarded(self, pair_id: str, sides: SidePair) -> SidePair:
        """``sides`` with a write guard that checks this lease (see the module docstring)."""
        return replace(sides, write_guard=lambda: self.check(pair_id))

    async def _acquire(self, pair_id: str) -> bool:
        async with self.store.transaction() as s:
            return await repo_pairs.acquire_lease(
                s, pair_id, self.holder, now=self._clock(), ttl=self.ttl
            )

    async def _renew(
        self, pair_id: str, owner: asyncio.Task[object] | None, lost: asyncio.Event
    ) -> None:
        period = self.ttl.total_seconds() / 3
        expires = self._expires.get(pair_id) or self._clock() + self.ttl
        while True:
            await asyncio.sleep(period)
            asked_at = self._clock()
            try:
                renewed = await self._acquire(pair_id)
            except StoreError as exc:
                # The database may come back before the lease runs out: keep trying until then.
                log.warning("lease renewal failed", extra={"pair_id": pair_id, "error": str(exc)})
                renewed = None
            if renewed:
                # Counted from before the request: the row's expiry is at least that late.
                expires = self._expires[pair_id] = asked_at + self.ttl
                continue
            if renewed is False or self._clock() >= expires:
                log.error(
                    "lease lost; stopping the run",
                    extra={"pair_id": pair_id, "holder": self.holder},
                )
                lost.set()
                if owner is not None:
                    owner.cancel()
                return

    async def _release(self, pair_id: str) -> None:
        # Shielded: a cancelled run must still free its pair (else others wait for the ttl).
        try:
            await asyncio.shield(self._release_now(pair_id))
        except StoreError as exc:
            log.warning("lease release failed", extra={"pair_id": pair_id, "error": str(exc)})

    async def _release_now(self, pair_id: str) -> None:
        async with self.store.transaction() as s:
            await repo_pairs.release_lease(s, pair_id, self.holder)
