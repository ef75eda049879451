"""Version header, bearer tokens, OAuth code flow, refresh rotation, scopes."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx

from reconciler.sandbox.clock import Clock
from reconciler.sandbox.config import READ_SCOPE, WRITE_SCOPE
from reconciler.sandbox.state import Sandbox
from tests.sandbox.conftest import auth


async def test_missing_or_unknown_version_header_is_refused(
    client: httpx.AsyncClient, token: str
) -> None:
    r = await client.get("/contacts/abc", headers=auth(token, version=None))
    assert r.status_code == 400
    assert r.json() == {"statusCode": 400, "message": "Version header was not found"}
    assert r.headers["X-RateLimit-Max"] == "100"
    r = await client.get("/contacts/abc", headers=auth(token, version="2020-01-01"))
    assert r.status_code == 400
    assert r.json()["message"] == "Version header is invalid: 2020-01-01"
    r = await client.get("/contacts/abc", headers=auth(token, version="v3"))
    assert r.status_code == 400  # accepted version; the contact is unknown
    assert r.json()["message"] == "Contact with id abc not found"


async def test_missing_and_unknown_tokens(client: httpx.AsyncClient) -> None:
    r = await client.get("/contacts/abc", headers={"Version": "2021-07-28"})
    assert r.status_code == 401
    assert r.json()["error"] == "Unauthorized"
    r = await client.get("/contacts/abc", headers=auth("pit-nope"))
    assert r.status_code == 401
    assert r.json() == {
        "statusCode": 401,
        "message": "Invalid token: access token is invalid",
        "error": "Unauthorized",
    }


async def test_read_only_token_cannot_write(
    client: httpx.AsyncClient, sandbox: Sandbox, location: str
) -> None:
    read_only = sandbox.private_token(location, scopes=[READ_SCOPE])
    r = await client.post(
        "/contacts/",
        json={"locationId": location, "email": "r@example.com"},
        headers=auth(read_only),
    )
    assert r.status_code == 401
    assert r.json() == {
        "statusCode": 401,
        "message": "The token is not authorized for this scope.",
        "error": "Unauthorized",
    }
    assert sandbox.contacts(location) == []
    # Search is a read.
    r = await client.post(
        "/contacts/search", json={"locationId": location, "pageLimit": 1}, headers=auth(read_only)
    )
    assert r.status_code == 200
    write_only = sandbox.private_token(location, scopes=[WRITE_SCOPE])
    r = await client.get("/contacts/abc", headers=auth(write_only))
    assert r.status_code == 401


async def _authorize(client: httpx.AsyncClient, sandbox: Sandbox, **extra: str) -> str:
    app = sandbox.oauth_app
    params = {
        "response_type": "code",
        "client_id": app.client_id,
        "redirect_uri": app.redirect_uris[0],
        "scope": "contacts.readonly contacts.write",
        "location_id": sandbox.locations[1],
        **extra,
    }
    r = await client.get("/oauth/chooselocation", params=params)
    assert r.status_code == 302, r.text
    target = urlparse(r.headers["location"])
    assert target.geturl().startswith(app.redirect_uris[0])
    return parse_qs(target.query)["code"][0]


async def _token(client: httpx.AsyncClient, **form: str) -> httpx.Response:
    return await client.post("/oauth/token", data=form)


def _form(sandbox: Sandbox, **extra: str) -> dict[str, Any]:
    app = sandbox.oauth_app
    return {
        "client_id": app.client_id,
        "client_secret": app.client_secret,
        "user_type": "Location",
        **extra,
    }


async def test_authorization_code_flow_and_refresh_rotation(
    client: httpx.AsyncClient, sandbox: Sandbox, clock: Clock
) -> None:
    code = await _authorize(client, sandbox)
    r = await _token(
        client,
        **_form(
            sandbox,
            grant_type="authorization_code",
            code=code,
            redirect_uri=sandbox.oauth_app.redirect_uris[0],
        ),
    )
    assert r.status_code == 200, r.text
    tokens = r.json()
    assert tokens["token_type"] == "Bearer"
    assert tokens["expires_in"] == 86399
    assert tokens["scope"] == "contacts.readonly contacts.write"
    assert tokens["userType"] == "Location"
    assert tokens["locationId"] == sandbox.locations[1]
    assert isinstance(tokens["userId"], str)
    assert tokens["access_token"] != tokens["refresh_token"]

    r = await client.get("/contacts/abc", headers=auth(tokens["access_token"]))
    assert r.status_code == 400  # authenticated; unknown contact

    # The code is single use.
    r = await _token(client, **_form(sandbox, grant_type="authorization_code", code=code))
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_grant"

    r = await _token(
        client, **_form(sandbox, grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    )
    assert r.status_code == 200
    rotated = r.json()
    assert rotated["refresh_token"] != tokens["refresh_token"]

    r = await _token(
        client, **_form(sandbox, grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    )
    assert r.status_code == 400
    assert r.json()["statusCode"] == 400
    assert r.json()["message"] == "Invalid grant: refresh token has already been used"

    # Access tokens expire after expires_in.
    clock.advance(86399)
    r = await client.get("/contacts/abc", headers=auth(rotated["access_token"]))
    assert r.status_code == 401
    assert r.json()["message"] == "Invalid JWT"
    r = await _token(
        client, **_form(sandbox, grant_type="refresh_token", refresh_token=rotated["refresh_token"])
    )
    assert r.status_code == 200


async def test_token_endpoint_refusals(client: httpx.AsyncClient, sandbox: Sandbox) -> None:
    r = await _token(client)
    assert r.status_code == 422
    assert set(r.json()["message"]) == {
        "client_id should not be empty",
        "client_secret should not be empty",
        "grant_type should not be empty",
    }
    r = await _token(client, **_form(sandbox, grant_type="password"))
    assert r.status_code == 422
    r = await _token(
        client,
        client_id=sandbox.oauth_app.client_id,
        client_secret="wrong",
        grant_type="refresh_token",
        refresh_token="x",
    )
    assert r.status_code == 401
    r = await _token(client, **_form(sandbox, grant_type="refresh_token", refresh_token="nope"))
    assert r.status_code == 400
    r = await _token(client, **_form(sandbox, grant_type="authorization_code"))
    assert r.json()["message"] == ["code should not be empty"]


async def test_authorize_refusals_and_code_expiry(
    client: httpx.AsyncClient, sandbox: Sandbox, clock: Clock
) -> None:
    r = await client.get(
        "/oauth/chooselocation",
        params={"response_type": "code", "client_id": "nope", "redirect_uri": "http://x"},
    )
    assert r.status_code == 400
    r = await client.get(
        "/oauth/chooselocation",
        params={
            "response_type": "code",
            "client_id": sandbox.oauth_app.client_id,
            "redirect_uri": "http://evil.example/cb",
        },
    )
    assert r.status_code == 400
    code = await _authorize(client, sandbox)
    clock.advance(601)
    r = await _token(client, **_form(sandbox, grant_type="authorization_code", code=code))
    assert r.status_code == 400


async def test_scopes_granted_are_the_ones_asked_for(
    client: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    code = await _authorize(client, sandbox, scope="contacts.readonly")
    r = await _token(client, **_form(sandbox, grant_type="authorization_code", code=code))
    access = r.json()["access_token"]
    location = sandbox.locations[1]
    r = await client.post("/contacts/", json={"locationId": location}, headers=auth(access))
    assert r.status_code == 401
    assert r.json()["message"] == "The token is not authorized for this scope."


async def test_camel_case_form_names_as_the_official_sdk_sends_them(
    client: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    code = await _authorize(client, sandbox)
    r = await _token(client, **_form(sandbox, grant_type="authorization_code", code=code))
    app = sandbox.oauth_app
    r = await _token(
        client,
        clientId=app.client_id,
        clientSecret=app.client_secret,
        grantType="refresh_token",
        refreshToken=r.json()["refresh_token"],
        userType="Location",
    )
    assert r.status_code == 200, r.text
    assert r.json()["locationId"] == sandbox.locations[1]
