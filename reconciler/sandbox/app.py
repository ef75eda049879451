"""The sandbox's FastAPI application: ``create_app(config) -> FastAPI``.

``app.state.sandbox`` is the ``Sandbox`` handle. Background work (webhook deliveries, debounced
saves) starts on demand, so the app also works under ``httpx.ASGITransport``, which sends no
lifespan events; when a server runs it, shutdown stops that work and saves the state file.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from reconciler.sandbox import (
    admin,
    routes_associations,
    routes_contacts,
    routes_notes,
    routes_oauth,
    routes_search,
    routes_tags,
    routes_tasks,
)
from reconciler.sandbox.config import SandboxConfig
from reconciler.sandbox.errors import install_error_handlers
from reconciler.sandbox.gateway import gateway
from reconciler.sandbox.state import Sandbox


def create_app(config: SandboxConfig | None = None) -> FastAPI:
    sandbox = Sandbox(config)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await sandbox.aclose()

    app = FastAPI(
        title="HighLevel sandbox",
        description="An emulator of HighLevel's Contacts API v2 (test mode).",
        lifespan=lifespan,
        docs_url="/sandbox/docs",
        openapi_url="/sandbox/openapi.json",
        redoc_url=None,
    )
    app.state.sandbox = sandbox
    install_error_handlers(app)
    app.middleware("http")(gateway)
    # Search, list and bulk routes first: "/contacts/search/duplicate" and
    # "/contacts/business/x" must not read as a contact id, nor "campaigns/removeAll" as a
    # campaign id.
    for module in (
        routes_search,
        routes_associations,
        routes_contacts,
        routes_tags,
        routes_notes,
        routes_tasks,
        routes_oauth,
    ):
        app.include_router(module.router)
    app.include_router(admin.public)
    app.include_router(admin.router)
    return app
