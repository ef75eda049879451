"""Fault injection, per location, from a seedable random generator (tests are exact).

Kinds (probabilities in [0, 1], drawn in this fixed order for each API request):
``rate_limit`` (a 429 as the limiter would answer), ``server_error`` (500, 502 or 503 in the
real shapes, nothing applied), ``timeout`` (the request hangs ``timeout_seconds``, then 504;
nothing applied), ``latency`` (adds ``latency_ms`` and goes on), ``error_after_write`` (a write
is applied, then answered 502), ``truncated_page`` (a search page carries fewer hits than
``pageLimit`` while more exist; ``total`` unchanged), ``drop_webhook`` (an event is not sent).
A faulted request either did nothing or was fully applied: faults act only before the handler
runs or after it returned.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from reconciler.sandbox.errors import ApiError


class FaultSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    rate_limit: float = Field(default=0.0, ge=0, le=1)
    server_error: float = Field(default=0.0, ge=0, le=1)
    timeout: float = Field(default=0.0, ge=0, le=1)
    latency: float = Field(default=0.0, ge=0, le=1)
    error_after_write: float = Field(default=0.0, ge=0, le=1)
    truncated_page: float = Field(default=0.0, ge=0, le=1)
    drop_webhook: float = Field(default=0.0, ge=0, le=1)
    latency_ms: int = Field(default=500, ge=0)
    timeout_seconds: float = Field(default=65.0, ge=0)
    seed: int | None = None


@dataclass(frozen=True)
class Plan:
    """What faults one request gets."""

    rate_limit: bool = False
    server_error: int | None = None
    timeout: bool = False
    latency_ms: int = 0
    error_after_write: bool = False
    truncated_page: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class FaultInjector:
    def __init__(self, seed: int | str) -> None:
        self.settings = FaultSettings()
        self._rng = random.Random(f"faults:{seed}")

    def configure(self, **changes: Any) -> FaultSettings:
        merged = self.settings.model_dump() | changes
        self.settings = FaultSettings.model_validate(merged)
        if "seed" in changes and changes["seed"] is not None:
            self._rng = random.Random(f"faults:{changes['seed']}")
        return self.settings

    def _draw(self, probability: float) -> bool:
        # Draw even at probability 0 so the sequence never depends on which kinds are on.
        return self._rng.random() < probability

    def plan(self, *, is_write: bool, is_search: bool) -> Plan:
        s = self.settings
        rate = self._draw(s.rate_limit)
        error = self._draw(s.server_error)
        error_code = self._rng.choice((500, 502, 503))
        timeout = self._draw(s.timeout)
        latency = self._draw(s.latency)
        after_write = self._draw(s.error_after_write)
        truncated = self._draw(s.truncated_page)
        return Plan(
            rate_limit=rate,
            server_error=error_code if error else None,
            timeout=timeout,
            latency_ms=s.latency_ms if latency else 0,
            error_after_write=after_write and is_write,
            truncated_page=truncated and is_search,
        )

    def drop_webhook(self) -> bool:
        return self._draw(self.settings.drop_webhook)


BAD_GATEWAY_HTML = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n</body>\r\n</html>\r\n"
)


def server_error(status: int) -> ApiError:
    """The JSON 5xx answers; 502 is rendered as the gateway's HTML page by the gateway."""
    if status == 503:
        return ApiError(503, "Service Unavailable", error="Service Unavailable")
    return ApiError(status, "Internal server error")
