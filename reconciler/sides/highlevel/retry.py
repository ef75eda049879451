"""How long to wait before trying again: exponential backoff with full jitter.

Full jitter (a uniform draw between zero and the exponential cap) spreads the retries of many
concurrent requests that failed together, instead of having them collide again in step.
A server's ``Retry-After`` is a floor: we never come back sooner than it asked.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 6  # attempts per request, the first included
    base_delay: float = 0.5  # seconds; the cap doubles per attempt from here
    max_delay: float = 30.0
    # A Retry-After longer than this (a spent daily quota says "tomorrow") is not waited for:
    # the error goes to the caller at once.
    max_retry_after: float = 120.0
    # Before looking for the effect of an uncertain create, let the search index catch up
    # (HighLevel's search lags writes by seconds).
    lookup_delay: float = 2.0
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("RetryPolicy.max_attempts must be at least 1")
        if min(self.base_delay, self.max_delay, self.lookup_delay, self.max_retry_after) < 0:
            raise ValueError("RetryPolicy delays must not be negative")

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (0-based)."""
        cap = min(self.max_delay, self.base_delay * (2**attempt))
        jittered = self.rng.uniform(0.0, cap)
        if retry_after is not None:
            return max(retry_after, jittered)
        return jittered
