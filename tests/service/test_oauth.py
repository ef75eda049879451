"""OAuth install end to end against the sandbox's authorize and token endpoints: the browser
steps are followed by hand (service over ASGI, sandbox over loopback HTTP)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from reconciler.sandbox.app import create_app as create_sandbox
from reconciler.sandbox.config import AppConfig, SandboxConfig
from reconciler.sandbox.server import running_server
from reconciler.sandbox.state import Sandbox
from reconciler.service.oauth import COOKIE, OAuthConfig, OAuthInstaller, StateSigner, oauth_router
from reconciler.settings import Settings
from reconciler.sides.highlevel import HighLevelSide, OAuthApp, OAuthSession
from reconciler.store import repo_pairs
from reconciler.store.crypto import Cipher
from reconciler.store.db import Store
from reconciler.store.schema import AccountKind, table_of
from reconciler.store.tables import AuditEventRow
from reconciler.store.token_store import DbTokenStore
from tests.service.conftest import highlevel_pair

SERVICE = "http://service.test"
CLIENT_ID = "app-client-id-0001"
CLIENT_SECRET = "app-client-secret-do-not-log"


@dataclass
class Install:
    store: Store
    sandbox: Sandbox
    sandbox_url: str
    service: httpx.AsyncClient  # the "browser" on the service (keeps the cookie)
    browser: httpx.AsyncClient  # the "browser" on HighLevel (the sandbox)
    cipher: Cipher
    locations: list[str]
    clock_shift: list[timedelta]

    async def authorize(self, start: httpx.Response, **change: str) -> httpx.Response:
        """Follow the redirect to HighLevel's consent page (``change``: tamper with it)."""
        assert start.status_code == 302, start.text
        url = start.headers["location"]
        if change:
            parts = urlsplit(url)
            query = {k: v[0] for k, v in parse_qs(parts.query).items()} | change
            url = urlunsplit(parts._replace(query=urlencode(query)))
        consent = await self.browser.get(url)
        assert consent.status_code == 302, consent.text
        return consent

    async def callback(self, consent: httpx.Response, **change: str) -> httpx.Response:
        back = urlsplit(consent.headers["location"])
        assert f"{back.scheme}://{back.netloc}" == SERVICE
        query = {k: v[0] for k, v in parse_qs(back.query).items()} | change
        return await self.service.get(f"{back.path}?{urlencode(query)}")


@pytest.fixture
async def install(store: Store, settings: Settings) -> AsyncIterator[Install]:
    sandbox_app = create_sandbox(
        SandboxConfig(
            locations=2,
            contacts_per_location=3,
            apps=[
                AppConfig(
                    client_id=CLIENT_ID,
                    client_secret=CLIENT_SECRET,
                    redirect_uris=[f"{SERVICE}/oauth/callback"],
                )
            ],
        )
    )
    sandbox: Sandbox = sandbox_app.state.sandbox
    shift = [timedelta(0)]

    def clock() -> datetime:
        return datetime.now(UTC) + shift[0]

    async with running_server(sandbox_app) as sandbox_url, httpx.AsyncClient() as http:
        cipher = Cipher.from_settings(settings)
        config = OAuthConfig(
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            authorize_url=f"{sandbox_url}/oauth/chooselocation",
            redirect_uri=f"{SERVICE}/oauth/callback",
            scopes="contacts.readonly contacts.write",
            api_base_url=sandbox_url,
            secure_cookie=False,
        )
        installer = OAuthInstaller(
            store, cipher, config, StateSigner.from_settings(settings, clock=clock), http
        )
        app = FastAPI()
        app.include_router(oauth_router(installer))
        transport = httpx.ASGITransport(app=app)
        async with (
            httpx.AsyncClient(transport=transport, base_url=SERVICE) as service,
            httpx.AsyncClient() as browser,
        ):
            yield Install(
                store, sandbox, sandbox_url, service, browser, cipher, sandbox.locations, shift
            )


async def stored_tokens(install: Install, location: str) -> object:
    return await DbTokenStore(install.store, install.cipher).load(location)


async def test_install_stores_working_tokens_encrypted(install: Install) -> None:
    loc_a, loc_b = install.locations
    pair_id = await highlevel_pair(install.store, "p", loc_a, loc_b)
    start = await install.service.get("/oauth/start", params={"pair": "p", "side": "b"})
    assert COOKIE in start.cookies
    query = parse_qs(urlsplit(start.headers["location"]).query)
    assert query["client_id"] == [CLIENT_ID]
    assert query["redirect_uri"] == [f"{SERVICE}/oauth/callback"]
    assert query["location_id"] == [loc_b]
    assert CLIENT_SECRET not in start.headers["location"]

    done = await install.callback(await install.authorize(start))
    assert done.status_code == 200, done.text
    assert f"Location {loc_b} is now side b of pair {pair_id}" in done.text
    assert CLIENT_SECRET not in done.text

    tokens = await DbTokenStore(install.store, install.cipher).load(loc_b)
    assert tokens is not None
    assert tokens.scopes == {"contacts.readonly", "contacts.write"}
    assert await stored_tokens(install, loc_a) is None
    async with install.store.session() as s:  # encrypted at rest
        account = await repo_pairs.find_side_account(s, AccountKind.HIGHLEVEL, loc_b)
        assert account is not None
        assert account.credentials is not None
        assert tokens.access_token not in account.credentials
        assert tokens.refresh_token not in account.credentials
        audit = (await s.execute(select(table_of(AuditEventRow)))).all()
    assert [(row.kind, row.pair_id, row.subject) for row in audit] == [
        ("side.oauth_installed", pair_id, loc_b)
    ]

    # The stored tokens work for the connector, through the store.
    async with httpx.AsyncClient() as http:
        session = OAuthSession(
            http,
            app=OAuthApp(CLIENT_ID, CLIENT_SECRET),
            store=DbTokenStore(install.store, install.cipher),
            location_id=loc_b,
            base_url=install.sandbox_url,
        )
        side = HighLevelSide(
            http, location_id=loc_b, credentials=session, base_url=install.sandbox_url
        )
        contacts = [c async for page in side.stream_contacts() for c in page.contacts]
    assert len(contacts) == 3


async def test_a_forged_state_is_refused(install: Install) -> None:
    loc_a, loc_b = install.locations
    await highlevel_pair(install.store, "p", loc_a, loc_b)
    start = await install.service.get("/oauth/start", params={"pair": "p", "side": "a"})
    consent = await install.authorize(start)
    state = parse_qs(urlsplit(consent.headers["location"]).query)["state"][0]
    payload, mac = state.split(".")
    forged = payload[:-2] + ("AA" if payload[-2:] != "AA" else "BB") + "." + mac
    done = await install.callback(consent, state=forged)
    assert done.status_code == 400
    assert "not ours" in done.text
    assert await stored_tokens(install, loc_a) is None


async def test_a_callback_in_another_browser_is_refused(install: Install) -> None:
    loc_a, loc_b = install.locations
    await highlevel_pair(install.store, "p", loc_a, loc_b)
    start = await install.service.get("/oauth/start", params={"pair": "p", "side": "a"})
    consent = await install.authorize(start)
    install.service.cookies.clear()  # the victim's browser never started this install
    done = await install.callback(consent)
    assert done.status_code == 400
    assert "not started in this browser" in done.text
    assert await stored_tokens(install, loc_a) is None


async def test_an_expired_state_is_refused(install: Install) -> None:
    loc_a, loc_b = install.locations
    await highlevel_pair(install.store, "p", loc_a, loc_b)
    start = await install.service.get("/oauth/start", params={"pair": "p", "side": "a"})
    consent = await install.authorize(start)
    install.clock_shift[0] = timedelta(hours=1)
    done = await install.callback(consent)
    assert done.status_code == 400
    assert "too long" in done.text
    assert await stored_tokens(install, loc_a) is None


async def test_another_location_cannot_be_installed_on_a_side(install: Install) -> None:
    loc_a, loc_b = install.locations
    await highlevel_pair(install.store, "p", loc_a, loc_b)
    start = await install.service.get("/oauth/start", params={"pair": "p", "side": "a"})
    consent = await install.authorize(start, location_id=loc_b)  # the user picked B
    done = await install.callback(consent)
    assert done.status_code == 400
    assert f"you installed location {loc_b}" in done.text
    assert await stored_tokens(install, loc_a) is None
    assert await stored_tokens(install, loc_b) is None


async def test_a_spent_code_is_refused(install: Install) -> None:
    loc_a, loc_b = install.locations
    await highlevel_pair(install.store, "p", loc_a, loc_b)
    start = await install.service.get("/oauth/start", params={"pair": "p", "side": "a"})
    consent = await install.authorize(start)
    assert (await install.callback(consent)).status_code == 200
    replay = await install.callback(consent)  # the cookie is spent with the install
    assert replay.status_code == 400
    assert "not started in this browser" in replay.text
    spent = parse_qs(urlsplit(consent.headers["location"]).query)["code"][0]
    restart = await install.service.get("/oauth/start", params={"pair": "p", "side": "a"})
    again = await install.callback(await install.authorize(restart), code=spent)
    assert again.status_code == 400
    assert "HighLevel refused the code" in again.text


async def test_declined_consent_is_reported(install: Install) -> None:
    done = await install.service.get(
        "/oauth/callback", params={"error": "access_denied", "error_description": "declined"}
    )
    assert done.status_code == 400
    assert "declined" in done.text


@pytest.mark.parametrize(
    ("params", "status", "message"),
    [
        ({"pair": "nope", "side": "a"}, 404, "no such pair"),
        ({"pair": "p", "side": "c"}, 400, "side must be a or b"),
        ({"pair": "m", "side": "a"}, 400, "not a HighLevel location"),
    ],
)
async def test_start_refuses_what_cannot_be_installed(
    install: Install, params: dict[str, str], status: int, message: str
) -> None:
    loc_a, loc_b = install.locations
    await highlevel_pair(install.store, "p", loc_a, loc_b)
    now = datetime.now(UTC)
    async with install.store.transaction() as s:
        memory = await repo_pairs.create_side_account(
            s, label="mem", kind=AccountKind.MEMORY, now=now
        )
        other = await repo_pairs.find_side_account(s, AccountKind.HIGHLEVEL, loc_a)
        assert other is not None
        await repo_pairs.create_pair(
            s, name="m", side_a_account_id=memory.id, side_b_account_id=other.id, now=now
        )
    response = await install.service.get("/oauth/start", params=params)
    assert response.status_code == status
    assert message in response.text


async def test_unconfigured_oauth_says_which_settings_to_set(
    store: Store, settings: Settings
) -> None:
    async with httpx.AsyncClient() as http:
        installer = OAuthInstaller(
            store,
            Cipher.from_settings(settings),
            OAuthConfig.from_settings(settings),  # no client id/secret in these settings
            StateSigner.from_settings(settings),
            http,
        )
        app = FastAPI()
        app.include_router(oauth_router(installer))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=SERVICE) as client:
            response = await client.get("/oauth/start", params={"pair": "p", "side": "a"})
    assert response.status_code == 503
    assert "RECONCILER_OAUTH_CLIENT_ID" in response.text


def test_states_from_another_deployment_are_refused(settings: Settings) -> None:
    mine = StateSigner.from_settings(settings)
    theirs = StateSigner(b"another deployment's key", ttl=timedelta(minutes=5))
    state, issued = theirs.issue("pair", "a")
    with pytest.raises(Exception, match="not ours"):
        mine.check(state, issued.nonce)
    ok, issued2 = mine.issue("pair", "b")
    assert mine.check(ok, issued2.nonce).side == "b"
