"""The per-request GraphQL context: who calls, the store, the loaders, the injected services.

``ApiServices`` is built once per app (``create_app``); ``ApiContext`` once per HTTP request or
WebSocket connection. Resolvers reach everything through ``info.context``.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from strawberry.fastapi import BaseContext
from strawberry.types import Info

from reconciler.api.errors import forbidden, unauthenticated
from reconciler.api.loaders import Loaders
from reconciler.service.events import EventBus
from reconciler.service.keys import Principal
from reconciler.store.db import Store
from reconciler.store.schema import ApiKeyRole
from reconciler.store.types import utcnow

# ``Callable[[pair_id], AsyncContextManager[SidePair]]`` (``reconciler.sync.run.SidePair``):
# opens both sides of a pair for one run and closes them afterwards.
SideOpener = Callable[[str], AbstractAsyncContextManager[Any]]


@dataclass
class ApiServices:
    store: Store
    bus: EventBus
    side_opener: SideOpener | None = None
    clock: Callable[[], datetime] = field(default=utcnow)


class ApiContext(BaseContext):
    def __init__(self, services: ApiServices, principal: Principal | None) -> None:
        super().__init__()
        self.services = services
        self.principal = principal
        self.loaders = Loaders(services.store, services.clock)

    @property
    def store(self) -> Store:
        return self.services.store

    def now(self) -> datetime:
        return self.services.clock()

    def fresh_loaders(self) -> None:
        """Forget everything loaded so far (a subscription before each new event)."""
        self.loaders = Loaders(self.services.store, self.services.clock)


ApiInfo = Info[ApiContext, None]


def require(info: ApiInfo, role: ApiKeyRole) -> Principal:
    """The caller, if their key has ``role``'s rights; a GraphQL error otherwise."""
    principal = info.context.principal
    if principal is None:
        raise unauthenticated()
    if not principal.may(role):
        raise forbidden(role.value)
    return principal
