"""Time for the connector: one injectable source of "now" and of sleeping.

Pacing, backoff and token expiry all read this, so tests can run a connector faster than real
time (or exactly) without patching anything.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def monotonic(self) -> float:
        """Seconds on a clock that never goes back (pacing windows, backoff)."""
        ...

    def now(self) -> datetime:
        """Aware UTC wall time (token expiry)."""
        ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The real clocks and ``asyncio.sleep``."""

    def monotonic(self) -> float:
        return time.monotonic()

    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))
