"""Clocks for connector tests: faster than real time, or reading the sandbox's clock."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

from reconciler.sandbox.clock import Clock as SandboxClock


class FastClock:
    """Real time sped up ``speed`` times: sleeping 1 s takes 1/speed s, and the monotonic
    clock moves on accordingly, so backoff, ``Retry-After`` and pacing keep their proportions.

    Only for tests whose server does not pace in real time (its limits raised out of reach).
    """

    def __init__(self, speed: float = 1000.0) -> None:
        self._speed = speed
        self._start = time.monotonic()
        self.slept = 0.0  # virtual seconds asked for

    def monotonic(self) -> float:
        return (time.monotonic() - self._start) * self._speed

    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep(self, seconds: float) -> None:
        self.slept += max(0.0, seconds)
        await asyncio.sleep(max(0.0, seconds) / self._speed)


class SandboxTimeClock:
    """Wall time read from the sandbox's clock (token expiry agrees with the server's), real
    monotonic time and real sleeps (pacing agrees with the server's rate windows)."""

    def __init__(self, sandbox_clock: SandboxClock) -> None:
        self._clock = sandbox_clock

    def monotonic(self) -> float:
        return time.monotonic()

    def now(self) -> datetime:
        return datetime.fromtimestamp(self._clock.now(), UTC)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class ManualClock:
    """Virtual time that moves only when a coroutine sleeps (single-task unit tests)."""

    def __init__(self) -> None:
        self.t = 0.0
        self.wall = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

    def monotonic(self) -> float:
        return self.t

    def now(self) -> datetime:
        return self.wall

    async def sleep(self, seconds: float) -> None:
        self.t += max(0.0, seconds)
        await asyncio.sleep(0)
