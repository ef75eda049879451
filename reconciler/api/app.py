"""The API's FastAPI app: GraphQL (and GraphiQL in a browser) at ``/graphql``.

``create_app(store, side_opener=...)`` builds one app around a store; the caller owns the
store unless ``own_store=True`` (then the app's lifespan disposes of it at shutdown).

Authentication: ``Authorization: Bearer <api key>`` on HTTP; on WebSockets
(graphql-transport-ws) the same header, or ``{"Authorization": "Bearer <key>"}`` in the
``connection_init`` payload (browsers cannot set WebSocket headers). A WebSocket without a
valid key is refused at ``connection_init``.
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from fastapi import FastAPI
from starlette.requests import HTTPConnection
from strawberry.exceptions import ConnectionRejectionError
from strawberry.fastapi import GraphQLRouter
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types.unset import UnsetType

from reconciler.api.console import mount_console
from reconciler.api.context import ApiContext, ApiServices, SideOpener
from reconciler.api.schema import schema
from reconciler.service.events import EventBus
from reconciler.service.events import bus as default_bus
from reconciler.service.keys import Principal, authenticate, bearer_token
from reconciler.store.db import Store
from reconciler.store.types import utcnow

MAX_BODY_BYTES = 1 << 20


class _Router(GraphQLRouter[ApiContext, None]):
    def __init__(self, services: ApiServices, **kwargs: Any) -> None:
        super().__init__(schema, **kwargs)
        self._services = services

    async def on_ws_connect(self, context: ApiContext) -> UnsetType | dict[str, object] | None:
        if context.principal is None:
            params = context.connection_params
            header = None
            if isinstance(params, dict):
                header = params.get("Authorization") or params.get("authorization")
            principal = await _principal(
                self._services, header if isinstance(header, str) else None
            )
            if principal is None:
                raise ConnectionRejectionError(
                    {"message": "authentication required", "code": "UNAUTHENTICATED"}
                )
            context.principal = principal
        return await super().on_ws_connect(context)


async def _principal(services: ApiServices, header: str | None) -> Principal | None:
    token = bearer_token(header)
    if token is None:
        return None
    return await authenticate(services.store, token, clock=services.clock)


def create_app(
    store: Store,
    *,
    side_opener: SideOpener | None = None,
    bus: EventBus | None = None,
    clock: Callable[[], datetime] | None = None,
    graphiql: bool = True,
    own_store: bool = False,
) -> FastAPI:
    services = ApiServices(
        store=store, bus=bus or default_bus, side_opener=side_opener, clock=clock or utcnow
    )

    async def get_context(connection: HTTPConnection) -> ApiContext:
        principal = await _principal(services, connection.headers.get("authorization"))
        return ApiContext(services, principal)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # Everything made so far (the schema, the models, the modules) lives as long as the
        # process: keeping it out of the garbage collector's generations makes the full
        # collections that a busy server runs every few requests short (tail latency).
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            if own_store:
                await store.dispose()

    app = FastAPI(
        title="reconciler",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        # The largest legitimate request is a bulk resolve of 100 ids: 1 MiB is generous, and
        # a bigger body is refused (413) before anything reads it.
        max_body_size=MAX_BODY_BYTES,
    )
    router = _Router(
        services,
        context_getter=get_context,
        graphql_ide="graphiql" if graphiql else None,
        allow_queries_via_get=False,
        subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
    )
    app.include_router(router, prefix="/graphql")
    mount_console(app)
    app.state.services = services

    @app.get("/healthz", include_in_schema=False)
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    return app
