"""POST /contacts/search: cursors, paging window, sort, filters, lag; and the deprecated list."""

from __future__ import annotations

from typing import Any

import httpx

from reconciler.sandbox.app import create_app
from reconciler.sandbox.clock import Clock
from reconciler.sandbox.config import LocationConfig, LocationSettings
from reconciler.sandbox.seed import seed_location
from reconciler.sandbox.state import Sandbox
from tests.sandbox.conftest import Api, auth, make_config


async def _walk(api: Api, **body: Any) -> list[str]:
    seen: list[str] = []
    after = None
    for _ in range(100):
        extra: dict[str, Any] = {"searchAfter": after} if after else {}
        r = await api.search(pageLimit=100, **body, **extra)
        assert r.status_code == 200, r.text
        hits = r.json()["contacts"]
        if not hits:
            return seen
        seen += [h["id"] for h in hits]
        after = hits[-1]["searchAfter"]
    raise AssertionError("the cursor never reached the end")


async def test_search_after_visits_every_contact_exactly_once_with_writes_between(
    api: Api, sandbox: Sandbox, clock: Clock
) -> None:
    location = sandbox.location(api.location)
    seed_location(location, seed=1, count=1200, max_notes=0, max_tasks=0)
    before = {c.id for c in location.contacts.values()}
    visited: list[str] = []
    after = None
    for pages in range(1, 41):
        extra: dict[str, Any] = {"searchAfter": after} if after else {}
        r = await api.search(
            pageLimit=100, sort=[{"field": "dateAdded", "direction": "asc"}], **extra
        )
        body = r.json()
        hits = body["contacts"]
        if not hits:
            break
        visited += [h["id"] for h in hits]
        after = hits[-1]["searchAfter"]
        # Writes between pages: updates (dateUpdated moves, dateAdded does not), a delete of
        # an already visited contact, and new contacts (they sort after everything seen).
        await api.request("PUT", f"/contacts/{hits[0]['id']}", json={"city": f"City {pages}"})
        clock.advance(1)
        if pages <= 5:
            await api.create(email=f"new{pages}@example.com")
        if pages == 3:
            await api.request("DELETE", f"/contacts/{visited[0]}")
    assert len(visited) == len(set(visited))
    assert before <= set(visited)
    assert len(visited) == 1200 + 5


async def test_descending_cursor_and_total(api: Api, clock: Clock) -> None:
    ids = []
    for i in range(7):
        ids.append((await api.create(email=f"c{i}@example.com"))["id"])
        clock.advance(1)
    r = await api.search(pageLimit=3)
    body = r.json()
    assert body["total"] == 7
    assert [h["id"] for h in body["contacts"]] == ids[::-1][:3]
    r = await api.search(pageLimit=3, searchAfter=body["contacts"][-1]["searchAfter"])
    assert [h["id"] for h in r.json()["contacts"]] == ids[::-1][3:6]
    # Numbers are accepted back as well as the strings the hits carry.
    cursor = body["contacts"][-1]["searchAfter"]
    r = await api.search(pageLimit=3, searchAfter=[int(cursor[0]), cursor[1]])
    assert [h["id"] for h in r.json()["contacts"]] == ids[::-1][3:6]


async def test_ties_on_the_sort_value_are_broken_by_id(api: Api) -> None:
    # The frozen clock gives all of them the same dateAdded.
    ids = sorted([(await api.create(email=f"tie{i}@example.com"))["id"] for i in range(5)])
    got = await _walk(api, sort=[{"field": "dateAdded", "direction": "asc"}])
    assert got == ids


async def test_sort_by_date_updated(api: Api, clock: Clock) -> None:
    a = await api.create(email="a@example.com")
    clock.advance(1)
    b = await api.create(email="b@example.com")
    clock.advance(1)
    await api.request("PUT", f"/contacts/{a['id']}", json={"firstName": "Later"})
    r = await api.search(sort=[{"field": "dateUpdated", "direction": "desc"}])
    assert [h["id"] for h in r.json()["contacts"]] == [a["id"], b["id"]]
    r = await api.search(sort=[{"field": "dateUpdated", "direction": "asc"}])
    assert [h["id"] for h in r.json()["contacts"]] == [b["id"], a["id"]]


async def test_page_paging_stops_at_ten_thousand(api: Api, sandbox: Sandbox) -> None:
    seed_location(sandbox.location(api.location), seed=2, count=10_050, max_notes=0, max_tasks=0)
    r = await api.search(pageLimit=500, page=20)
    assert r.status_code == 200
    assert len(r.json()["contacts"]) == 500
    assert r.json()["total"] == 10_050
    r = await api.search(pageLimit=500, page=21)
    assert r.status_code == 400
    assert "searchAfter" in r.json()["message"]
    r = await api.search(pageLimit=300, page=34)  # records 9900..10199: only 100 reachable
    assert len(r.json()["contacts"]) == 100
    # searchAfter goes on past the window.
    last = (await api.search(pageLimit=500, page=20)).json()["contacts"][-1]["searchAfter"]
    r = await api.search(pageLimit=500, searchAfter=last)
    assert len(r.json()["contacts"]) == 50


async def test_filters_eq_range_exists_and_groups(api: Api, clock: Clock) -> None:
    a = await api.create(email="alpha@example.com", phone="+15125550001", tags=["vip"])
    clock.advance(3600)
    b = await api.create(email="beta@example.com", tags=["lead", "cold"])
    clock.advance(3600)
    c = await api.create(phone="+15125550003")

    async def ids(*filters: dict[str, Any]) -> list[str]:
        r = await api.search(
            filters=list(filters), sort=[{"field": "dateAdded", "direction": "asc"}]
        )
        assert r.status_code == 200, r.text
        assert r.json()["total"] == len(r.json()["contacts"])
        return [h["id"] for h in r.json()["contacts"]]

    assert await ids({"field": "email", "operator": "eq", "value": "ALPHA@example.com"}) == [
        a["id"]
    ]
    assert await ids({"field": "phone", "operator": "eq", "value": "(512) 555-0003"}) == [c["id"]]
    assert await ids({"field": "tags", "operator": "eq", "value": "lead"}) == [b["id"]]
    assert await ids({"field": "tags", "operator": "eq", "value": ["vip", "cold"]}) == [
        a["id"],
        b["id"],
    ]
    assert await ids({"field": "email", "operator": "not_exists"}) == [c["id"]]
    assert await ids({"field": "phone", "operator": "exists"}) == [a["id"], c["id"]]
    assert await ids({"field": "tags", "operator": "not_exists"}) == [c["id"]]
    assert await ids(
        {
            "field": "dateAdded",
            "operator": "range",
            "value": {"gt": "2026-01-05T09:00:00.000Z", "lte": "2026-01-05T10:00:00Z"},
        }
    ) == [b["id"]]
    clock.advance(60)
    await api.request("PUT", f"/contacts/{a['id']}", json={"city": "Austin"})
    assert await ids(
        {"field": "dateUpdated", "operator": "range", "value": {"gt": "2026-01-05T11:00:00Z"}}
    ) == [a["id"]]
    assert await ids(
        {
            "group": "OR",
            "filters": [
                {"field": "tags", "operator": "eq", "value": "cold"},
                {"field": "email", "operator": "not_exists"},
            ],
        },
        {"field": "phone", "operator": "exists"},
    ) == [c["id"]]
    r = await api.search(query="beta")
    assert [h["id"] for h in r.json()["contacts"]] == [b["id"]]


async def test_search_sees_writes_only_after_the_lag(clock: Clock) -> None:
    config = make_config(
        clock, location_configs=[LocationConfig(settings=LocationSettings(search_lag_seconds=5))]
    )
    app = create_app(config)
    sandbox: Sandbox = app.state.sandbox
    location = sandbox.locations[0]
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://s") as client:
        api = Api(client, auth(sandbox.private_token(location)), location)
        created = await api.create(email="lag@example.com", firstName="Before")
        assert (await api.search()).json()["total"] == 0
        # Reads by id are not lagged.
        assert (await api.request("GET", f"/contacts/{created['id']}")).status_code == 200
        clock.advance(3)
        await api.request("PUT", f"/contacts/{created['id']}", json={"firstName": "After"})
        clock.advance(2)
        hits = (await api.search()).json()["contacts"]
        assert [h["firstName"] for h in hits] == ["Before"]  # the create is due, the update not
        clock.advance(3)
        hits = (await api.search()).json()["contacts"]
        assert [h["firstName"] for h in hits] == ["After"]
        await api.request("DELETE", f"/contacts/{created['id']}")
        assert (await api.search()).json()["total"] == 1
        clock.advance(5)
        assert (await api.search()).json()["total"] == 0
    await sandbox.aclose()


async def test_search_hits_have_the_search_shape(api: Api) -> None:
    await api.create(email="shape@example.com", address1="1 Main St", firstName="S")
    hit = (await api.search()).json()["contacts"][0]
    assert hit["address"] == "1 Main St"
    assert hit["validEmail"] is True
    assert hit["additionalEmails"] == []
    assert all(isinstance(v, str) for v in hit["searchAfter"])


async def test_deprecated_list_pages_with_start_after(api: Api, clock: Clock) -> None:
    ids = []
    for i in range(5):
        ids.append((await api.create(email=f"l{i}@example.com", firstName=f"L{i}"))["id"])
        clock.advance(1)
    r = await api.request("GET", "/contacts/", params={"locationId": api.location, "limit": 2})
    body = r.json()
    assert [c["id"] for c in body["contacts"]] == ids[:2]
    assert body["count"] == 5
    meta = body["meta"]
    assert meta["total"] == 5
    assert meta["startAfterId"] == ids[1]
    assert isinstance(meta["startAfter"], int)
    assert meta["nextPageUrl"].startswith("http://sandbox.test/contacts/?")
    r = await api.request(
        "GET",
        "/contacts/",
        params={
            "locationId": api.location,
            "limit": 2,
            "startAfterId": meta["startAfterId"],
            "startAfter": meta["startAfter"],
        },
    )
    assert [c["id"] for c in r.json()["contacts"]] == ids[2:4]
    r = await api.request(
        "GET", "/contacts/", params={"locationId": api.location, "startAfterId": ids[3]}
    )
    assert [c["id"] for c in r.json()["contacts"]] == ids[4:]
    assert "nextPageUrl" not in r.json()["meta"]
    r = await api.request("GET", "/contacts/", params={"locationId": api.location, "query": "l3"})
    assert [c["id"] for c in r.json()["contacts"]] == [ids[3]]
