"""OAuth 2.0 (``apps/oauth.json``): authorization code, rotating refresh, and the refusals."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx

from reconciler.sandbox.clock import Clock
from reconciler.sandbox.state import Sandbox
from tests.conformance.conftest import VERSION
from tests.conformance.validator import Conformance


async def _code(client: httpx.AsyncClient, sandbox: Sandbox, **extra: str) -> str:
    app = sandbox.oauth_app
    params = {
        "response_type": "code",
        "client_id": app.client_id,
        "redirect_uri": app.redirect_uris[0],
        "scope": "contacts.readonly contacts.write",
        **extra,
    }
    r = await client.get("/oauth/chooselocation", params=params)
    assert r.status_code == 302, r.text
    return parse_qs(urlsplit(r.headers["location"]).query)["code"][0]


def _form(sandbox: Sandbox, **fields: str) -> dict[str, str]:
    app = sandbox.oauth_app
    return {"client_id": app.client_id, "client_secret": app.client_secret, **fields}


async def test_code_then_refresh_rotates(
    client: httpx.AsyncClient, sandbox: Sandbox, conformance: Conformance
) -> None:
    code = await _code(client, sandbox)
    r = await client.post(
        "/oauth/token",
        data=_form(sandbox, grant_type="authorization_code", code=code, user_type="Location"),
    )
    assert r.status_code == 200
    first = r.json()
    assert first["expires_in"] == 86399
    assert first["locationId"] == sandbox.locations[0]

    r = await client.get(
        f"/contacts/{'x' * 20}",
        headers={"Authorization": f"Bearer {first['access_token']}", "Version": VERSION},
    )
    assert r.status_code == 400  # authenticated: the id is unknown

    r = await client.post(
        "/oauth/token",
        data=_form(sandbox, grant_type="refresh_token", refresh_token=first["refresh_token"]),
    )
    assert r.status_code == 200
    assert r.json()["refresh_token"] != first["refresh_token"]
    # Spent on use: the old refresh token is refused (invalid_grant).
    r = await client.post(
        "/oauth/token",
        data=_form(sandbox, grant_type="refresh_token", refresh_token=first["refresh_token"]),
    )
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_grant"
    assert "consent-page" in conformance.deviations_used()


async def test_token_refusals(
    client: httpx.AsyncClient, sandbox: Sandbox, clock: Clock, conformance: Conformance
) -> None:
    code = await _code(client, sandbox)
    r = await client.post(
        "/oauth/token",
        data={**_form(sandbox, grant_type="authorization_code", code=code), "client_secret": "no"},
    )
    assert r.status_code == 401
    r = await client.post(
        "/oauth/token", data=_form(sandbox, grant_type="authorization_code", code="unknown")
    )
    assert r.status_code == 400
    r = await client.post("/oauth/token", data=_form(sandbox, grant_type="client_credentials"))
    assert r.status_code == 400
    assert r.json()["error"] == "unsupported_grant_type"
    r = await client.post("/oauth/token", data=_form(sandbox, grant_type="refresh_token"))
    assert r.status_code == 422
    clock.advance(601)
    r = await client.post(
        "/oauth/token", data=_form(sandbox, grant_type="authorization_code", code=code)
    )
    assert r.status_code == 400
    with conformance.invalid_requests():
        r = await client.post("/oauth/token", data={"client_id": "x"})
        assert r.status_code == 422
        r = await client.post("/oauth/token", data=_form(sandbox, grant_type="password"))
        assert r.status_code == 422
        r = await client.post(
            "/oauth/token",
            data=_form(sandbox, grant_type="authorization_code", code="c", user_type="Admin"),
        )
        assert r.status_code == 422


async def test_consent_page_refusals(client: httpx.AsyncClient, sandbox: Sandbox) -> None:
    app = sandbox.oauth_app
    r = await client.get("/oauth/chooselocation", params={"client_id": app.client_id})
    assert r.status_code == 422
    r = await client.get(
        "/oauth/chooselocation",
        params={"response_type": "code", "client_id": app.client_id, "redirect_uri": "http://evil"},
    )
    assert r.status_code == 400


async def test_unknown_routes_answer_nest_404(
    client: httpx.AsyncClient, sandbox: Sandbox, conformance: Conformance
) -> None:
    headers = {"Authorization": f"Bearer {sandbox.private_token(sandbox.locations[0])}"}
    with conformance.invalid_requests():
        r = await client.get("/contacts/x/y/z", headers={**headers, "Version": VERSION})
        assert r.status_code == 404
        r = await client.patch("/contacts/x", headers={**headers, "Version": VERSION})
        assert r.status_code == 404
    assert "unknown-route-404" in conformance.deviations_used()
