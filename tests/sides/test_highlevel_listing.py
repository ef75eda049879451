"""Incremental listing: the ``dateUpdated`` range filter, its overlap, and the full-scan mode."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import httpx
import pytest

from reconciler.sandbox.clock import Clock as SandboxClock
from reconciler.sides.base import ContactDraft
from reconciler.sides.highlevel import HighLevelSide, ListingPolicy, PrivateToken
from tests.sides.sandbox_sides import QUICK_RETRY, http_to, new_sandbox

START = "2026-01-05T09:00:00Z"


@pytest.mark.parametrize(
    ("overlap_minutes", "mode", "expected"),
    [
        (5, "server", {"new0", "new1"}),
        (15, "server", {"old0", "old1", "old2", "new0", "new1"}),
        (5, "client", {"new0", "new1"}),
        (0, "server", {"new0", "new1"}),
    ],
)
async def test_since_lists_changes_after_the_watermark_minus_the_overlap(
    overlap_minutes: int, mode: Literal["server", "client"], expected: set[str]
) -> None:
    app, sandbox, location = new_sandbox(
        seed=61, clock=SandboxClock.frozen_at(START), rate_limit_max=100_000
    )
    searches: list[dict[str, Any]] = []

    async def record(request: httpx.Request) -> None:
        if request.url.path == "/contacts/search":
            searches.append(json.loads(request.content))

    async with http_to(app, loopback=False, event_hooks={"request": [record]}) as (http, base):
        side = HighLevelSide(
            http,
            location_id=location,
            credentials=PrivateToken(sandbox.private_token(location)),
            base_url=base,
            retry=QUICK_RETRY,
            listing=ListingPolicy(
                page_limit=2, overlap=timedelta(minutes=overlap_minutes), since_filter=mode
            ),
        )
        for n in range(3):
            await side.create_contact(ContactDraft(first_name=f"old{n}"))
        sandbox.clock.advance(600)
        for n in range(2):
            await side.create_contact(ContactDraft(first_name=f"new{n}"))
        since = datetime(2026, 1, 5, 9, 10, tzinfo=UTC)
        searches.clear()
        pages = [page async for page in side.stream_contacts(since=since)]
    assert all(page.complete for page in pages)
    assert {c.first_name for page in pages for c in page.contacts} == expected
    floor = since - timedelta(minutes=overlap_minutes)
    for body in searches:
        if mode == "server":
            assert body["filters"] == [
                {
                    "field": "dateUpdated",
                    "operator": "range",
                    "value": {"gte": floor.strftime("%Y-%m-%dT%H:%M:%S.000Z")},
                }
            ]
        else:
            assert "filters" not in body  # a full scan, filtered here
        assert body["sort"] == [{"field": "dateUpdated", "direction": "asc"}]
        assert body["pageLimit"] == 2
    await sandbox.aclose()
