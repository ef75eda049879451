"""The conformance gate: every request a test sends and every answer the sandbox gives, checked.

``Conformance.install(client)`` puts two event hooks on an httpx client (sync or async; put first,
so they run before a client's own hooks, e.g. the official SDK's error hook):

- request: the request is validated against the spec operation it targets. By default it must
  be valid (a test's own mistake fails the test before anything is sent). Inside
  ``invalid_requests()`` it must be INVALID, so a negative test proves it sends what it claims;
  the fuzzer uses ``any_requests()``.
- response: the answer must be a documented status of that operation with a body that matches
  its schema, or be covered by one entry of ``deviations`` (whose body is still validated).
  Every error body also carries ``statusCode`` equal to the HTTP status and a ``message``, and
  every ``/contacts`` answer the five rate-limit headers (HIGHLEVEL.md, 'Limits').

Violations raise ``NonConformance`` (an ``AssertionError``) from inside the client call.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

import httpx
from openapi_core.templating.paths.exceptions import PathError
from openapi_core.templating.paths.finders import APICallPathFinder

from tests.conformance import deviations as dev
from tests.conformance.messages import (
    OpenAPIRequest,
    OpenAPIResponse,
    Problem,
    Wire,
    flatten,
    schema_problems,
)
from tests.conformance.spec import SPEC_SERVER, properties_of, schema_errors, specs

RATE_LIMIT_HEADERS = (
    "X-RateLimit-Max",
    "X-RateLimit-Remaining",
    "X-RateLimit-Interval-Milliseconds",
    "X-RateLimit-Limit-Daily",
    "X-RateLimit-Daily-Remaining",
)


class NonConformance(AssertionError):
    """A request or response that breaks the spec and no documented deviation covers."""


class Mode(enum.Enum):
    VALID = "valid"  # the request must conform
    INVALID = "invalid"  # the request must break the spec, and be refused with a 4xx
    ANY = "any"  # fuzzing: judged, recorded, never refused on its own


@dataclass
class Exchange:
    """One request/response pair as judged."""

    method: str
    path: str
    operation: str | None
    request_problems: list[Problem]
    deviations: set[str] = field(default_factory=set)
    status: int | None = None
    response_problems: list[Problem] = field(default_factory=list)

    @property
    def request_valid(self) -> bool:
        return not self.request_problems

    def describe(self) -> str:
        lines = [f"{self.method.upper()} {self.path} -> {self.status} ({self.operation})"]
        lines += [f"  request: {p}" for p in self.request_problems]
        lines += [f"  response: {p}" for p in self.response_problems]
        return "\n".join(lines)


def _operation_id(wire: Wire) -> str | None:
    api = specs().for_path(wire.path)
    try:
        found = APICallPathFinder(api.spec).find(wire.method, SPEC_SERVER + wire.path)
    except PathError:
        return None
    return str(found.operation["operationId"])


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


class Conformance:
    def __init__(self) -> None:
        self.exchanges: list[Exchange] = []
        self.mode = Mode.VALID
        self.allowed: frozenset[str] = frozenset()
        self._open: dict[int, Exchange] = {}

    # ----- wiring --------------------------------------------------------------------------
    def install(self, client: httpx.AsyncClient | httpx.Client) -> None:
        hooks = client.event_hooks
        if isinstance(client, httpx.AsyncClient):
            hooks["request"] = [self._async_request, *hooks.get("request", [])]
            hooks["response"] = [self._async_response, *hooks.get("response", [])]
        else:
            hooks["request"] = [self.before, *hooks.get("request", [])]
            hooks["response"] = [self._sync_response, *hooks.get("response", [])]
        client.event_hooks = hooks

    async def _async_request(self, request: httpx.Request) -> None:
        self.before(request)

    async def _async_response(self, response: httpx.Response) -> None:
        await response.aread()
        self.after(response)

    def _sync_response(self, response: httpx.Response) -> None:
        response.read()
        self.after(response)

    # ----- modes ---------------------------------------------------------------------------
    @contextmanager
    def _mode(self, mode: Mode) -> Iterator[None]:
        previous, self.mode = self.mode, mode
        try:
            yield
        finally:
            self.mode = previous

    def invalid_requests(self) -> Any:
        """Requests in this block break the spec on purpose; each must be refused (4xx)."""
        return self._mode(Mode.INVALID)

    def any_requests(self) -> Any:
        return self._mode(Mode.ANY)

    @contextmanager
    def allow(self, *keys: str) -> Iterator[None]:
        """Turn on opt-in deviations (``deviations.OPT_IN``), e.g. injected 5xx, for a block."""
        unknown = set(keys) - dev.OPT_IN
        assert not unknown, f"not opt-in deviations: {unknown}"
        previous, self.allowed = self.allowed, self.allowed | frozenset(keys)
        try:
            yield
        finally:
            self.allowed = previous

    # ----- requests ------------------------------------------------------------------------
    def judge_request(self, wire: Wire) -> Exchange:
        operation = _operation_id(wire)
        exchange = Exchange(wire.method, wire.path, operation, [])
        if operation is None and wire.method == "get" and wire.path == dev.CONSENT_PATH:
            exchange.deviations.add(dev.CONSENT_PAGE.key)
            return exchange
        if operation == "get-access-token" and dev.SDK_CAMEL_FORM.key in self.allowed:
            renamed = [
                (dev.CAMEL_FORM_NAMES.get(k, k), v)
                for k, v in parse_qsl(wire.body.decode(), keep_blank_values=True)
            ]
            if urlencode(renamed).encode() != wire.body:
                exchange.deviations.add(dev.SDK_CAMEL_FORM.key)
                wire = wire.with_body(urlencode(renamed).encode())
        api = specs().for_path(wire.path)
        for problem in flatten(api.iter_request_errors(OpenAPIRequest(wire)), "request"):
            leeway = dev.request_leeway(operation or "", problem)
            if leeway is not None:
                exchange.deviations.add(leeway.key)
            else:
                exchange.request_problems.append(problem)
        return exchange

    def before(self, request: httpx.Request) -> None:
        exchange = self.judge_request(Wire.of(request))
        if self.mode is Mode.VALID and not exchange.request_valid:
            raise NonConformance(
                "the test sent a request that breaks the spec:\n" + exchange.describe()
            )
        if self.mode is Mode.INVALID and exchange.request_valid:
            raise NonConformance(
                "a request sent as invalid conforms to the spec (the negative test tests "
                "nothing):\n" + exchange.describe()
            )
        self._open[id(request)] = exchange

    # ----- responses -----------------------------------------------------------------------
    def after(self, response: httpx.Response) -> None:
        exchange = self._open.pop(id(response.request), None)
        if exchange is None:  # a request sent before install(): judge it now
            exchange = self.judge_request(Wire.of(response.request))
        exchange.status = response.status_code
        exchange.response_problems = self.judge_response(exchange, response)
        self.exchanges.append(exchange)
        if exchange.response_problems:
            raise NonConformance("the sandbox answered outside the spec:\n" + exchange.describe())
        if self.mode is Mode.INVALID and not 400 <= response.status_code < 500:
            raise NonConformance(
                "a request that breaks the spec was not refused:\n" + exchange.describe()
            )

    def judge_response(self, exchange: Exchange, response: httpx.Response) -> list[Problem]:
        status = response.status_code
        if dev.CONSENT_PAGE.key in exchange.deviations:
            return self._consent_page(response)
        if exchange.operation is None:
            return self._unknown_route(exchange, response)
        problems: list[Problem] = []
        if exchange.path.startswith("/contacts"):
            problems += [
                Problem("header", f"{name} missing")
                for name in RATE_LIMIT_HEADERS
                if name not in response.headers
            ]
        if status >= 400:
            problems += self._error_basics(response)
        wire = Wire.of(response.request)
        api = specs().for_path(wire.path)
        found = flatten(
            api.iter_response_errors(OpenAPIRequest(wire), OpenAPIResponse(response)), "response"
        )
        for problem in found:
            problems += self._excuse(exchange, response, problem)
        untyped = dev.untyped_response(exchange.operation)
        if untyped is not None and status in untyped.bodies:
            exchange.deviations.add(untyped.key)
            problems += self._body_against(untyped.bodies[status], response)
        return problems

    def _excuse(
        self, exchange: Exchange, response: httpx.Response, problem: Problem
    ) -> list[Problem]:
        """What remains of one openapi-core problem once the deviations have had their say."""
        operation = exchange.operation or ""
        status = response.status_code
        if problem.kind == "status":
            undocumented = dev.undocumented_status(operation, status, self.allowed)
            if undocumented is None:
                return [problem]
            exchange.deviations.add(undocumented.key)
            if status == 502:
                # The gateway's own page, as HighLevel's load balancer sends it.
                ctype = response.headers.get("content-type", "")
                return [] if ctype.startswith("text/html") else [Problem("schema", "502 not HTML")]
            return self._body_against(undocumented.body, response)
        extra = dev.extra_keys(operation, status, problem)
        if extra is None:
            return [problem]
        allowed = extra.keys if extra.keys is not None else properties_of(extra.typed_by or "")
        if not problem.extras <= allowed:
            return [problem]
        exchange.deviations.add(extra.key)
        if extra.typed_by is None or not isinstance(problem.instance, dict):
            return []
        subset = {k: problem.instance[k] for k in problem.extras}
        return schema_problems("schema", schema_errors(extra.typed_by, subset))

    def _body_against(
        self, schema: str | dict[str, Any], response: httpx.Response
    ) -> list[Problem]:
        body = _json(response)
        if body is None:
            return [Problem("schema", f"not JSON: {response.text[:120]!r}")]
        return schema_problems("schema", schema_errors(schema, body))

    def _error_basics(self, response: httpx.Response) -> list[Problem]:
        """Every JSON error names its status and says what went wrong (HIGHLEVEL.md, 'Errors')."""
        if response.headers.get("content-type", "").startswith("text/html"):
            return []  # the 502 gateway page, judged with its deviation
        body = _json(response)
        if not isinstance(body, dict):
            return [Problem("schema", "error body is not a JSON object")]
        problems = []
        if body.get("statusCode") != response.status_code:
            problems.append(
                Problem("schema", f"statusCode {body.get('statusCode')!r} is not the status")
            )
        message = body.get("message")
        if not (isinstance(message, str) and message) and not (
            isinstance(message, list) and message and all(isinstance(m, str) for m in message)
        ):
            problems.append(Problem("schema", f"message {message!r} says nothing"))
        return problems

    def _consent_page(self, response: httpx.Response) -> list[Problem]:
        if response.status_code == 302:
            location = response.headers.get("location", "")
            return [] if "code=" in location else [Problem("header", "302 without ?code=")]
        body_ref = {400: dev.BAD_REQUEST, 422: dev.UNPROCESSABLE}.get(response.status_code)
        if body_ref is None:
            return [Problem("status", f"consent page answered {response.status_code}")]
        return self._error_basics(response) + self._body_against(body_ref, response)

    def _unknown_route(self, exchange: Exchange, response: httpx.Response) -> list[Problem]:
        if self.mode is Mode.VALID:
            return [Problem("route", "no such operation in the spec")]
        exchange.deviations.add(dev.UNKNOWN_ROUTE.key)
        if response.status_code != 404:
            return [Problem("status", f"unknown route answered {response.status_code}")]
        expected = f"Cannot {exchange.method.upper()} {exchange.path}"
        problems = self._error_basics(response) + self._body_against(dev.HTTP_EXCEPTION, response)
        if (_json(response) or {}).get("message") != expected:
            problems.append(Problem("schema", f"message is not {expected!r}"))
        return problems

    # ----- reading the record --------------------------------------------------------------
    def operations_seen(self) -> dict[str, set[int]]:
        seen: dict[str, set[int]] = {}
        for exchange in self.exchanges:
            if exchange.operation and exchange.status is not None:
                seen.setdefault(exchange.operation, set()).add(exchange.status)
        return seen

    def deviations_used(self) -> set[str]:
        return {key for exchange in self.exchanges for key in exchange.deviations}
