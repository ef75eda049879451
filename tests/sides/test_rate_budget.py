"""``RateBudget`` on a virtual clock: exact timings of pacing, pauses and the daily reserve."""

from __future__ import annotations

import asyncio

import pytest

from reconciler.errors import BudgetReservedError
from reconciler.sides.highlevel import RateBudget, RateHeaders
from tests.sides.clocks import ManualClock


def _headers(
    *,
    max_: int = 2,
    remaining: int | None = None,
    interval_ms: int = 10_000,
    daily: int = 1000,
    left: int = 1000,
) -> dict[str, str]:
    headers = {
        "x-ratelimit-max": str(max_),
        "x-ratelimit-interval-milliseconds": str(interval_ms),
        "x-ratelimit-limit-daily": str(daily),
        "x-ratelimit-daily-remaining": str(left),
    }
    if remaining is not None:
        headers["x-ratelimit-remaining"] = str(remaining)
    return headers


async def _request(
    budget: RateBudget, clock: ManualClock, headers: dict[str, str], latency: float = 0.1
) -> float:
    """One request: returns the virtual time it was sent at."""
    async with budget.slot() as slot:
        sent_at = clock.t
        clock.t += latency
        slot.observe(headers)
    return sent_at


def test_rate_headers_parse_what_is_there() -> None:
    parsed = RateHeaders.parse(_headers(remaining=1, left=5))
    assert parsed == RateHeaders(
        max_requests=2, remaining=1, interval=10.0, daily_limit=1000, daily_remaining=5
    )
    assert RateHeaders.parse({"x-ratelimit-max": "lots"}) == RateHeaders(
        None, None, None, None, None
    )


async def test_a_slot_is_held_until_an_interval_after_its_response() -> None:
    clock = ManualClock()
    budget = RateBudget(clock=clock, daily_reserve=0, smooth=False)
    sends = [await _request(budget, clock, _headers(left=999 - i)) for i in range(3)]
    assert budget.max_requests == 2
    assert budget.interval == 10.0
    # The first slot frees 10 s (plus a hair) after its response at 0.1 s.
    assert sends[:2] == [0.0, 0.1]
    assert 10.1 < sends[2] < 10.2


async def test_until_the_limits_are_known_one_request_at_a_time() -> None:
    clock = ManualClock()
    budget = RateBudget(clock=clock, daily_reserve=0)
    order: list[str] = []

    async def probe() -> None:
        async with budget.slot() as slot:
            order.append("probe sent")
            await asyncio.sleep(0)
            await asyncio.sleep(0)
            order.append("probe answered")
            slot.observe(_headers(max_=5, remaining=4, left=100))

    async def follower() -> None:
        await asyncio.sleep(0)
        async with budget.slot():
            order.append("follower sent")

    await asyncio.gather(probe(), follower())
    assert order == ["probe sent", "probe answered", "follower sent"]


async def test_the_servers_count_frees_a_slot_before_its_hold_ends() -> None:
    clock = ManualClock()
    budget = RateBudget(clock=clock, daily_reserve=0, max_requests=2, interval=10, smooth=False)
    async with budget.slot() as first:  # sent at 0, answered at 0.5: held until 10.52
        clock.t = 0.5
        first.observe(_headers(max_=2, remaining=1))
    clock.t = 10.25
    async with budget.slot() as second:
        clock.t = 10.3
        # When it arrived the server had let the first one go: only this one counts.
        second.observe(_headers(max_=2, remaining=1))
    assert await _request(budget, clock, _headers(max_=2, remaining=0)) == 10.3


async def test_sends_are_spread_over_the_window() -> None:
    clock = ManualClock()
    budget = RateBudget(clock=clock, daily_reserve=0, max_requests=100, interval=10.0)
    sends = [await _request(budget, clock, _headers(max_=100), latency=0.0) for _ in range(30)]
    # A burst of a tenth of the window, then one per interval/Max (0.1 s).
    assert sends[:10] == [0.0] * 10
    assert sends[10:] == pytest.approx([0.1 * k for k in range(1, 21)])


async def test_a_pause_holds_every_sender() -> None:
    clock = ManualClock()
    budget = RateBudget(clock=clock, daily_reserve=0, max_requests=10, interval=1.0)
    budget.pause(3.0)
    sent_at = await _request(budget, clock, _headers(max_=10, remaining=9, left=100))
    assert sent_at == pytest.approx(3.0)


async def test_a_pause_of_hours_ends_the_run_instead_of_waiting() -> None:
    clock = ManualClock()
    budget = RateBudget(clock=clock, daily_reserve=0, max_requests=10, interval=1.0)
    budget.pause(3600.0)
    with pytest.raises(BudgetReservedError, match="pause of 3600 s"):
        await _request(budget, clock, _headers(max_=10))
    assert clock.t == 0.0
    assert budget.reserve_reached is True


async def test_someone_elses_requests_take_room_in_the_window() -> None:
    clock = ManualClock()
    budget = RateBudget(clock=clock, daily_reserve=0)
    # Max 3; the server counts 3 (ours plus two foreign) after our first request.
    await _request(budget, clock, _headers(max_=3, remaining=0, left=100))
    second = await _request(budget, clock, _headers(max_=3, remaining=0, left=99))
    assert second > 10.0  # no room until the foreign requests have left the window


async def test_the_daily_reserve_stops_sending() -> None:
    clock = ManualClock()
    budget = RateBudget(clock=clock, daily_reserve=10, max_requests=100, interval=1.0)
    await _request(budget, clock, _headers(max_=100, remaining=99, left=12))
    assert budget.daily_remaining == 12
    await _request(budget, clock, _headers(max_=100, remaining=98, left=11))
    await _request(budget, clock, _headers(max_=100, remaining=97, left=10))
    with pytest.raises(BudgetReservedError):
        await _request(budget, clock, _headers(left=9))
    assert budget.reserve_reached is True
    assert budget.sent == 3


async def test_a_stale_daily_count_never_raises_the_estimate_but_a_new_day_does() -> None:
    clock = ManualClock()
    budget = RateBudget(clock=clock, daily_reserve=0, max_requests=100, interval=1.0)
    await _request(budget, clock, _headers(max_=100, left=500))
    # The second send counts against the estimate; its answer, reordered, claims more: ignored.
    await _request(budget, clock, _headers(max_=100, left=503))
    assert budget.daily_remaining == 499
    await _request(budget, clock, _headers(max_=100, left=200_000))  # the day turned
    assert budget.daily_remaining == 200_000


async def test_in_flight_requests_count_against_the_daily_estimate() -> None:
    clock = ManualClock()
    budget = RateBudget(clock=clock, daily_reserve=0, max_requests=100, interval=1.0)
    await _request(budget, clock, _headers(max_=100, left=50))
    async with budget.slot(), budget.slot():
        assert budget.in_flight == 2
        assert budget.daily_remaining == 48


async def test_the_default_reserve_is_a_share_of_the_daily_limit() -> None:
    clock = ManualClock()
    budget = RateBudget(clock=clock, max_requests=100, interval=1.0)
    assert budget.daily_reserve == 0  # nothing known yet
    await _request(budget, clock, _headers(max_=100, daily=200_000, left=199_999))
    assert budget.daily_reserve == 5_000
