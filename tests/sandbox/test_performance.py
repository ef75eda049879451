"""Benchmark-sized use stays cheap: paging 10,000 contacts, notes per contact, writes between."""

from __future__ import annotations

import time
from typing import Any

import httpx

from reconciler.sandbox.app import create_app
from reconciler.sandbox.clock import Clock
from reconciler.sandbox.state import Sandbox
from tests.sandbox.conftest import Api, auth, make_config


async def test_paging_ten_thousand_contacts_is_linear(clock: Clock) -> None:
    started = time.perf_counter()
    app = create_app(
        make_config(clock, locations=1, contacts_per_location=10_000, rate_limit_max=100_000)
    )
    sandbox: Sandbox = app.state.sandbox
    seeded = time.perf_counter() - started
    location = sandbox.locations[0]
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://s") as client:
        api = Api(client, auth(sandbox.private_token(location)), location)
        seen: list[str] = []
        page_times: list[float] = []
        after = None
        for _ in range(30):
            t0 = time.perf_counter()
            extra: dict[str, Any] = {"searchAfter": after} if after else {}
            body = (
                await api.search(
                    pageLimit=500,
                    sort=[{"field": "dateUpdated", "direction": "asc"}],
                    filters=[
                        {
                            "field": "dateUpdated",
                            "operator": "range",
                            "value": {"gte": "2020-01-01T00:00:00Z"},
                        }
                    ],
                    **extra,
                )
            ).json()
            page_times.append(time.perf_counter() - t0)
            hits = body["contacts"]
            if not hits:
                break
            seen += [h["id"] for h in hits]
            after = hits[-1]["searchAfter"]
            # A write between pages invalidates the filtered cache: still O(N) per page.
            await api.request("POST", f"/contacts/{hits[0]['id']}/notes", json={"body": "seen"})
        assert len(set(seen)) == 10_000
        t0 = time.perf_counter()
        for contact_id in seen[:1000]:
            r = await api.request("GET", f"/contacts/{contact_id}/notes")
            assert r.status_code == 200
        notes_time = time.perf_counter() - t0
    await sandbox.aclose()
    # Generous bounds for a 2-core CI machine; a quadratic search would be far beyond them.
    assert seeded < 10
    assert sum(page_times) < 8, page_times
    assert notes_time < 8
