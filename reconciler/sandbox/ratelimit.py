"""HighLevel's rate limits: per app per location, a burst window and a daily quota.

The burst window is a sliding log: at most ``max`` requests in ANY interval of
``interval`` seconds, so a client that paces itself on the headers never sees a 429. Refused
requests are not logged (they did not happen). The daily quota counts per UTC day.
Headers on every answer: ``X-RateLimit-Max``, ``X-RateLimit-Remaining``,
``X-RateLimit-Interval-Milliseconds``, ``X-RateLimit-Limit-Daily``,
``X-RateLimit-Daily-Remaining``; a 429 adds ``Retry-After`` (whole seconds).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

from reconciler.sandbox.clock import Clock

DAY = 86400


@dataclass(frozen=True)
class Limits:
    max: int
    interval_seconds: float
    daily: int


@dataclass
class _Bucket:
    log: deque[float] = field(default_factory=deque)
    day: int = -1
    used_today: int = 0


@dataclass(frozen=True)
class Decision:
    allowed: bool
    headers: dict[str, str]


def headers_for(limits: Limits, remaining: int, daily_remaining: int) -> dict[str, str]:
    return {
        "X-RateLimit-Max": str(limits.max),
        "X-RateLimit-Remaining": str(max(0, remaining)),
        "X-RateLimit-Interval-Milliseconds": str(int(limits.interval_seconds * 1000)),
        "X-RateLimit-Limit-Daily": str(limits.daily),
        "X-RateLimit-Daily-Remaining": str(max(0, daily_remaining)),
    }


class RateLimiter:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._buckets: dict[tuple[str, str], _Bucket] = {}

    def _bucket(self, app: str, location_id: str, limits: Limits) -> _Bucket:
        bucket = self._buckets.setdefault((app, location_id), _Bucket())
        now = self.clock.now()
        while bucket.log and bucket.log[0] <= now - limits.interval_seconds:
            bucket.log.popleft()
        today = int(now // DAY)
        if bucket.day != today:
            bucket.day, bucket.used_today = today, 0
        return bucket

    def hit(self, app: str, location_id: str, limits: Limits) -> Decision:
        """Count one request, or refuse it (429) when either limit is spent."""
        bucket = self._bucket(app, location_id, limits)
        now = self.clock.now()
        if bucket.used_today >= limits.daily:
            wait = (bucket.day + 1) * DAY - now
            return self._refuse(bucket, limits, wait)
        if len(bucket.log) >= limits.max:
            wait = bucket.log[0] + limits.interval_seconds - now
            return self._refuse(bucket, limits, wait)
        bucket.log.append(now)
        bucket.used_today += 1
        return Decision(
            True,
            headers_for(limits, limits.max - len(bucket.log), limits.daily - bucket.used_today),
        )

    def peek(self, app: str, location_id: str, limits: Limits) -> dict[str, str]:
        """Headers without counting (answers refused before the limiter, e.g. a bad Version)."""
        bucket = self._bucket(app, location_id, limits)
        return headers_for(limits, limits.max - len(bucket.log), limits.daily - bucket.used_today)

    def _refuse(self, bucket: _Bucket, limits: Limits, wait: float) -> Decision:
        headers = headers_for(
            limits, limits.max - len(bucket.log), limits.daily - bucket.used_today
        )
        headers["Retry-After"] = str(max(1, math.ceil(wait)))
        return Decision(False, headers)
