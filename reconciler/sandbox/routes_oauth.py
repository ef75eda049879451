"""OAuth 2.0 as ``apps/oauth.json`` and ``docs/oauth/Authorization.md`` describe it.

``GET /oauth/chooselocation`` is the sandbox's stand-in for the marketplace consent page: it takes
``response_type=code``, ``client_id``, ``redirect_uri``, ``scope`` (space separated) and a
sandbox-only ``location_id`` (default: the first location), and redirects (302) to
``redirect_uri?code=...``. ``POST /oauth/token`` is form-encoded, as the spec says.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse

from reconciler.sandbox.errors import bad_request, unprocessable
from reconciler.sandbox.state import Sandbox, UnknownLocationError

router = APIRouter()

CAMEL_FORM_NAMES = {
    "clientId": "client_id",
    "clientSecret": "client_secret",
    "grantType": "grant_type",
    "refreshToken": "refresh_token",
    "userType": "user_type",
    "redirectUri": "redirect_uri",
}


@router.get("/oauth/chooselocation")
async def choose_location(request: Request) -> RedirectResponse:
    sandbox: Sandbox = request.app.state.sandbox
    params = request.query_params
    missing = [
        f"{k} should not be empty"
        for k in ("response_type", "client_id", "redirect_uri")
        if not params.get(k)
    ]
    if missing:
        raise unprocessable(missing)
    if params["response_type"] != "code":
        raise bad_request("response_type must be code")
    app = sandbox.apps.get(params["client_id"])
    if app is None:
        raise bad_request("Invalid client_id")
    redirect_uri = params["redirect_uri"]
    if redirect_uri not in app.redirect_uris:
        raise bad_request("redirect_uri is not registered for this app")
    location_id = params.get("location_id") or sandbox.locations[0]
    try:
        sandbox.location(location_id)
    except UnknownLocationError:
        raise bad_request(f"Location with id {location_id} not found") from None
    code = sandbox.tokens.authorize(app.client_id, redirect_uri, params.get("scope"), location_id)
    sandbox.saver.mark_dirty()
    answer = {"code": code}
    if params.get("state"):
        answer["state"] = params["state"]
    separator = "&" if "?" in redirect_uri else "?"
    return RedirectResponse(f"{redirect_uri}{separator}{urlencode(answer)}", status_code=302)


@router.post("/oauth/token")
async def token(request: Request) -> JSONResponse:
    sandbox: Sandbox = request.app.state.sandbox
    raw = await request.body()
    try:
        form = dict(parse_qsl(raw.decode("utf-8"), keep_blank_values=True))
    except UnicodeDecodeError:
        raise bad_request("The body must be application/x-www-form-urlencoded") from None
    # HighLevel's own SDK refreshes with camelCase names (refreshToken, clientId...): the
    # token endpoint takes both spellings.
    form = {CAMEL_FORM_NAMES.get(k, k): v for k, v in form.items()}
    answer = sandbox.tokens.exchange(form)
    sandbox.saver.mark_dirty()
    return JSONResponse(answer)
