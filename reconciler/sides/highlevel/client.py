"""The HTTP boundary to one HighLevel location: the only module here that handles httpx.

Every call goes through the location's ``RateBudget``, carries the bearer token and the
``Version`` header, and comes back as parsed JSON or as one of ``reconciler.errors``:

- 401: the credentials are refreshed once and the call is repeated; a second 401 is ``AuthError``;
- 429, 5xx, timeouts, dropped connections: retried with backoff and full jitter, honouring
  ``Retry-After`` (a 429 also pauses the whole budget);
- EXCEPT for a write that is not idempotent (creates): a 5xx or a timeout there may have been
  applied, so it raises ``UncertainWriteError`` at once and the caller looks for the write's
  effect before repeating it. A 429, or a connection that was never made, applied nothing and
  is retried like any other;
- other 4xx: permanent, never retried: ``NotFoundError`` (404, or 400 "... not found" as
  HighLevel answers), ``DuplicateContactError`` (400 with ``meta.contactId``), ``AuthError`` (403),
  ``PermanentItemError`` (the rest, with the server's message).

Accounting (``SideUsage``): ``requests`` counts every request sent, per endpoint label, retries
included; ``retries`` the repeated attempts; ``rate_limited`` the 429s; ``errors`` the errors
this boundary raised, by class.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote

import httpx

from reconciler.errors import (
    AuthError,
    DuplicateContactError,
    FatalRunError,
    MalformedDataError,
    NotFoundError,
    PermanentItemError,
    RateLimitedError,
    RetriableError,
    SideError,
    UncertainWriteError,
)
from reconciler.sides.base import SideUsage
from reconciler.sides.highlevel.auth import Credentials
from reconciler.sides.highlevel.clock import Clock
from reconciler.sides.highlevel.rate import RateBudget, RateHeaders
from reconciler.sides.highlevel.retry import RetryPolicy

API_VERSION = "2021-07-28"
_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_MESSAGE_LIMIT = 300

# Failures that happen before a request leaves: nothing can have been applied.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
# Failures of our own making (bad URL scheme, bad header): retrying cannot help.
_CLIENT_BUGS = (httpx.UnsupportedProtocol, httpx.LocalProtocolError, httpx.InvalidURL)


def segment(value: str) -> str:
    """One path segment from an id, refused unless it looks like an id.

    HighLevel ids are 20 letters and digits; anything with a slash, a dot-dot or a control
    character came from corrupt data and must never reach another route. Refused as a
    permanent error for that item (never "not found", which would read as a deletion).
    """
    if not _ID.fullmatch(value):
        raise PermanentItemError(f"not a HighLevel id: {value[:40]!r}")
    return quote(value, safe="")


# 401s that a refreshed token cannot cure (missing scope, wrong location): no refresh spent.
_NOT_A_TOKEN_PROBLEM = ("not authorized for this scope", "does not have access to this location")


class _Unauthorized(Exception):
    """A 401 for ``token``: refresh once and repeat (internal to this module)."""

    def __init__(self, token: str, message: str) -> None:
        super().__init__(message)
        self.token = token


class LocationClient:
    """Authenticated, paced, retrying JSON calls to one location."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        base_url: str,
        credentials: Credentials,
        budget: RateBudget,
        retry: RetryPolicy,
        clock: Clock,
        usage: SideUsage,
        side_name: str,
    ) -> None:
        self._http = http
        self._base = base_url.rstrip("/")
        self._credentials = credentials
        self._budget = budget
        self._retry = retry
        self._clock = clock
        self._usage = usage
        self._side = side_name

    @property
    def retry(self) -> RetryPolicy:
        return self._retry

    @property
    def clock(self) -> Clock:
        return self._clock

    async def call(
        self,
        method: str,
        path: str,
        *,
        label: str,
        body: Mapping[str, Any] | None = None,
        idempotent: bool = True,
    ) -> dict[str, Any]:
        """One API call; ``path`` must already be quoted (see ``segment``)."""
        try:
            return await self._call(method, path, label, body, idempotent)
        except SideError as exc:
            exc.side = exc.side or self._side
            exc.endpoint = exc.endpoint or label
            name = type(exc).__name__
            self._usage.errors[name] = self._usage.errors.get(name, 0) + 1
            raise

    async def _call(
        self,
        method: str,
        path: str,
        label: str,
        body: Mapping[str, Any] | None,
        idempotent: bool,
    ) -> dict[str, Any]:
        attempt = 0
        rejected_token: str | None = None
        refreshed = False
        while True:
            try:
                if rejected_token is not None:
                    await self._credentials.refreshed(rejected_token)
                    rejected_token = None
                token = await self._credentials.bearer()
                response = await self._send(method, path, label, body, token, idempotent)
                return self._result(response, label, idempotent, token)
            except _Unauthorized as exc:
                if refreshed:
                    raise AuthError(f"401 after a token refresh: {exc}", status=401) from exc
                refreshed = True
                rejected_token = exc.token
            except UncertainWriteError:
                raise  # the caller must look for the effect first
            except RetriableError as exc:
                attempt += 1
                if attempt >= self._retry.max_attempts:
                    raise
                if exc.retry_after is not None and exc.retry_after > self._retry.max_retry_after:
                    raise  # told to come back much later: the caller decides, we do not hang
                self._usage.retries += 1
                await self._clock.sleep(self._retry.delay(attempt - 1, exc.retry_after))

    async def _send(
        self,
        method: str,
        path: str,
        label: str,
        body: Mapping[str, Any] | None,
        token: str,
        idempotent: bool,
    ) -> httpx.Response:
        headers = {
            "Authorization": f"Bearer {token}",
            "Version": API_VERSION,
            "Accept": "application/json",
        }
        async with self._budget.slot() as slot:
            self._usage.requests[label] = self._usage.requests.get(label, 0) + 1
            try:
                response = await self._http.request(
                    method, self._base + path, headers=headers, json=body
                )
            except _NOT_SENT as exc:
                raise RetriableError(f"{type(exc).__name__}: connection failed") from exc
            except _CLIENT_BUGS as exc:
                raise FatalRunError(f"cannot send to {self._base}: {exc}") from exc
            except httpx.HTTPError as exc:
                # Timed out or dropped after sending: the server may have acted on it.
                error = RetriableError if idempotent else UncertainWriteError
                raise error(f"{type(exc).__name__} after sending") from exc
            slot.observe(response.headers)
        self._usage.budget_remaining_daily = self._budget.daily_remaining
        return response

    def _result(
        self, response: httpx.Response, label: str, idempotent: bool, token: str
    ) -> dict[str, Any]:
        status = response.status_code
        if 200 <= status < 300:
            return self._json(response, idempotent)
        message = _message(response)
        if status == 401:
            if any(hint in message.lower() for hint in _NOT_A_TOKEN_PROBLEM):
                raise AuthError(f"401 {message}", status=status)  # a new token would not help
            raise _Unauthorized(token, message)
        if status == 429:
            self._usage.rate_limited += 1
            retry_after = _retry_after(response.headers)
            self._budget.pause(retry_after if retry_after is not None else self._budget.interval)
            raise RateLimitedError(f"429 {message}", retry_after=retry_after, status=status)
        if status >= 500:
            error = RetriableError if idempotent else UncertainWriteError
            raise error(f"{status} {message}", status=status)
        if status == 403:
            raise AuthError(f"403 {message}", status=status)
        data = _json_or_empty(response)
        meta = data.get("meta") if isinstance(data, dict) else None
        if status == 400 and isinstance(meta, dict) and isinstance(meta.get("contactId"), str):
            raise DuplicateContactError(
                f"400 {message}", existing_id=meta["contactId"], status=status
            )
        if status == 404 and message.startswith("Cannot "):
            # NestJS's answer to an unknown route: our bug, not a missing record.
            raise FatalRunError(f"404 {message}", status=status)
        if status == 404 or (status in (400, 422) and "not found" in message.lower()):
            raise NotFoundError(f"{status} {message}", status=status)
        raise PermanentItemError(f"{status} {message}", status=status)

    def _json(self, response: httpx.Response, idempotent: bool) -> dict[str, Any]:
        if not response.content:
            return {}
        try:
            data = response.json()
        except ValueError as exc:
            error = RetriableError if idempotent else UncertainWriteError
            raise error(f"{response.status_code} with a body that is not JSON") from exc
        if not isinstance(data, dict):
            raise MalformedDataError(f"expected a JSON object, got {type(data).__name__}")
        return data


def _json_or_empty(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return {}


def _message(response: httpx.Response) -> str:
    data = _json_or_empty(response)
    message = data.get("message") if isinstance(data, dict) else None
    if isinstance(message, list):
        message = "; ".join(str(m) for m in message)
    if message is None:
        message = response.reason_phrase or response.text
    if not isinstance(message, str):
        message = json.dumps(message)
    return message[:_MESSAGE_LIMIT]


def _retry_after(headers: Mapping[str, str]) -> float | None:
    value = headers.get("retry-after")
    if value is not None:
        try:
            return max(0.0, float(value))
        except ValueError:
            pass
        try:
            moment = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            moment = None
        if moment is not None:
            return max(0.0, (moment - datetime.now(UTC)).total_seconds())
    rate = RateHeaders.parse(headers)
    if rate.remaining == 0 and rate.interval is not None:
        return rate.interval
    return None
