"""The root ``Subscription`` (graphql-transport-ws): conflicts opened and resolved, runs
finished, optionally for one pair. Fed by the in-process event bus; each event is loaded
fresh from the store before it is sent."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable

import strawberry

from reconciler.api.context import ApiInfo, require
from reconciler.api.errors import bad_input
from reconciler.api.ids import decode_typed
from reconciler.api.nodes import Conflict, Run
from reconciler.service import events
from reconciler.store.schema import ApiKeyRole


def _accept(
    info: ApiInfo, pair_id: strawberry.ID | None, kind: type[events.Event]
) -> Callable[[events.Event], bool]:
    require(info, ApiKeyRole.VIEWER)
    raw_pair = None
    if pair_id is not None:
        raw_pair = decode_typed(pair_id, "Pair")
        if raw_pair is None:
            raise bad_input("pairId is not a Pair id")

    def accept(event: events.Event) -> bool:
        return isinstance(event, kind) and (raw_pair is None or event.pair_id == raw_pair)

    return accept


@strawberry.type
class Subscription:
    @strawberry.subscription
    async def conflict_opened(
        self, info: ApiInfo, pair_id: strawberry.ID | None = None
    ) -> AsyncGenerator[Conflict, None]:
        accept = _accept(info, pair_id, events.ConflictOpened)
        async with info.context.services.bus.subscribe(accept) as subscription:
            async for event in subscription:
                assert isinstance(event, events.ConflictOpened)
                conflict = await _conflict(info, event.conflict_id)
                if conflict is not None:
                    yield conflict

    @strawberry.subscription
    async def conflict_resolved(
        self, info: ApiInfo, pair_id: strawberry.ID | None = None
    ) -> AsyncGenerator[Conflict, None]:
        accept = _accept(info, pair_id, events.ConflictResolved)
        async with info.context.services.bus.subscribe(accept) as subscription:
            async for event in subscription:
                assert isinstance(event, events.ConflictResolved)
                conflict = await _conflict(info, event.conflict_id)
                if conflict is not None:
                    yield conflict

    @strawberry.subscription
    async def run_finished(
        self, info: ApiInfo, pair_id: strawberry.ID | None = None
    ) -> AsyncGenerator[Run, None]:
        accept = _accept(info, pair_id, events.RunFinished)
        async with info.context.services.bus.subscribe(accept) as subscription:
            async for event in subscription:
                assert isinstance(event, events.RunFinished)
                info.context.fresh_loaders()
                row = await info.context.loaders.run.load(event.run_id)
                if row is not None:
                    yield Run.of(row)


async def _conflict(info: ApiInfo, conflict_id: str) -> Conflict | None:
    # A connection lives long: never serve an event from what earlier events loaded.
    info.context.fresh_loaders()
    row = await info.context.loaders.conflict.load(conflict_id)
    return Conflict.of(row) if row is not None else None
