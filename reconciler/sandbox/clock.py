"""The sandbox's clock: one injected source of "now" for every time-dependent rule.

Rate windows, token expiry, ``dateAdded``/``dateUpdated``, search lag, OAuth code expiry and
webhook timestamps all read this clock, so tests move time with ``advance()`` instead of sleeping.
A frozen clock stands still between advances (exact tests); a running clock follows the wall
clock plus whatever was advanced (the CLI and the demo).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime


class Clock:
    """Seconds since the epoch, as a float, that tests can move forward."""

    def __init__(self, start: float | None = None, *, frozen: bool = False) -> None:
        self._frozen = frozen
        base = time.time() if start is None else start
        # A running clock keeps its offset from the wall clock; a frozen one keeps its value.
        self._value = base
        self._offset = base - time.time()

    @classmethod
    def frozen_at(cls, iso: str = "2026-01-05T09:00:00Z") -> Clock:
        """A frozen clock set to an ISO 8601 instant (UTC): the default for tests."""
        return cls(parse_iso(iso), frozen=True)

    @property
    def frozen(self) -> bool:
        return self._frozen

    def now(self) -> float:
        if self._frozen:
            return self._value
        return time.time() + self._offset

    def now_ms(self) -> int:
        return round(self.now() * 1000)

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("the sandbox clock only moves forward")
        self._value += seconds
        self._offset += seconds

    def iso(self) -> str:
        return iso_from_ms(self.now_ms())


def iso_from_ms(ms: int) -> str:
    """HighLevel's timestamp format: ISO 8601 UTC with milliseconds and a ``Z``."""
    moment = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return f"{moment.year:04d}-" + moment.strftime("%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def parse_iso(text: str) -> float:
    """Parse an ISO 8601 instant (``Z`` or an offset; a bare date means midnight UTC)."""
    cleaned = text.strip()
    if cleaned.endswith(("Z", "z")):
        cleaned = cleaned[:-1] + "+00:00"
    moment = datetime.fromisoformat(cleaned)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()
