"""An in-process event bus: service functions and run orchestration publish, subscribers
(GraphQL subscriptions) receive.

Publishing never blocks and never fails the publisher: each subscriber has a bounded queue,
and a subscriber too slow to keep up loses its oldest events (it is told how many through
``Subscription.dropped``) rather than stalling a run. Events carry ids only; receivers load the
current state from the store, so an event can never show stale or unauthorised data.

The engine calls ``publish(event)`` (the process-wide bus); tests and apps that want isolation
create their own ``EventBus`` and pass it around.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ConflictOpened:
    pair_id: str
    conflict_id: str


@dataclass(frozen=True, slots=True)
class ConflictResolved:
    pair_id: str
    conflict_id: str
    actor: str


@dataclass(frozen=True, slots=True)
class RunFinished:
    pair_id: str
    run_id: str
    status: str


Event = ConflictOpened | ConflictResolved | RunFinished

DEFAULT_QUEUE_SIZE = 1000


class Subscription:
    """One subscriber's queue; iterate it to receive events in publication order."""

    def __init__(self, accept: Callable[[Event], bool], maxsize: int) -> None:
        self._accept = accept
        self._queue: asyncio.Queue[Event] = asyncio.Queue(maxsize=maxsize)
        self.dropped = 0

    def offer(self, event: Event) -> None:
        if not self._accept(event):
            return
        if self._queue.full():
            # Drop the oldest: a live console cares about what happens now.
            self._queue.get_nowait()
            self.dropped += 1
        self._queue.put_nowait(event)

    async def get(self) -> Event:
        return await self._queue.get()

    def __aiter__(self) -> AsyncIterator[Event]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Event]:
        while True:
            yield await self._queue.get()


class EventBus:
    """Fan-out of events to every current subscriber (same event loop as the publishers)."""

    def __init__(self, *, queue_size: int = DEFAULT_QUEUE_SIZE) -> None:
        self._subscribers: set[Subscription] = set()
        self._queue_size = queue_size

    def publish(self, event: Event) -> None:
        for subscriber in list(self._subscribers):
            subscriber.offer(event)

    @asynccontextmanager
    async def subscribe(
        self, accept: Callable[[Event], bool] | None = None
    ) -> AsyncIterator[Subscription]:
        """Receive the events ``accept`` says yes to, from now until the block ends."""
        subscription = Subscription(accept or (lambda _event: True), self._queue_size)
        self._subscribers.add(subscription)
        try:
            yield subscription
        finally:
            self._subscribers.discard(subscription)

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)


bus = EventBus()


def publish(event: Event) -> None:
    """Publish on the process-wide bus (what the engine calls; never blocks or raises)."""
    bus.publish(event)
