"""OAuth tokens against the sandbox: refresh in time, once, saved before use, never reused.

The sandbox refuses a spent refresh token (400 invalid_grant) but keeps no log of attempts,
so what the client sent to ``/oauth/token`` is recorded on the client's side by an httpx
event hook (a real observation of the wire, not a mock), and every token answer is checked.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Literal
from urllib.parse import parse_qs

import httpx
import pytest
from fastapi import FastAPI

from reconciler.errors import AuthError, FatalRunError
from reconciler.sandbox.clock import Clock as SandboxClock
from reconciler.sandbox.config import READ_SCOPE
from reconciler.sandbox.state import Sandbox
from reconciler.sides.highlevel import (
    HighLevelSide,
    MemoryTokenStore,
    OAuthApp,
    OAuthSession,
    OAuthTokens,
    exchange_code,
)
from reconciler.sides.highlevel.clock import Clock, SystemClock
from tests.sides.clocks import SandboxTimeClock
from tests.sides.sandbox_sides import http_to, make_side, new_sandbox

TTL = 3600


@dataclass
class Wire:
    """What went over the wire, in order."""

    events: list[tuple[str, str]] = field(default_factory=list)  # (kind, token)
    refresh_tokens_sent: list[str] = field(default_factory=list)
    token_answers: list[int] = field(default_factory=list)
    unauthorized: int = 0

    async def on_request(self, request: httpx.Request) -> None:
        if request.url.path == "/oauth/token":
            form = parse_qs(request.content.decode())
            if form.get("grant_type") == ["refresh_token"]:
                self.refresh_tokens_sent.extend(form["refresh_token"])
            return
        bearer = request.headers.get("Authorization", "").removeprefix("Bearer ")
        self.events.append(("request", bearer))

    async def on_response(self, response: httpx.Response) -> None:
        if response.request.url.path == "/oauth/token":
            self.token_answers.append(response.status_code)
        elif response.status_code == 401:
            self.unauthorized += 1


class RecordingStore(MemoryTokenStore):
    def __init__(self, wire: Wire) -> None:
        super().__init__()
        self._wire = wire
        self.failures_to_come = 0

    async def save(self, tokens: OAuthTokens) -> None:
        if self.failures_to_come:
            self.failures_to_come -= 1
            raise OSError("disk full")
        self._wire.events.append(("save", tokens.access_token))
        await super().save(tokens)


@dataclass
class OAuthRig:
    app: FastAPI
    sandbox: Sandbox
    location: str
    wire: Wire
    store: RecordingStore
    http: httpx.AsyncClient
    base: str
    first: OAuthTokens
    clock: Clock

    def side(
        self, *, skew: timedelta = timedelta(0), page_limit: int = 500, concurrency: int = 8
    ) -> tuple[HighLevelSide, OAuthSession]:
        clock = self.clock
        session = OAuthSession(
            self.http,
            app=_app_of(self.sandbox),
            store=self.store,
            location_id=self.location,
            base_url=self.base,
            clock=clock,
            refresh_skew=skew,
        )
        side = make_side(
            self.http,
            self.base,
            self.location,
            session,
            page_limit=page_limit,
            clock=clock,
            notes_concurrency=concurrency,
        )
        return side, session


def _app_of(sandbox: Sandbox) -> OAuthApp:
    app = sandbox.oauth_app
    return OAuthApp(client_id=app.client_id, client_secret=app.client_secret)


@asynccontextmanager
async def oauth_rig(
    contacts: int,
    *,
    loopback: bool = False,
    scopes: str | None = None,
    client_clock: Literal["sandbox", "system"] = "system",
) -> AsyncIterator[OAuthRig]:
    """A sandbox on a frozen clock, an installation's first tokens saved in the store.

    ``client_clock``: the client reads the sandbox's time (it sees expiry coming), or its own
    wall clock (it believes the token valid, and only a 401 tells it otherwise)."""
    app, sandbox, location = new_sandbox(
        seed=21,
        contacts_per_location=contacts,
        clock=SandboxClock.frozen_at("2026-01-05T09:00:00Z"),
        access_token_ttl_seconds=TTL,
        rate_limit_max=100_000,  # a frozen clock never empties the rate window
    )
    clock: Clock = SandboxTimeClock(sandbox.clock) if client_clock == "sandbox" else SystemClock()
    wire = Wire()
    store = RecordingStore(wire)
    hooks = {"request": [wire.on_request], "response": [wire.on_response]}
    async with http_to(app, loopback=loopback, event_hooks=hooks) as (http, base):
        oauth_app = sandbox.oauth_app
        redirect = oauth_app.redirect_uris[0]
        code = sandbox.tokens.authorize(oauth_app.client_id, redirect, scopes, location)
        first = await exchange_code(
            http,
            app=_app_of(sandbox),
            code=code,
            redirect_uri=redirect,
            location_id=location,
            base_url=base,
            clock=clock,
        )
        await store.save(first)
        wire.events.clear()
        wire.token_answers.clear()  # the code exchange above is setup, not under test
        yield OAuthRig(app, sandbox, location, wire, store, http, base, first, clock)
    await sandbox.aclose()


def _assert_no_refresh_token_reused(rig: OAuthRig) -> None:
    sent = rig.wire.refresh_tokens_sent
    assert len(sent) == len(set(sent))
    assert all(status == 200 for status in rig.wire.token_answers)


@pytest.mark.parametrize("how", ["before_expiry", "on_401"])
@pytest.mark.parametrize("loopback", [False, True], ids=["asgi", "loopback"])
async def test_token_expiring_mid_listing_is_refreshed_once(
    how: Literal["before_expiry", "on_401"], loopback: bool
) -> None:
    client_clock: Literal["sandbox", "system"] = "sandbox" if how == "before_expiry" else "system"
    async with oauth_rig(30, loopback=loopback, client_clock=client_clock) as rig:
        side, session = rig.side(skew=timedelta(minutes=5), page_limit=5)
        listed: list[str] = []
        async for page in side.stream_contacts():
            assert page.complete
            listed.extend(c.id for c in page.contacts)
            if len(listed) == 10:
                rig.sandbox.clock.advance(TTL + 1)
        assert sorted(listed) == sorted(c["id"] for c in rig.sandbox.contacts(rig.location))
        assert session.refreshes == 1
        assert side.usage().token_refreshes == 1
        assert rig.wire.refresh_tokens_sent == [rig.first.refresh_token]
        _assert_no_refresh_token_reused(rig)
        assert rig.wire.unauthorized == (1 if how == "on_401" else 0)
        stored = await rig.store.load(rig.location)
        assert stored is not None
        assert stored.refresh_token != rig.first.refresh_token
        # The rotated pair keeps working: a second expiry refreshes with the NEW token.
        rig.sandbox.clock.advance(TTL + 1)
        await side.get_contact(listed[0])
        assert rig.wire.refresh_tokens_sent == [rig.first.refresh_token, stored.refresh_token]
        _assert_no_refresh_token_reused(rig)


async def test_new_tokens_are_saved_before_they_are_used() -> None:
    async with oauth_rig(3) as rig:
        side, _ = rig.side()
        contact_id = rig.sandbox.contacts(rig.location)[0]["id"]
        await side.get_contact(contact_id)
        rig.sandbox.clock.advance(TTL + 1)
        await side.get_contact(contact_id)
        stored = await rig.store.load(rig.location)
        assert stored is not None
        new = stored.access_token
        events = rig.wire.events
        assert events.index(("save", new)) < events.index(("request", new))
        assert ("request", rig.first.access_token) in events


async def test_tokens_the_store_refused_are_saved_before_any_use() -> None:
    async with oauth_rig(2) as rig:
        side, session = rig.side()
        contact_id = rig.sandbox.contacts(rig.location)[0]["id"]
        rig.sandbox.clock.advance(TTL + 1)
        rig.store.failures_to_come = 1
        with pytest.raises(FatalRunError, match="could not save the rotated OAuth tokens"):
            await side.get_contact(contact_id)
        assert {token for kind, token in rig.wire.events if kind == "request"} == {
            rig.first.access_token
        }
        await side.get_contact(contact_id)  # saved first, then used; no second refresh
        stored = await rig.store.load(rig.location)
        assert stored is not None
        assert stored.refresh_token != rig.first.refresh_token
        new = stored.access_token
        assert rig.wire.events[-2:] == [("save", new), ("request", new)]
        assert session.refreshes == 1
        assert rig.wire.refresh_tokens_sent == [rig.first.refresh_token]


async def test_concurrent_401s_collapse_into_one_refresh() -> None:
    async with oauth_rig(40) as rig:
        side, session = rig.side(concurrency=8)
        ids = [c.id async for page in side.stream_contacts() for c in page.contacts]
        rig.sandbox.clock.advance(TTL + 1)
        results = [item async for item in side.list_notes(ids)]
        assert all(item.error is None for item in results)
        assert len(results) == 40
        assert rig.wire.unauthorized >= 2  # several requests met the expiry together...
        assert session.refreshes == 1  # ...and one refresh served them all
        assert len(rig.wire.refresh_tokens_sent) == 1
        _assert_no_refresh_token_reused(rig)


async def test_refresh_refused_raises_auth_error() -> None:
    async with oauth_rig(2) as rig:
        side, _ = rig.side()
        contact_id = rig.sandbox.contacts(rig.location)[0]["id"]
        # Someone else spends our refresh token (e.g. a second installation's copy).
        oauth_app = rig.sandbox.oauth_app
        rig.sandbox.tokens.exchange(
            {
                "client_id": oauth_app.client_id,
                "client_secret": oauth_app.client_secret,
                "grant_type": "refresh_token",
                "refresh_token": rig.first.refresh_token,
            }
        )
        rig.sandbox.clock.advance(TTL + 1)
        with pytest.raises(AuthError, match="already been used"):
            await side.get_contact(contact_id)
        assert rig.wire.token_answers == [400]
        assert side.usage().errors == {"AuthError": 1}


async def test_a_missing_scope_is_auth_error_without_a_refresh() -> None:
    async with oauth_rig(1, scopes=READ_SCOPE) as rig:
        side, session = rig.side()
        contact_id = rig.sandbox.contacts(rig.location)[0]["id"]
        with pytest.raises(AuthError, match="scope"):
            await side.add_tags(contact_id, frozenset({"x"}))
        assert session.refreshes == 0
        assert rig.wire.refresh_tokens_sent == []


async def test_a_refused_private_token_is_auth_error() -> None:
    app, sandbox, location = new_sandbox(seed=22)
    async with http_to(app, loopback=False) as (http, base):
        side = make_side(http, base, location, "pit-00000000-0000-0000-0000-000000000000")
        with pytest.raises(AuthError):
            await side.get_contact("AAAAAAAAAAAAAAAAAAAA")
        assert side.usage().requests == {"GET /contacts/{contactId}": 1}
    await sandbox.aclose()


async def test_no_stored_tokens_is_auth_error() -> None:
    app, sandbox, location = new_sandbox(seed=23)
    async with http_to(app, loopback=False) as (http, base):
        session = OAuthSession(
            http, app=_app_of(sandbox), store=MemoryTokenStore(), location_id=location
        )
        side = make_side(http, base, location, session)
        with pytest.raises(AuthError, match="no OAuth tokens"):
            await side.get_contact("AAAAAAAAAAAAAAAAAAAA")
        assert side.usage().total_requests == 0
    await sandbox.aclose()


def test_secrets_stay_out_of_repr() -> None:
    tokens = OAuthTokens(
        access_token="sbx-at-SECRET1",
        refresh_token="sbx-rt-SECRET2",
        expires_at=SystemClock().now(),
        scopes=frozenset({READ_SCOPE}),
        location_id="loc",
    )
    app = OAuthApp(client_id="client", client_secret="SECRET3")
    text = repr(tokens) + repr(app)
    assert "SECRET" not in text
