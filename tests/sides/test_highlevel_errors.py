"""How the HighLevel connector classifies, retries and survives what the server does.

Most tests run against the sandbox. A few need answers the sandbox never gives (a malformed
record, a cursor that loops, a listing that ends short of its total, a phone ``eq`` search
that misses): those are served by ``httpx.MockTransport`` with HighLevel's shapes.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from reconciler.errors import (
    CursorLoopError,
    FatalRunError,
    PermanentItemError,
    RateLimitedError,
    RetriableError,
)
from reconciler.sides.base import ContactDraft
from reconciler.sides.highlevel import HighLevelSide, PrivateToken, RetryPolicy
from reconciler.sides.highlevel.client import API_VERSION
from tests.sides.clocks import FastClock
from tests.sides.sandbox_sides import http_to, make_side, new_sandbox

THREE_TRIES = RetryPolicy(max_attempts=3, base_delay=0.001, max_delay=0.01, lookup_delay=0.0)


# -- against the sandbox ---------------------------------------------------------------------


async def test_5xx_is_retried_then_raised() -> None:
    app, sandbox, location = new_sandbox(seed=41, contacts_per_location=1)
    sandbox.set_faults(location, server_error=1.0, seed=1)
    async with http_to(app, loopback=False) as (http, base):
        side = make_side(http, base, location, sandbox.private_token(location), retry=THREE_TRIES)
        with pytest.raises(RetriableError) as failed:
            await side.get_contact(sandbox.contacts(location)[0]["id"])
    assert failed.value.status in (500, 502, 503)
    usage = side.usage()
    assert usage.requests == {"GET /contacts/{contactId}": 3}
    assert usage.retries == 2
    assert usage.errors == {"RetriableError": 1}


async def test_429_waits_at_least_retry_after() -> None:
    app, sandbox, location = new_sandbox(seed=42, contacts_per_location=1)
    sandbox.set_faults(location, rate_limit=1.0, seed=1)
    clock = FastClock()
    async with http_to(app, loopback=False) as (http, base):
        side = make_side(
            http, base, location, sandbox.private_token(location), retry=THREE_TRIES, clock=clock
        )
        with pytest.raises(RateLimitedError) as failed:
            await side.get_contact(sandbox.contacts(location)[0]["id"])
    assert failed.value.retry_after == 1.0
    assert clock.slept >= 2 * 1.0  # two waits, each at least the server's Retry-After
    assert side.usage().rate_limited == 3


async def test_a_permanent_error_is_not_retried() -> None:
    app, sandbox, location = new_sandbox(seed=43)
    sent: list[str] = []

    async def record(request: httpx.Request) -> None:
        sent.append(f"{request.method} {request.url.path}")

    async with http_to(app, loopback=False, event_hooks={"request": [record]}) as (http, base):
        side = make_side(http, base, location, sandbox.private_token(location))
        with pytest.raises(PermanentItemError) as refused:
            await side.create_contact(ContactDraft(email="not an email"))
    assert refused.value.status == 422
    assert "email" in str(refused.value)
    # Sent once; HighLevel may create despite a 422, so it was looked for, never re-sent.
    assert sent.count("POST /contacts/") == 1
    assert side.usage().retries == 0
    assert sandbox.contacts(location) == []


async def test_a_create_whose_answer_is_lost_is_found_not_repeated() -> None:
    app, sandbox, location = new_sandbox(seed=44)
    sandbox.update_settings(location, allow_duplicates=True)
    async with http_to(app, loopback=False) as (http, base):
        side = make_side(http, base, location, sandbox.private_token(location))
        sandbox.set_faults(location, error_after_write=1.0, seed=1)
        contact = await side.create_contact(
            ContactDraft(first_name="Lost", email="lost@example.com", phone="+15550300000")
        )
        note = await side.create_note(contact.id, "the answer was lost ☁")
        sandbox.set_faults(location, error_after_write=0.0)
    assert [c["id"] for c in sandbox.contacts(location)] == [contact.id]
    assert [n["id"] for n in sandbox.notes(location, contact.id)] == [note.id]
    usage = side.usage()
    assert usage.requests["POST /contacts/"] == 1
    assert usage.requests["POST /contacts/{contactId}/notes"] == 1
    assert usage.errors["UncertainWriteError"] == 2


async def test_a_lookup_that_lags_falls_back_to_the_live_duplicate_check() -> None:
    app, sandbox, location = new_sandbox(seed=45)
    sandbox.update_settings(location, search_lag_seconds=3600)  # search never catches up
    async with http_to(app, loopback=False) as (http, base):
        side = make_side(http, base, location, sandbox.private_token(location))
        sandbox.set_faults(location, error_after_write=1.0, seed=1)
        contact = await side.create_contact(ContactDraft(email="laggy@example.com"))
        sandbox.set_faults(location, error_after_write=0.0)
    assert [c["id"] for c in sandbox.contacts(location)] == [contact.id]
    assert side.usage().requests["GET /contacts/search/duplicate"] == 1


async def test_writes_carry_version_and_bearer_and_never_put_tags() -> None:
    app, sandbox, location = new_sandbox(seed=46)
    token = sandbox.private_token(location)
    seen: list[httpx.Request] = []

    async def record(request: httpx.Request) -> None:
        seen.append(request)

    async with http_to(app, loopback=False, event_hooks={"request": [record]}) as (http, base):
        side = make_side(http, base, location, token)
        contact = await side.create_contact(
            ContactDraft(email="t@example.com", tags=frozenset({"a"}))
        )
        await side.update_contact(contact.id, {"first_name": "T", "email": "t2@example.com"})
        await side.add_tags(contact.id, frozenset({"b"}))
        await side.remove_tags(contact.id, frozenset({"a"}))
    assert all(r.headers["Version"] == API_VERSION for r in seen)
    assert all(r.headers["Authorization"] == f"Bearer {token}" for r in seen)
    puts = [json.loads(r.content) for r in seen if r.method == "PUT"]
    assert puts == [{"firstName": "T", "email": "t2@example.com"}]
    assert sandbox.contacts(location)[0]["tags"] == ["b"]


@pytest.mark.parametrize("bad_id", ["../contacts/search", "a/b", "", "x" * 65, "é"])
async def test_an_id_cannot_reach_another_path(bad_id: str) -> None:
    app, sandbox, location = new_sandbox(seed=47)
    async with http_to(app, loopback=False) as (http, base):
        side = make_side(http, base, location, sandbox.private_token(location))
        with pytest.raises(PermanentItemError, match="not a HighLevel id"):
            await side.get_contact(bad_id)
        with pytest.raises(PermanentItemError, match="not a HighLevel id"):
            await side.delete_note("AAAAAAAAAAAAAAAAAAAA", bad_id)
    assert side.usage().total_requests == 0


async def test_an_unknown_route_stops_the_run() -> None:
    app, sandbox, location = new_sandbox(seed=48)
    async with http_to(app, loopback=False) as (http, base):
        side = make_side(http, base + "/v9", location, sandbox.private_token(location))
        with pytest.raises(FatalRunError, match="Cannot GET"):
            await side.get_contact("AAAAAAAAAAAAAAAAAAAA")


async def test_timeouts_are_retried_for_reads_and_looked_up_for_creates() -> None:
    app, sandbox, location = new_sandbox(seed=49, contacts_per_location=1)
    async with http_to(app, loopback=True, timeout=0.05) as (http, base):
        side = make_side(http, base, location, sandbox.private_token(location), retry=THREE_TRIES)
        sandbox.set_faults(location, timeout=1.0, timeout_seconds=0.3, seed=1)
        with pytest.raises(RetriableError, match="ReadTimeout"):
            await side.get_contact(sandbox.contacts(location)[0]["id"])
        assert side.usage().requests["GET /contacts/{contactId}"] == 3
    await sandbox.aclose()


async def test_a_refused_connection_is_retriable() -> None:
    app, _sandbox, location = new_sandbox(seed=50)
    async with http_to(app, loopback=True) as (_, base):
        pass  # the server is gone: its port now refuses connections
    async with httpx.AsyncClient() as http:
        side = make_side(http, base, location, "pit-x", retry=THREE_TRIES)
        with pytest.raises(RetriableError, match="connection failed"):
            await side.get_contact("AAAAAAAAAAAAAAAAAAAA")
    assert side.usage().retries == 2


# -- answers the sandbox never gives -----------------------------------------------------------


def _hit(n: int, **overrides: Any) -> dict[str, Any]:
    hit: dict[str, Any] = {
        "id": f"c{n:019d}",
        "firstName": f"F{n}",
        "tags": ["t"],
        "dateAdded": "2026-01-05T09:00:00.000Z",
        "dateUpdated": f"2026-01-05T09:00:{n % 60:02d}.000Z",
        "searchAfter": [str(1767603600000 + n * 1000), f"c{n:019d}"],
    }
    hit.update(overrides)
    return {k: v for k, v in hit.items() if v is not ...}


def _mock_side(
    handler: Callable[[dict[str, Any]], dict[str, Any]], page_limit: int = 3
) -> HighLevelSide:
    def respond(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/contacts/search"
        return httpx.Response(200, json=handler(json.loads(request.content)))

    http = httpx.AsyncClient(transport=httpx.MockTransport(respond), base_url="http://mock")
    return make_side(http, "http://mock", "loc", PrivateToken("pit-x"), page_limit=page_limit)


async def test_malformed_records_are_rejected_and_the_listing_goes_on() -> None:
    pages = [
        [_hit(1), _hit(2, id=...), _hit(3, tags="vip")],
        [_hit(4, firstName=42), _hit(5, dateUpdated="yesterday"), _hit(6)],
        [_hit(7)],
    ]

    def handler(body: dict[str, Any]) -> dict[str, Any]:
        index = 0 if "searchAfter" not in body else int(body["searchAfter"][0][-4:]) // 3000
        return {"contacts": pages[index], "total": 7}

    side = _mock_side(handler)
    listed = [page async for page in side.stream_contacts()]
    assert [[c.id[-1] for c in p.contacts] for p in listed] == [["1"], ["6"], ["7"]]
    assert all(p.complete for p in listed)
    rejected = [r for p in listed for r in p.rejected]
    assert [r.item_id for r in rejected] == [None, _hit(3)["id"], _hit(4)["id"], _hit(5)["id"]]
    assert "tags" in rejected[1].error
    assert "firstName" in rejected[2].error
    assert '"vip"' in rejected[1].raw


async def test_a_repeated_cursor_stops_the_listing() -> None:
    side = _mock_side(lambda body: {"contacts": [_hit(1), _hit(2), _hit(3)], "total": 100})
    pages = side.stream_contacts()
    assert len((await anext(pages)).contacts) == 3
    assert len((await anext(pages)).contacts) == 3
    with pytest.raises(CursorLoopError):
        await anext(pages)


async def test_a_listing_that_ends_short_of_its_total_says_so() -> None:
    def handler(body: dict[str, Any]) -> dict[str, Any]:
        if "searchAfter" in body:
            return {"contacts": [], "total": 10}
        return {"contacts": [_hit(1), _hit(2), _hit(3)], "total": 10}

    pages = [page async for page in _mock_side(handler).stream_contacts()]
    assert [len(p.contacts) for p in pages] == [3, 0]
    assert [p.complete for p in pages] == [True, False]


async def test_phone_search_falls_back_when_eq_finds_nothing() -> None:
    stored = _hit(1, phone="+15550100200")

    def handler(body: dict[str, Any]) -> dict[str, Any]:
        if body.get("filters"):  # phone eq misses, as it has been seen to upstream
            return {"contacts": [], "total": 0}
        assert body["query"] == "5550100200"
        return {"contacts": [stored, _hit(2, phone="+15550100299")], "total": 2}

    side = _mock_side(handler, page_limit=100)
    found = await side.find_contacts(phone="(555) 010-0200")
    assert [c.id for c in found] == [stored["id"]]
