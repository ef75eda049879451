"""The API gateway in front of the contacts routes: Version, auth, rate limits, scopes, faults.

Order for ``/contacts...`` requests: Version header, bearer token, rate limit (per app per
location), scope (reads need ``contacts.readonly``, writes ``contacts.write``; search is a
read), then injected faults, then the route. Every answer carries the rate-limit headers:
the caller's bucket once known, otherwise the location-independent defaults (not counted).

Version refusal (decided from the spec, where ``Version`` is a required header parameter of
every operation, and every operation documents 400): a missing ``Version`` answers 400
``{statusCode, message: "Version header was not found"}``, an unknown one 400
``Version header is invalid: <value>``. Accepted: ``2021-07-28`` and ``v3``.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from reconciler.sandbox.auth import Grant, require_scope
from reconciler.sandbox.config import READ_SCOPE, WRITE_SCOPE
from reconciler.sandbox.errors import ApiError, bad_request
from reconciler.sandbox.faults import BAD_GATEWAY_HTML, Plan, server_error
from reconciler.sandbox.state import Sandbox
from reconciler.sandbox.store import Location

log = logging.getLogger(__name__)
VERSIONS = frozenset({"2021-07-28", "v3"})
API_PREFIX = "/contacts"

CallNext = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True)
class Call:
    """What a route handler knows about the request it serves."""

    sandbox: Sandbox
    grant: Grant
    location: Location
    plan: Plan
    trace_id: str = field(default_factory=lambda: str(uuid.uuid4()))


def current(request: Request) -> Call:
    call = getattr(request.state, "call", None)
    if not isinstance(call, Call):
        raise ApiError(401, "Invalid token: access token is missing", error="Unauthorized")
    return call


def check_version(value: str | None) -> None:
    if not value:
        raise bad_request("Version header was not found")
    if value.strip() not in VERSIONS:
        raise bad_request(f"Version header is invalid: {value}")


def is_write(request: Request) -> bool:
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return False
    return request.url.path.rstrip("/") != "/contacts/search"


def _bad_gateway() -> Response:
    return Response(BAD_GATEWAY_HTML, status_code=502, media_type="text/html")


async def gateway(request: Request, call_next: CallNext) -> Response:
    sandbox: Sandbox = request.app.state.sandbox
    if not request.url.path.startswith(API_PREFIX):
        response = await call_next(request)
        limits = sandbox.default_limits()
        response.headers.update(sandbox.limiter.peek("-", "-", limits))
        return response

    defaults = sandbox.limiter.peek("-", "-", sandbox.default_limits())
    try:
        check_version(request.headers.get("Version"))
        grant = sandbox.tokens.authenticate(request.headers.get("Authorization"))
        location = sandbox.location(grant.location_id)
    except ApiError as exc:
        exc.headers.update(defaults)
        return exc.response()

    decision = sandbox.limiter.hit(grant.app, location.id, sandbox.limits_for(location.id))
    headers = decision.headers
    if not decision.allowed:
        return JSONResponse(
            {"statusCode": 429, "message": "Too Many Requests"}, status_code=429, headers=headers
        )
    write = is_write(request)
    try:
        require_scope(grant, WRITE_SCOPE if write else READ_SCOPE)
    except ApiError as exc:
        exc.headers.update(headers)
        return exc.response()

    faults = sandbox.faults[location.id]
    search = request.url.path.rstrip("/") == "/contacts/search"
    plan = faults.plan(is_write=write, is_search=search)
    faulted = await _faulted(plan, faults.settings.timeout_seconds)
    if faulted is not None:
        response = faulted
    else:
        request.state.call = Call(sandbox, grant, location, plan)
        try:
            response = await call_next(request)
        except Exception:
            # A sandbox bug: still HighLevel's 500 shape, and still the rate-limit headers.
            log.exception("sandbox bug on %s %s", request.method, request.url.path)
            response = server_error(500).response()
        if plan.error_after_write and 200 <= response.status_code < 300:
            # The write above was applied in full; only the answer is lost.
            response = _bad_gateway()
    response.headers.update(headers)
    return response


async def _faulted(plan: Plan, timeout_seconds: float) -> Response | None:
    """The answer a pre-handler fault gives, or None when the route should run."""
    if plan.latency_ms:
        await asyncio.sleep(plan.latency_ms / 1000)
    if plan.timeout:
        await asyncio.sleep(timeout_seconds)
        return JSONResponse({"statusCode": 504, "message": "Gateway Timeout"}, status_code=504)
    if plan.rate_limit:
        return JSONResponse(
            {"statusCode": 429, "message": "Too Many Requests"},
            status_code=429,
            headers={"Retry-After": "1"},
        )
    if plan.server_error is not None:
        if plan.server_error == 502:
            return _bad_gateway()
        return server_error(plan.server_error).response()
    return None
