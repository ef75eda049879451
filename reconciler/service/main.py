"""The service process: the GraphQL API, webhooks, OAuth install, metrics and health, and the
scheduler that runs the pairs, composed around one store.

``build_service(settings)`` makes the parts (``Service``); ``await service.prepare()`` migrates
the database (PostgreSQL: under an advisory lock, so processes starting together do not race);
``create_service_app(service)`` is the FastAPI app whose lifespan starts the scheduler and, at
shutdown, gives runs in progress ``shutdown_grace_s`` to finish before cancelling them.

Routes: ``/graphql`` (API app), ``/healthz``, ``/readyz``, ``/metrics``,
``POST /webhooks/highlevel``, ``GET /oauth/start``, ``GET /oauth/callback`` (and ``/console``
when the console is installed with the API app).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import text

from reconciler.api.app import create_app
from reconciler.service import events
from reconciler.service.health import connected, health_router
from reconciler.service.lease import LeaseKeeper
from reconciler.service.metrics import ServiceMetrics
from reconciler.service.oauth import OAuthConfig, OAuthInstaller, StateSigner, oauth_router
from reconciler.service.runner import PairRunner, SideOpener
from reconciler.service.scheduler import PairScheduler, ScheduleConfig
from reconciler.service.webhooks import SignatureVerifier, WebhookReceiver, webhook_router
from reconciler.settings import Settings
from reconciler.store import migrate
from reconciler.store.crypto import Cipher
from reconciler.store.db import Store
from reconciler.store.types import utcnow

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
# Any 64-bit number that this project alone uses: the migration lock's key on PostgreSQL.
MIGRATION_LOCK_KEY = 0x7265636F6E63696C  # "reconcil"


@dataclass
class Service:
    """Everything one service process runs; built by ``build_service``."""

    settings: Settings
    store: Store
    cipher: Cipher
    http: httpx.AsyncClient
    metrics: ServiceMetrics
    leases: LeaseKeeper
    runner: PairRunner
    scheduler: PairScheduler | None
    webhooks: WebhookReceiver
    oauth: OAuthInstaller
    bus: events.EventBus
    clock: Clock
    _owned: AsyncExitStack = field(default_factory=AsyncExitStack)
    _watcher: asyncio.Task[None] | None = None

    async def prepare(self) -> None:
        """Bring the schema to the head migration (if ``auto_migrate``): before serving."""
        if not self.settings.auto_migrate:
            return
        if self.store.dialect != "postgresql":
            await migrate.upgrade(self.store.url)
            return
        # Several processes starting at once must not run the same migration together.
        async with connected(self.store) as conn:
            await conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": MIGRATION_LOCK_KEY})
            try:
                await migrate.upgrade(self.store.url)
            finally:
                await conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": MIGRATION_LOCK_KEY})
                await conn.commit()

    async def start(self) -> None:
        self._watcher = asyncio.create_task(self.runner.watch(), name="reconciler-run-watcher")
        if self.scheduler is not None:
            await self.scheduler.start()
            log.info(
                "scheduler started",
                extra={
                    "holder": self.leases.holder,
                    "pairs": int(self.metrics.scheduled_pairs.value() or 0),
                },
            )

    async def stop(self) -> None:
        """Stop scheduling; let runs finish within the grace period, then cancel them."""
        if self.scheduler is not None:
            cancelled = await self.scheduler.stop(self.settings.shutdown_grace_s)
        else:
            cancelled = await self.runner.drain(self.settings.shutdown_grace_s)
        if cancelled:
            log.warning("stopped %d run(s) in progress; the next run finishes them", cancelled)
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
            self._watcher = None

    async def aclose(self) -> None:
        await self._owned.aclose()


def build_service(
    settings: Settings,
    *,
    store: Store | None = None,
    side_opener: SideOpener | None = None,
    http: httpx.AsyncClient | None = None,
    bus: events.EventBus | None = None,
    clock: Clock = utcnow,
    scheduler: bool | None = None,
) -> Service:
    """The parts of a service process. What is not given is made here and closed by
    ``Service.aclose`` (the store, the HTTP client)."""
    owned = AsyncExitStack()
    if store is None:
        store = Store.from_settings(settings)
        owned.push_async_callback(store.dispose)
    if http is None:
        http = httpx.AsyncClient(timeout=httpx.Timeout(30.0, connect=10.0))
        owned.push_async_callback(http.aclose)
    cipher = Cipher.from_settings(settings)
    bus = bus or events.bus
    metrics = ServiceMetrics()
    leases = LeaseKeeper(store, holder=settings.instance_id, ttl=settings.lease_ttl_s, clock=clock)
    if side_opener is None:
        side_opener = default_side_opener(settings, store, cipher, http)
    runner = PairRunner(store, leases, side_opener, metrics=metrics, bus=bus, clock=clock)
    schedule = settings.scheduler_enabled if scheduler is None else scheduler
    pair_scheduler = (
        PairScheduler(
            store,
            runner,
            ScheduleConfig(
                min_interval_s=settings.schedule_min_interval_s,
                jitter_s=settings.schedule_jitter_s,
                misfire_grace_s=settings.schedule_misfire_grace_s,
                refresh_s=settings.schedule_refresh_s,
                debounce_s=settings.webhook_debounce_s,
                max_wait_s=max(settings.webhook_debounce_s, settings.webhook_max_wait_s),
                receipt_retention_s=2.0 * settings.webhook_tolerance_s,
            ),
            clock=clock,
        )
        if schedule
        else None
    )
    receiver = WebhookReceiver(
        store,
        SignatureVerifier(
            ed25519_pem=settings.webhook_ed25519_public_key,
            rsa_pem=settings.webhook_rsa_public_key,
        ),
        request_run=pair_scheduler.request_run if pair_scheduler is not None else None,
        tolerance_s=settings.webhook_tolerance_s,
        metrics=metrics,
        clock=clock,
    )
    installer = OAuthInstaller(
        store,
        cipher,
        OAuthConfig.from_settings(settings),
        StateSigner.from_settings(settings, clock=clock),
        http,
        clock=clock,
    )
    return Service(
        settings=settings,
        store=store,
        cipher=cipher,
        http=http,
        metrics=metrics,
        leases=leases,
        runner=runner,
        scheduler=pair_scheduler,
        webhooks=receiver,
        oauth=installer,
        bus=bus,
        clock=clock,
        _owned=owned,
    )


def create_service_app(service: Service, *, close_service: bool = True) -> FastAPI:
    """The API app plus this service's routes; its lifespan starts and stops the scheduler
    (and closes the service's own resources when ``close_service``)."""
    app = create_app(
        service.store,
        side_opener=service.runner.leased_opener,
        bus=service.bus,
        clock=service.clock,
    )
    scheduler = service.scheduler
    app.include_router(webhook_router(service.webhooks))
    app.include_router(oauth_router(service.oauth))
    app.include_router(
        health_router(
            service.store,
            service.metrics,
            (lambda: scheduler.running) if scheduler is not None else None,
        )
    )
    api_lifespan = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(inner: FastAPI) -> AsyncIterator[Any]:
        async with api_lifespan(inner) as state:
            await service.start()
            try:
                yield state
            finally:
                await service.stop()
                if close_service:
                    await service.aclose()

    app.router.lifespan_context = lifespan
    app.state.service = service
    return app


def default_side_opener(
    settings: Settings, store: Store, cipher: Cipher, http: httpx.AsyncClient
) -> SideOpener:
    """Sides opened from the pair's accounts in the store (``opener.SideFactory``)."""
    from reconciler.service.opener import SideFactory  # loads the connectors

    return SideFactory(store, cipher, http, settings).opener
