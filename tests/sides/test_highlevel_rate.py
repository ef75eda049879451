"""Pacing and the daily reserve against the sandbox's real rate limiter (sliding window, real
time, windows shortened so the tests take about a second)."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from reconciler.errors import BudgetReservedError, RateLimitedError
from reconciler.sandbox.state import Sandbox
from reconciler.sides.base import ContactNotes
from reconciler.sides.highlevel import RateBudget
from tests.sides.sandbox_sides import http_to, make_side, new_sandbox

MAX = 10
INTERVAL = 0.3


def _daily_remaining(sandbox: Sandbox, location: str, token: str) -> int:
    app_id = sandbox.tokens.access[token].app
    headers = sandbox.limiter.peek(app_id, location, sandbox.limits_for(location))
    return int(headers["X-RateLimit-Daily-Remaining"])


@pytest.mark.parametrize("loopback", [False, True], ids=["asgi", "loopback"])
async def test_a_burst_beyond_the_window_sees_no_429(loopback: bool) -> None:
    app, sandbox, location = new_sandbox(
        seed=31,
        contacts_per_location=5 * MAX,
        rate_limit_max=MAX,
        rate_limit_interval_seconds=INTERVAL,
    )
    token = sandbox.private_token(location)
    async with http_to(app, loopback=loopback) as (http, base):
        side = make_side(http, base, location, token, notes_concurrency=4 * MAX)
        started = time.monotonic()
        ids = [c.id async for page in side.stream_contacts() for c in page.contacts]
        results = [item async for item in side.list_notes(ids)]
        elapsed = time.monotonic() - started
    usage = side.usage()
    assert len(results) == 5 * MAX
    assert all(item.error is None for item in results)
    assert usage.rate_limited == 0
    assert usage.retries == 0
    sent = usage.total_requests
    assert sent == 5 * MAX + 1
    # 51 requests at 10 per 0.3 s need at least 5 full windows; pacing must not take far more.
    floor = (sent - 1) // MAX * INTERVAL
    assert floor <= elapsed < floor * 2 + 1  # loose: the machine may be busy
    await sandbox.aclose()


async def test_sides_sharing_a_budget_share_the_window() -> None:
    app, sandbox, location = new_sandbox(
        seed=32,
        contacts_per_location=3 * MAX,
        rate_limit_max=MAX,
        rate_limit_interval_seconds=INTERVAL,
    )
    async with http_to(app, loopback=False) as (http, base):
        budget = RateBudget(name="shared")
        sides = [
            make_side(http, base, location, sandbox.private_token(location), budget=budget)
            for _ in range(2)
        ]
        ids = [c.id async for page in sides[0].stream_contacts() for c in page.contacts]

        async def read_all(index: int) -> int:
            return len([item async for item in sides[index].list_notes(ids)])

        assert list(await asyncio.gather(read_all(0), read_all(1))) == [3 * MAX, 3 * MAX]
    assert [s.usage().rate_limited for s in sides] == [0, 0]
    await sandbox.aclose()


async def test_the_daily_reserve_is_never_spent() -> None:
    daily, reserve = 60, 20
    app, sandbox, location = new_sandbox(
        seed=33, contacts_per_location=100, rate_limit_daily=daily, rate_limit_max=10_000
    )
    token = sandbox.private_token(location)
    sent: list[str] = []

    async def count(request: httpx.Request) -> None:
        sent.append(request.url.path)

    async with http_to(app, loopback=False, event_hooks={"request": [count]}) as (http, base):
        budget = RateBudget(daily_reserve=reserve)
        side = make_side(http, base, location, token, budget=budget, notes_concurrency=8)
        ids = [c.id async for page in side.stream_contacts() for c in page.contacts]
        read: list[ContactNotes] = []

        async def read_notes() -> None:
            async for item in side.list_notes(ids):
                read.append(item)

        with pytest.raises(BudgetReservedError):
            await read_notes()
        before = len(sent)
        with pytest.raises(BudgetReservedError):
            await side.get_contact(ids[0])
        assert len(sent) == before  # refused without sending
    assert len(sent) <= daily - reserve
    assert len(sent) >= daily - reserve - 8  # stopped at the reserve, not long before it
    assert _daily_remaining(sandbox, location, token) >= reserve
    usage = side.usage()
    assert usage.budget_reserve_reached is True
    assert usage.budget_remaining_daily is not None
    assert usage.budget_remaining_daily <= reserve
    assert usage.rate_limited == 0
    assert len(read) == len(sent) - 1  # every notes request paid for reached the caller
    await sandbox.aclose()


async def test_a_day_spent_by_someone_else_ends_the_run_instead_of_hanging() -> None:
    app, sandbox, location = new_sandbox(
        seed=34, contacts_per_location=3, rate_limit_daily=6, rate_limit_max=10_000
    )
    async with http_to(app, loopback=False) as (http, base):
        ours, other = (
            make_side(
                http,
                base,
                location,
                sandbox.private_token(location),
                budget=RateBudget(daily_reserve=0),
            )
            for _ in range(2)
        )
        contact_id = sandbox.contacts(location)[0]["id"]
        await ours.get_contact(contact_id)  # we learn: 5 left today
        for _ in range(5):  # another process of the same app spends them
            await other.get_contact(contact_id)
        with pytest.raises(RateLimitedError) as refused:
            await asyncio.wait_for(ours.get_contact(contact_id), timeout=5)
        assert refused.value.retry_after is not None
        assert refused.value.retry_after > 60  # until the next UTC day
        with pytest.raises(BudgetReservedError):
            await asyncio.wait_for(ours.get_contact(contact_id), timeout=5)
    usage = ours.usage()
    assert usage.requests == {"GET /contacts/{contactId}": 2}  # nothing sent after the 429
    assert usage.retries == 0
    assert usage.budget_reserve_reached is True
    await sandbox.aclose()
