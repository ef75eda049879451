"""Rate limits per app per location: sliding burst window, daily quota, headers everywhere."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import httpx

from reconciler.sandbox.clock import Clock
from reconciler.sandbox.config import AppConfig
from reconciler.sandbox.state import Sandbox
from tests.sandbox.conftest import auth, make_config

RATE_HEADERS = (
    "X-RateLimit-Max",
    "X-RateLimit-Remaining",
    "X-RateLimit-Interval-Milliseconds",
    "X-RateLimit-Limit-Daily",
    "X-RateLimit-Daily-Remaining",
)


async def test_burst_over_100_in_10_seconds_is_429_only_for_that_bucket(
    client: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    first, second = sandbox.locations
    token_a = sandbox.private_token(first)
    token_b = sandbox.private_token(second)
    body = {"locationId": first, "pageLimit": 1}
    for i in range(100):
        r = await client.post("/contacts/search", json=body, headers=auth(token_a))
        assert r.status_code == 200
        assert r.headers["X-RateLimit-Remaining"] == str(99 - i)
    r = await client.post("/contacts/search", json=body, headers=auth(token_a))
    assert r.status_code == 429
    assert r.json() == {"statusCode": 429, "message": "Too Many Requests"}
    for name in RATE_HEADERS:
        assert name in r.headers
    assert r.headers["X-RateLimit-Remaining"] == "0"
    assert r.headers["X-RateLimit-Max"] == "100"
    assert r.headers["X-RateLimit-Interval-Milliseconds"] == "10000"
    assert r.headers["X-RateLimit-Daily-Remaining"] == str(200_000 - 100)
    assert int(r.headers["Retry-After"]) >= 1
    # Another location is another bucket.
    r = await client.post(
        "/contacts/search", json={"locationId": second, "pageLimit": 1}, headers=auth(token_b)
    )
    assert r.status_code == 200
    assert r.headers["X-RateLimit-Remaining"] == "99"


async def test_another_app_on_the_same_location_has_its_own_bucket(clock: Clock) -> None:
    from reconciler.sandbox.app import create_app

    apps = [
        AppConfig(client_id="app-one", client_secret="s1", redirect_uris=["http://cb"]),
        AppConfig(client_id="app-two", client_secret="s2", redirect_uris=["http://cb"]),
    ]
    app = create_app(make_config(clock, apps=apps, rate_limit_max=3))
    sandbox: Sandbox = app.state.sandbox
    location = sandbox.locations[0]
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://s") as client:
        tokens = {}
        for app_config in apps:
            r = await client.get(
                "/oauth/chooselocation",
                params={
                    "response_type": "code",
                    "client_id": app_config.client_id,
                    "redirect_uri": "http://cb",
                    "location_id": location,
                },
            )
            code = parse_qs(urlparse(r.headers["location"]).query)["code"][0]
            r = await client.post(
                "/oauth/token",
                data={
                    "client_id": app_config.client_id,
                    "client_secret": app_config.client_secret,
                    "grant_type": "authorization_code",
                    "code": code,
                },
            )
            tokens[app_config.client_id] = r.json()["access_token"]
        statuses = [
            (await client.get("/contacts/x", headers=auth(tokens["app-one"]))).status_code
            for _ in range(4)
        ]
        assert statuses == [400, 400, 400, 429]
        r = await client.get("/contacts/x", headers=auth(tokens["app-two"]))
        assert r.status_code == 400
        assert r.headers["X-RateLimit-Remaining"] == "2"
    await sandbox.aclose()


async def test_window_slides(client: httpx.AsyncClient, sandbox: Sandbox, clock: Clock) -> None:
    location = sandbox.locations[0]
    sandbox.update_settings(location, rate_limit_max=4, rate_limit_interval_seconds=10)
    headers = auth(sandbox.private_token(location))
    for _ in range(2):
        assert (await client.get("/contacts/x", headers=headers)).status_code == 400
    clock.advance(6)
    for _ in range(2):
        assert (await client.get("/contacts/x", headers=headers)).status_code == 400
    r = await client.get("/contacts/x", headers=headers)
    assert r.status_code == 429
    assert r.headers["Retry-After"] == "4"
    clock.advance(4)  # the first two left the window; the last two have not
    r = await client.get("/contacts/x", headers=headers)
    assert r.status_code == 400
    assert r.headers["X-RateLimit-Remaining"] == "1"


async def test_a_client_pacing_on_the_headers_gets_no_429(
    client: httpx.AsyncClient, sandbox: Sandbox, clock: Clock
) -> None:
    location = sandbox.locations[0]
    headers = auth(sandbox.private_token(location))
    statuses = []
    for _ in range(450):
        r = await client.get("/contacts/x", headers=headers)
        statuses.append(r.status_code)
        remaining = int(r.headers["X-RateLimit-Remaining"])
        interval = int(r.headers["X-RateLimit-Interval-Milliseconds"]) / 1000
        limit = int(r.headers["X-RateLimit-Max"])
        # Spread what is left evenly over the window, as a careful client does.
        clock.advance(interval / limit if remaining > 0 else interval)
    assert 429 not in statuses


async def test_daily_quota(client: httpx.AsyncClient, sandbox: Sandbox, clock: Clock) -> None:
    location = sandbox.locations[0]
    sandbox.update_settings(location, rate_limit_daily=3)
    headers = auth(sandbox.private_token(location))
    for expected in ("2", "1", "0"):
        r = await client.get("/contacts/x", headers=headers)
        assert r.headers["X-RateLimit-Daily-Remaining"] == expected
        assert r.headers["X-RateLimit-Limit-Daily"] == "3"
    r = await client.get("/contacts/x", headers=headers)
    assert r.status_code == 429
    # 2026-01-05T09:00 UTC: the day ends in 15 hours.
    assert r.headers["Retry-After"] == str(15 * 3600)
    clock.advance(15 * 3600)
    assert (await client.get("/contacts/x", headers=headers)).status_code == 400


async def test_headers_on_every_answer(client: httpx.AsyncClient, token: str) -> None:
    for response in (
        await client.get("/contacts/x", headers=auth(token)),
        await client.get("/contacts/x"),
        await client.get("/sandbox/webhook-keys"),
        await client.post("/oauth/token", data={}),
        await client.get("/nowhere"),
    ):
        for name in RATE_HEADERS:
            assert name in response.headers, (response.request.url, name)
