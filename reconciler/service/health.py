"""``/metrics`` (Prometheus text), ``/readyz`` (can this process serve and run pairs?).

``/healthz`` (the process answers) is the API app's. Readiness checks the database answers, its
schema is at the head migration, and (where this process schedules runs) the scheduler runs; a
load balancer takes a process out of rotation while any of these fails.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from alembic.runtime.migration import MigrationContext
from fastapi import APIRouter
from fastapi.responses import JSONResponse, PlainTextResponse
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from reconciler.errors import ReconcilerError, StoreError
from reconciler.service.metrics import CONTENT_TYPE, ServiceMetrics
from reconciler.store.db import Store
from reconciler.store.migrate import head_revision
from reconciler.store.schema import ConflictStatus, table_of
from reconciler.store.tables import ConflictRow, PairRow

log = logging.getLogger(__name__)

_CONFLICT = table_of(ConflictRow)
_PAIR = table_of(PairRow)


@asynccontextmanager
async def connected(store: Store) -> AsyncIterator[AsyncConnection]:
    """``store.connection()``, with a failure to connect translated too (``StoreError``):
    the store translates errors of statements, and connecting happens before those."""
    try:
        async with store.connection() as conn:
            yield conn
    except DBAPIError as exc:
        first = str(exc.orig or exc).strip().splitlines()
        raise StoreError(f"cannot reach the database: {first[0] if first else exc}") from exc


async def readiness(store: Store, scheduler_running: Callable[[], bool] | None) -> dict[str, Any]:
    """Each check's result (``ok`` or what is wrong) and ``ready`` overall."""
    checks: dict[str, str] = {}
    try:
        async with connected(store) as conn:
            await conn.execute(text("SELECT 1"))
            checks["database"] = "ok"
            revision = await conn.run_sync(
                lambda sync: MigrationContext.configure(sync).get_current_revision()
            )
        head = head_revision()
        checks["migrations"] = (
            "ok" if revision == head else f"at {revision or 'nothing'}, head is {head}"
        )
    except ReconcilerError as exc:
        checks.setdefault("database", f"unreachable: {exc}")
        checks.setdefault("migrations", "unknown")
    if scheduler_running is not None:
        checks["scheduler"] = "ok" if scheduler_running() else "not running"
    return {"ready": all(v == "ok" for v in checks.values()), "checks": checks}


def store_collector(store: Store, metrics: ServiceMetrics) -> Callable[[], Any]:
    """Refreshes the store-derived gauges (open conflicts per pair, pairs) at scrape time."""

    async def collect() -> None:
        try:
            async with store.session() as s:
                open_rows = (
                    await s.execute(
                        select(_CONFLICT.c.pair_id, func.count())
                        .where(_CONFLICT.c.status == ConflictStatus.OPEN.value)
                        .group_by(_CONFLICT.c.pair_id)
                    )
                ).all()
                pair_rows = (await s.execute(select(_PAIR.c.id, _PAIR.c.enabled))).all()
        except ReconcilerError as exc:
            metrics.errors.inc(component="metrics")
            log.warning("metrics: cannot read the store: %s", exc)
            return
        counts = {pair_id: int(n) for pair_id, n in open_rows}
        metrics.open_conflicts.replace(
            ({"pair": pair_id}, float(counts.get(pair_id, 0))) for pair_id, _ in pair_rows
        )
        enabled = sum(1 for _, on in pair_rows if on)
        metrics.pairs.replace(
            [({"state": "enabled"}, enabled), ({"state": "disabled"}, len(pair_rows) - enabled)]
        )

    return collect


def health_router(
    store: Store, metrics: ServiceMetrics, scheduler_running: Callable[[], bool] | None
) -> APIRouter:
    router = APIRouter()
    metrics.registry.add_collector(store_collector(store, metrics))

    @router.get("/metrics", include_in_schema=False)
    async def metrics_endpoint() -> PlainTextResponse:
        return PlainTextResponse(await metrics.registry.render(), media_type=CONTENT_TYPE)

    @router.get("/readyz", include_in_schema=False)
    async def ready() -> JSONResponse:
        result = await readiness(store, scheduler_running)
        return JSONResponse(result, status_code=200 if result["ready"] else 503)

    return router
