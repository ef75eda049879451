"""The request budget of one location: pacing that never sees a 429, and a daily reserve.

HighLevel allows ``X-RateLimit-Max`` requests per ``X-RateLimit-Interval-Milliseconds`` (100 per
10 s) and ``X-RateLimit-Limit-Daily`` per day, per app and location, and says how many are left
on every response. The budget learns these from the headers and paces every request to the
location through ``slot()``.

Why a request holds its slot from *send* until *response + interval*: the server counts a
request when it arrives, somewhere between our send and our response; a request it counted at
time ``t`` leaves its window at ``t + interval <= response + interval``. So if at most ``Max``
slots are held at any moment, no window the server can look at (sliding or fixed) holds more
than ``Max`` of our requests, whatever the latency. The cost is one latency per interval:
with 10 s windows and 50 ms responses, 99.5 % of the permitted rate. Sends are also spread
evenly (one per ``interval / Max`` on average, short bursts allowed), so that slots do not
all free up at once and come back as bursts that a few concurrent callers cannot keep up with.

Each response's ``Remaining`` then tightens the picture (see ``_reconcile``): slots the server
has already let go are freed early (which wins back most of that latency), and when fewer are
left than our own slots explain, the difference (other processes of the same app spending the
same location's budget) is held as "foreign" slots for one interval. Until the first response
tells the limits, one request at a time is sent (a probe), so a budget that is already spent
is never hit by a burst.

The daily budget keeps a reserve (for people and other tools working on that location; by
default 2.5 % of the daily limit, or an absolute count): once the estimate of what is left
reaches it, ``slot()`` raises ``BudgetReservedError`` instead of
sending. The estimate is a lower bound: every send counts against it, and a response's
``Daily-Remaining`` only lowers it (minus what is still in flight), except for a jump up, which
is a new day.
"""

from __future__ import annotations

import asyncio
import math
from collections import deque
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass

from reconciler.errors import BudgetReservedError
from reconciler.sides.highlevel.clock import Clock, SystemClock

# A day, in seconds: a daily count confirmed longer ago than this has certainly been reset.
_DAY = 86_400.0


@dataclass(frozen=True, slots=True)
class RateHeaders:
    """The ``X-RateLimit-*`` headers of one response (any of them may be missing)."""

    max_requests: int | None
    remaining: int | None
    interval: float | None  # seconds
    daily_limit: int | None
    daily_remaining: int | None

    @classmethod
    def parse(cls, headers: Mapping[str, str]) -> RateHeaders:
        interval_ms = _int(headers.get("x-ratelimit-interval-milliseconds"))
        return cls(
            max_requests=_int(headers.get("x-ratelimit-max")),
            remaining=_int(headers.get("x-ratelimit-remaining")),
            interval=interval_ms / 1000 if interval_ms else None,
            daily_limit=_int(headers.get("x-ratelimit-limit-daily")),
            daily_remaining=_int(headers.get("x-ratelimit-daily-remaining")),
        )


class Slot:
    """One request's hold on the budget; tell it the response's headers."""

    __slots__ = ("headers", "sent_at")

    def __init__(self, sent_at: float) -> None:
        self.sent_at = sent_at
        self.headers: RateHeaders | None = None

    def observe(self, headers: Mapping[str, str]) -> None:
        self.headers = RateHeaders.parse(headers)


class RateBudget:
    """Pacing and daily reserve for one location; share one instance per location."""

    def __init__(
        self,
        *,
        daily_reserve: int | None = None,
        daily_reserve_share: float = 0.025,
        clock: Clock | None = None,
        max_requests: int | None = None,
        interval: float | None = None,
        smooth: bool = True,
        max_pause: float = 120.0,
        name: str = "highlevel",
    ) -> None:
        if daily_reserve is not None and daily_reserve < 0:
            raise ValueError("daily_reserve must not be negative")
        if not 0.0 <= daily_reserve_share < 1.0:
            raise ValueError("daily_reserve_share must be within [0, 1)")
        self._reserve = daily_reserve
        self._reserve_share = daily_reserve_share
        self.name = name
        self._clock = clock or SystemClock()
        self._max = max_requests
        self._interval = interval if interval is not None else 10.0
        self._in_flight = 0
        self._done: deque[float] = deque()  # completion times of our requests, ascending
        self._foreign: deque[float] = deque()  # expiry times of others' requests
        self._paused_until = 0.0
        self._max_pause = max_pause
        self._smooth = smooth
        self._tat = 0.0  # smoothing: theoretical time of the next send
        self._changed = asyncio.Event()
        self.daily_limit: int | None = None
        self._daily_left: int | None = None
        self._daily_header: int | None = None
        self._daily_seen_at = 0.0
        self.reserve_reached = False
        self.sent = 0

    # -- what callers read -----------------------------------------------------------------

    @property
    def max_requests(self) -> int | None:
        return self._max

    @property
    def interval(self) -> float:
        return self._interval

    @property
    def daily_reserve(self) -> int:
        """Requests of the day never spent: the absolute reserve if one was given, else the
        share of the daily limit the headers announced (2.5 %: 5,000 of HighLevel's 200,000)."""
        if self._reserve is not None:
            return self._reserve
        if self.daily_limit is None:
            return 0
        return math.ceil(self.daily_limit * self._reserve_share)

    @property
    def daily_remaining(self) -> int | None:
        """Lower bound of today's requests left (``None`` until a response said)."""
        return self._daily_left

    @property
    def in_flight(self) -> int:
        return self._in_flight

    # -- pacing ----------------------------------------------------------------------------

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[Slot]:
        """Wait for room, hold it for one request, and learn from its response."""
        await self._acquire()
        slot = Slot(self._clock.monotonic())
        try:
            yield slot
        finally:
            self._release(slot)

    def pause(self, seconds: float) -> None:
        """Send nothing for ``seconds`` (a 429 told us to back off); a pause longer than
        ``max_pause`` makes every ``slot()`` raise ``BudgetReservedError`` until it ends."""
        self._paused_until = max(self._paused_until, self._clock.monotonic() + seconds)

    async def _acquire(self) -> None:
        while True:
            now = self._clock.monotonic()
            self._check_reserve(now)
            if now < self._paused_until:
                wait = self._paused_until - now
                if wait > self._max_pause:
                    # "Come back in hours": the day's budget is spent (by someone else, as
                    # ours stops at the reserve). Waiting would hang the run; end it.
                    self.reserve_reached = True
                    raise BudgetReservedError(
                        f"the server asked for a pause of {wait:.0f} s: daily budget spent",
                        side=self.name,
                    )
                await self._clock.sleep(wait)
                continue
            self._expire(now)
            if self._max is None:
                room = self._in_flight == 0  # limits unknown: one probe at a time
            else:
                held = self._in_flight + len(self._done) + len(self._foreign)
                room = held < self._max
            if room and self._smooth and self._max is not None:
                # Smoothing (GCRA): on average one send per interval/Max, bursts of a tenth
                # of the window at most. Without it, slots freed together are re-spent in a
                # burst that outruns the callers' concurrency, and the queueing delay of
                # each burst is lost rate; with it, a handful of requests in flight suffice.
                spacing = self._interval / self._max
                tolerance = spacing * (max(1, self._max // 10) - 1)
                early = self._tat - tolerance - now
                if early > 0:
                    await self._clock.sleep(early)
                    continue
                self._tat = max(self._tat, now) + spacing
            if room:
                self._in_flight += 1
                self.sent += 1
                if self._daily_left is not None:
                    self._daily_left -= 1
                return
            wake_at = min(
                (t for t in (self._first_release(), self._first_foreign()) if t is not None),
                default=None,
            )
            if wake_at is None:
                # Every slot is in flight: the next completion fixes when one frees up.
                await self._changed.wait()
            else:
                await self._clock.sleep(wake_at - now)

    def _check_reserve(self, now: float) -> None:
        if self._daily_left is None:
            return
        if now - self._daily_seen_at > _DAY:
            self._daily_left = None  # a new day for sure: probe to learn today's count
            return
        if self._daily_left <= self.daily_reserve:
            self.reserve_reached = True
            raise BudgetReservedError(
                f"daily request budget down to its reserve ({self._daily_left} left, "
                f"reserve {self.daily_reserve})",
                side=self.name,
            )

    def _release(self, slot: Slot) -> None:
        now = self._clock.monotonic()
        self._in_flight -= 1
        self._done.append(now)
        if slot.headers is not None:
            self._learn(slot.headers, now, slot.sent_at)
        # Wake everyone waiting on a completion; they re-check under the new state.
        self._changed.set()
        self._changed = asyncio.Event()

    def _learn(self, headers: RateHeaders, now: float, sent_at: float) -> None:
        if headers.max_requests is not None:
            self._max = headers.max_requests
        if headers.interval is not None:
            self._interval = headers.interval
        if headers.daily_limit is not None:
            self.daily_limit = headers.daily_limit
        if headers.daily_remaining is not None:
            self._learn_daily(headers.daily_remaining, now)
        if headers.remaining is not None and self._max is not None:
            self._expire(now)
            self._reconcile(self._max - headers.remaining, now, sent_at)

    def _reconcile(self, counted: int, now: float, sent_at: float) -> None:
        """Match the finished slots we hold to what the server says its window holds.

        ``counted`` is the server's window when this request arrived, this request included
        ("remaining" after it). Since then, at most the requests answered after this one was
        sent, and those still in flight, can have joined it; in-flight ones hold their slots
        anyway. So holding ``counted`` plus the later answered ones as finished slots is
        enough, and keeping the latest-expiring ones keeps every future window covered. Holding
        more means the server already let the oldest go, and so do we: after a pause or a slow
        spell, slots come back as soon as the server says so. And when the server counts more
        than all we hold, the rest are someone else's requests (another process of this app
        spending the same location's budget), held for one interval.
        """
        answered_later = 0
        for done_at in reversed(self._done):
            if done_at <= sent_at:
                break
            answered_later += 1
        # Safe upper bound of the finished requests the server may still count (see above).
        need = counted + answered_later - 1  # this one is in both
        surplus = len(self._done) + len(self._foreign) - need
        while surplus > 0 and (self._done or self._foreign):
            oldest_done = self._done[0] + self._hold() if self._done else None
            if oldest_done is not None and (not self._foreign or oldest_done <= self._foreign[0]):
                self._done.popleft()
            else:
                self._foreign.popleft()
            surplus -= 1
        # Everything the server counts beyond all we hold is someone else's. (A heuristic: the
        # in-flight requests it already counted are subtracted, as they must be, but so are
        # those it did not count yet, so a little foreign traffic can go unseen.)
        missing = counted - self._in_flight - len(self._done) - len(self._foreign)
        for _ in range(max(0, missing)):
            self._foreign.append(now + self._hold())

    def _learn_daily(self, remaining: int, now: float) -> None:
        # Requests still in flight may or may not be in this count: assume they are not.
        candidate = remaining - self._in_flight
        new_day = self._daily_header is not None and remaining > self._daily_header + max(
            self._max or 0, 100
        )
        if self._daily_left is None or candidate < self._daily_left or new_day:
            self._daily_left = candidate
        self._daily_header = remaining
        self._daily_seen_at = now

    def _hold(self) -> float:
        # A hair past the interval, for the server's and our clocks' rounding.
        return self._interval + max(0.002, self._interval * 0.002)

    def _expire(self, now: float) -> None:
        hold = self._hold()
        while self._done and self._done[0] + hold <= now:
            self._done.popleft()
        while self._foreign and self._foreign[0] <= now:
            self._foreign.popleft()

    def _first_release(self) -> float | None:
        return self._done[0] + self._hold() if self._done else None

    def _first_foreign(self) -> float | None:
        return self._foreign[0] if self._foreign else None


def _int(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(float(value))
    except ValueError:
        return None
