"""Sandbox-only endpoints under ``/sandbox/``.

``GET /sandbox/webhook-keys`` is public (the webhook signing public keys, PEM). Everything under
``/sandbox/admin/`` needs the ``X-Sandbox-Admin-Key`` header: faults and settings per location,
webhook URLs, private integration tokens, the clock, and a state export (without secrets).
"""

from __future__ import annotations

import hmac
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from reconciler.sandbox.config import CONTACT_SCOPES
from reconciler.sandbox.errors import (
    bad_request,
    messages_from,
    parse_json,
    unauthorized,
    unprocessable,
    validate,
)
from reconciler.sandbox.state import Sandbox, UnknownLocationError

ADMIN_HEADER = "X-Sandbox-Admin-Key"


def sandbox_of(request: Request) -> Sandbox:
    sandbox: Sandbox = request.app.state.sandbox
    return sandbox


def admin_only(request: Request) -> Sandbox:
    sandbox = sandbox_of(request)
    given = request.headers.get(ADMIN_HEADER, "")
    if not hmac.compare_digest(given.encode(), sandbox.admin_key.encode()):
        raise unauthorized(f"{ADMIN_HEADER} is missing or wrong")
    return sandbox


public = APIRouter()
router = APIRouter(prefix="/sandbox/admin", dependencies=[Depends(admin_only)])


@public.get("/sandbox/webhook-keys")
async def webhook_keys(request: Request) -> JSONResponse:
    return JSONResponse(sandbox_of(request).public_keys())


@public.get("/sandbox/webhook-keys/{kind}.pem")
async def webhook_key_pem(kind: str, request: Request) -> PlainTextResponse:
    keys = sandbox_of(request).public_keys()
    if kind not in keys:
        raise bad_request("kind must be ed25519 or rsa")
    return PlainTextResponse(keys[kind], media_type="application/x-pem-file")


def _location(sandbox: Sandbox, location_id: str) -> None:
    try:
        sandbox.location(location_id)
    except UnknownLocationError:
        raise bad_request(f"Location with id {location_id} not found") from None


async def _changes(request: Request) -> dict[str, Any]:
    data = parse_json(await request.body())
    if not isinstance(data, dict):
        raise unprocessable(["request body must be an object"])
    return data


@router.get("/locations")
async def list_locations(request: Request) -> JSONResponse:
    sandbox = sandbox_of(request)
    return JSONResponse(
        {
            "locations": [
                {
                    "id": loc_id,
                    "name": sandbox.location(loc_id).name,
                    "settings": sandbox.location(loc_id).settings.model_dump(),
                    "faults": sandbox.faults[loc_id].settings.model_dump(),
                }
                for loc_id in sandbox.locations
            ]
        }
    )


@router.patch("/locations/{locationId}/faults")
async def set_faults(locationId: str, request: Request) -> JSONResponse:
    sandbox = sandbox_of(request)
    _location(sandbox, locationId)
    try:
        settings = sandbox.set_faults(locationId, **await _changes(request))
    except ValidationError as exc:
        raise unprocessable(messages_from(exc)) from exc
    return JSONResponse(settings.model_dump())


@router.patch("/locations/{locationId}/settings")
async def update_settings(locationId: str, request: Request) -> JSONResponse:
    sandbox = sandbox_of(request)
    _location(sandbox, locationId)
    try:
        settings = sandbox.update_settings(locationId, **await _changes(request))
    except ValidationError as exc:
        raise unprocessable(messages_from(exc)) from exc
    return JSONResponse(settings.model_dump())


class TokenRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    scopes: list[str] = Field(default_factory=lambda: list(CONTACT_SCOPES))


@router.post("/locations/{locationId}/private-tokens", status_code=201)
async def issue_private_token(locationId: str, request: Request) -> JSONResponse:
    sandbox = sandbox_of(request)
    _location(sandbox, locationId)
    body = validate(TokenRequest, parse_json(await request.body()))
    token = sandbox.private_token(locationId, body.scopes)
    return JSONResponse(
        {"token": token, "locationId": locationId, "scopes": body.scopes}, status_code=201
    )


class WebhookRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    url: str = Field(min_length=8, pattern=r"^https?://")
    client_id: str | None = None


@router.post("/webhooks", status_code=201)
async def add_webhook(request: Request) -> JSONResponse:
    sandbox = sandbox_of(request)
    body = validate(WebhookRequest, parse_json(await request.body()))
    if body.client_id is not None and body.client_id not in sandbox.apps:
        raise bad_request(f"App with client_id {body.client_id} not found")
    sandbox.add_webhook(body.url, body.client_id)
    return JSONResponse(
        {cid: app.webhook_urls for cid, app in sandbox.apps.items()}, status_code=201
    )


class AdvanceRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    seconds: float = Field(ge=0, le=10 * 365 * 86400)


@router.post("/clock/advance")
async def advance_clock(request: Request) -> JSONResponse:
    sandbox = sandbox_of(request)
    body = validate(AdvanceRequest, parse_json(await request.body()))
    sandbox.clock.advance(body.seconds)
    return JSONResponse({"now": sandbox.clock.iso()})


@router.get("/state")
async def export_state(request: Request) -> JSONResponse:
    return JSONResponse(sandbox_of(request).export_state())
