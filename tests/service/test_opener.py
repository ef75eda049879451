"""Opening a pair's sides from its accounts: private tokens, OAuth tokens refreshed and
rotated through the store, a location's rate budget shared by its pairs, and a side that is
not connected yet failing the run with how to connect it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from pydantic import SecretStr

from reconciler.errors import AuthError
from reconciler.sandbox.app import create_app as create_sandbox
from reconciler.sandbox.config import SandboxConfig
from reconciler.sandbox.server import running_server
from reconciler.sandbox.state import Sandbox
from reconciler.service.lease import LeaseKeeper
from reconciler.service.opener import SideFactory
from reconciler.service.runner import PairRunner
from reconciler.settings import Settings
from reconciler.sides.highlevel import HighLevelSide, OAuthApp, OAuthTokens, exchange_code
from reconciler.store import repo_pairs, repo_runs
from reconciler.store.credentials import AccountCredentials
from reconciler.store.crypto import Cipher, Secret
from reconciler.store.db import Store
from reconciler.store.schema import AccountKind, AuthKind
from reconciler.store.token_store import DbTokenStore


@dataclass
class World:
    store: Store
    settings: Settings
    sandbox: Sandbox
    url: str
    http: httpx.AsyncClient
    cipher: Cipher

    def factory(self) -> SideFactory:
        return SideFactory(self.store, self.cipher, self.http, self.settings)

    async def account(self, location: str, credentials: AccountCredentials | None) -> str:
        async with self.store.transaction() as s:
            row = await repo_pairs.create_side_account(
                s,
                label=location,
                kind=AccountKind.HIGHLEVEL,
                location_id=location,
                base_url=self.url,
                auth_kind=AuthKind.PIT if credentials and credentials.pit else AuthKind.OAUTH,
                credentials=credentials,
                cipher=self.cipher,
                now=datetime.now(UTC),
            )
            return row.id

    async def pair(self, name: str, a: str, b: str) -> str:
        async with self.store.transaction() as s:
            row = await repo_pairs.create_pair(
                s, name=name, side_a_account_id=a, side_b_account_id=b, now=datetime.now(UTC)
            )
            return row.id

    def pit(self, location: str) -> AccountCredentials:
        return AccountCredentials(pit=Secret(self.sandbox.private_token(location)))


@pytest.fixture
async def world(store: Store, settings: Settings) -> AsyncIterator[World]:
    app = create_sandbox(SandboxConfig(locations=3, contacts_per_location=3))
    sandbox: Sandbox = app.state.sandbox
    client = sandbox.oauth_app
    settings = settings.model_copy(
        update={"oauth_client_id": client.client_id, "oauth_client_secret": None}
    )
    async with running_server(app) as url, httpx.AsyncClient() as http:
        yield World(store, settings, sandbox, url, http, Cipher.from_settings(settings))


async def test_a_pair_of_private_tokens_runs(world: World) -> None:
    loc_a, loc_b, _ = world.sandbox.locations
    pair_id = await world.pair(
        "p",
        await world.account(loc_a, world.pit(loc_a)),
        await world.account(loc_b, world.pit(loc_b)),
    )
    runner = PairRunner(world.store, LeaseKeeper(world.store), world.factory().opener)
    outcome = await runner.run(pair_id, trigger="manual")
    assert outcome.report is not None
    assert outcome.report.status == "succeeded", outcome.report.errors
    assert len(world.sandbox.contacts(loc_a)) == len(world.sandbox.contacts(loc_b)) == 6


async def test_oauth_tokens_are_refreshed_and_rotated_through_the_store(world: World) -> None:
    loc_a, loc_b, _ = world.sandbox.locations
    app = world.sandbox.oauth_app
    code = world.sandbox.tokens.authorize(
        app.client_id, app.redirect_uris[0], "contacts.readonly contacts.write", loc_a
    )
    tokens = await exchange_code(
        world.http,
        app=OAuthApp(app.client_id, app.client_secret),
        code=code,
        redirect_uri=app.redirect_uris[0],
        location_id=loc_a,
        base_url=world.url,
    )
    a_account = await world.account(loc_a, None)
    token_store = DbTokenStore(world.store, world.cipher)
    # Expired already: the first request refreshes (and HighLevel rotates the refresh token).
    await token_store.save(
        OAuthTokens(
            access_token=tokens.access_token,
            refresh_token=tokens.refresh_token,
            expires_at=datetime.now(UTC) - timedelta(minutes=1),
            scopes=tokens.scopes,
            location_id=loc_a,
        )
    )
    pair_id = await world.pair("p", a_account, await world.account(loc_b, world.pit(loc_b)))
    settings = world.settings.model_copy(
        update={"oauth_client_secret": SecretStr(app.client_secret)}
    )
    factory = SideFactory(world.store, world.cipher, world.http, settings)
    runner = PairRunner(world.store, LeaseKeeper(world.store), factory.opener)
    outcome = await runner.run(pair_id, trigger="manual")
    assert outcome.report is not None
    assert outcome.report.status == "succeeded", outcome.report.errors
    rotated = await token_store.load(loc_a)
    assert rotated is not None
    assert rotated.refresh_token != tokens.refresh_token
    assert rotated.expires_at > datetime.now(UTC)


async def test_oauth_tokens_without_the_app_secret_fail_clearly(world: World) -> None:
    loc_a, loc_b, _ = world.sandbox.locations
    a_account = await world.account(loc_a, None)
    async with world.store.transaction() as s:
        await repo_pairs.set_credentials(
            s,
            world.cipher,
            a_account,
            AccountCredentials(
                access_token=Secret("x" * 20),
                refresh_token=Secret("y" * 20),
                expires_at=datetime.now(UTC),
            ),
            now=datetime.now(UTC),
        )
    pair_id = await world.pair("p", a_account, await world.account(loc_b, world.pit(loc_b)))
    with pytest.raises(AuthError, match="RECONCILER_OAUTH_CLIENT_SECRET"):
        async with world.factory().open(pair_id):
            pass


async def test_a_side_not_connected_fails_the_run_with_the_way_to_connect_it(
    world: World,
) -> None:
    loc_a, loc_b, _ = world.sandbox.locations
    pair_id = await world.pair(
        "p", await world.account(loc_a, world.pit(loc_a)), await world.account(loc_b, None)
    )
    runner = PairRunner(world.store, LeaseKeeper(world.store), world.factory().opener)
    with pytest.raises(AuthError, match="not connected"):
        await runner.run(pair_id, trigger="schedule")
    async with world.store.session() as s:
        (run,) = await repo_runs.list_runs(s, pair_id)
    assert run.status == "failed"
    assert f"/oauth/start?pair={pair_id}&side=b" in run.errors[0]
    assert runner.metrics.runs.value(pair=pair_id, trigger="schedule", status="failed") == 1
    # Nothing was written anywhere.
    assert len(world.sandbox.contacts(loc_a)) == len(world.sandbox.contacts(loc_b)) == 3


async def test_pairs_of_one_location_share_its_rate_budget(world: World) -> None:
    loc_a, loc_b, loc_c = world.sandbox.locations
    shared = await world.account(loc_a, world.pit(loc_a))
    first = await world.pair("p1", shared, await world.account(loc_b, world.pit(loc_b)))
    second = await world.pair("p2", shared, await world.account(loc_c, world.pit(loc_c)))
    factory = world.factory()
    async with factory.open(first) as one, factory.open(second) as two:
        assert isinstance(one.a, HighLevelSide)
        assert isinstance(two.a, HighLevelSide)
        assert isinstance(one.b, HighLevelSide)
        assert isinstance(two.b, HighLevelSide)
        assert one.a.budget is two.a.budget
        assert one.b.budget is not two.b.budget
