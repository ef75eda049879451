"""Finding contacts: POST /contacts/search (paging, searchAfter, sort, filters, query, errors),
the deprecated GET /contacts/ with its cursor, and GET /contacts/search/duplicate.

Search answers are validated against the 2025-09-08 spec's ``SearchContactSuccessResponseDto``
(deviation ``search-untyped``); the rest against the current spec.
"""

from __future__ import annotations

from typing import Any

from reconciler.sandbox.clock import Clock
from tests.conformance.conftest import Api
from tests.conformance.validator import Conformance


async def _five(api: Api, clock: Clock) -> list[dict[str, Any]]:
    made = []
    for i in range(5):
        made.append(
            await api.create(
                firstName=f"P{i}",
                email=f"p{i}@example.com",
                phone=f"+1512555000{i}",
                tags=["even"] if i % 2 == 0 else ["odd"],
                address1=f"{i} Main St",
                website="https://example.com",
                timezone="Europe/Paris",
                customFields=[{"id": "cf", "field_value": ["x"]}],
            )
        )
        clock.advance(1)
    return made


async def test_page_paging_and_default_sort(
    api: Api, clock: Clock, conformance: Conformance
) -> None:
    made = await _five(api, clock)
    r = await api.search(pageLimit=2, page=1)
    assert r.status_code == 200
    body = r.json()
    assert body["total"] == 5
    # Default: dateAdded descending.
    assert [c["id"] for c in body["contacts"]] == [made[4]["id"], made[3]["id"]]
    # The search hit schema (Contact, 2025-09-08) has neither (the sandbox used to send them).
    assert not {"timezone", "website"} & set(body["contacts"][0])
    assert body["contacts"][0]["address"] == "4 Main St"
    r = await api.search(pageLimit=2, page=3)
    assert [c["id"] for c in r.json()["contacts"]] == [made[0]["id"]]
    assert "search-untyped" in conformance.deviations_used()


async def test_search_after_walks_every_hit_once(api: Api, clock: Clock) -> None:
    made = await _five(api, clock)
    seen: list[str] = []
    cursor: list[Any] | None = None
    while True:
        extra = {"searchAfter": cursor} if cursor else {}
        r = await api.search(
            pageLimit=2, sort=[{"field": "dateAdded", "direction": "asc"}], **extra
        )
        hits = r.json()["contacts"]
        if not hits:
            break
        seen += [h["id"] for h in hits]
        cursor = hits[-1]["searchAfter"]
    assert seen == [c["id"] for c in made]


async def test_sort_by_date_updated(api: Api, clock: Clock) -> None:
    made = await _five(api, clock)
    clock.advance(10)
    r = await api.call("PUT", f"/contacts/{made[0]['id']}", json={"city": "Lyon"})
    assert r.status_code == 200
    r = await api.search(pageLimit=1, sort=[{"field": "dateUpdated", "direction": "desc"}])
    assert r.json()["contacts"][0]["id"] == made[0]["id"]
    assert r.json()["contacts"][0]["city"] == "Lyon"


async def test_filters_and_query(api: Api, clock: Clock) -> None:
    made = await _five(api, clock)
    r = await api.search(filters=[{"field": "email", "operator": "eq", "value": "p3@example.com"}])
    assert [c["id"] for c in r.json()["contacts"]] == [made[3]["id"]]
    r = await api.search(filters=[{"field": "tags", "operator": "eq", "value": "even"}])
    assert r.json()["total"] == 3
    r = await api.search(
        filters=[
            {
                "group": "OR",
                "filters": [
                    {"field": "firstName", "operator": "eq", "value": "P1"},
                    {"field": "firstName", "operator": "eq", "value": "P2"},
                ],
            },
            {"field": "dateAdded", "operator": "range", "value": {"gte": made[2]["dateAdded"]}},
        ]
    )
    assert [c["id"] for c in r.json()["contacts"]] == [made[2]["id"]]
    r = await api.search(query="p4@example")
    assert [c["id"] for c in r.json()["contacts"]] == [made[4]["id"]]


async def test_search_refusals(api: Api) -> None:
    # The spec's SearchBodyV2DTO is untyped: these bodies are "valid" to it, refused by the
    # service's own rules (HIGHLEVEL.md): deviations search-422 and search-body-untyped.
    r = await api.call("POST", "/contacts/search", json={"locationId": api.location})
    assert r.status_code == 422
    assert r.json()["message"] == ["pageLimit should not be empty"]
    r = await api.search(pageLimit=501)
    assert r.status_code == 422
    r = await api.search(pageLimit=500, page=21)  # past the 10,000-record page window
    assert r.status_code == 400
    r = await api.search(filters=[{"field": "favouriteColour", "operator": "eq", "value": "x"}])
    assert r.status_code == 422
    r = await api.search(searchAfter=["not-a-number", "x"])
    assert r.status_code == 422
    r = await api.call(
        "POST", "/contacts/search", json={"locationId": api.sandbox.locations[1], "pageLimit": 5}
    )
    assert r.status_code == 401


async def test_deprecated_list_with_its_cursor(
    api: Api, clock: Clock, conformance: Conformance
) -> None:
    made = await _five(api, clock)
    r = await api.call("GET", "/contacts/", params={"locationId": api.location, "limit": 2})
    assert r.status_code == 200
    body = r.json()
    assert [c["id"] for c in body["contacts"]] == [made[0]["id"], made[1]["id"]]
    assert body["count"] == 5
    # No ``contactName``: no schema documents it (the sandbox used to send it).
    assert "contactName" not in body["contacts"][0]
    assert body["contacts"][0]["firstName"] == "P0"
    meta = body["meta"]
    r = await api.call(
        "GET",
        "/contacts/",
        params={
            "locationId": api.location,
            "limit": 2,
            "startAfterId": meta["startAfterId"],
            "startAfter": meta["startAfter"],
        },
    )
    assert [c["id"] for c in r.json()["contacts"]] == [made[2]["id"], made[3]["id"]]
    r = await api.call("GET", "/contacts/", params={"locationId": api.location, "query": "P4"})
    assert [c["id"] for c in r.json()["contacts"]] == [made[4]["id"]]
    assert {"list-meta", "list-items-whole-contact"} <= conformance.deviations_used()


async def test_deprecated_list_refusals(api: Api, conformance: Conformance) -> None:
    r = await api.call("GET", "/contacts/", params={"locationId": api.location, "limit": 101})
    assert r.status_code == 422
    r = await api.call(
        "GET", "/contacts/", params={"locationId": api.location, "startAfterId": "nope"}
    )
    assert r.status_code == 400
    with conformance.invalid_requests():
        r = await api.call("GET", "/contacts/", params={"limit": 5})
        assert r.status_code == 422
        r = await api.call("GET", "/contacts/", params={"locationId": api.location, "limit": "x"})
        assert r.status_code == 422


async def test_duplicate_lookup(api: Api, conformance: Conformance) -> None:
    made = await api.create(email="dupe@example.com", phone="+15125550100")
    params = {"locationId": api.location}
    r = await api.call(
        "GET", "/contacts/search/duplicate", params={**params, "email": "dupe@example.com"}
    )
    assert r.json()["contact"]["id"] == made["id"]
    r = await api.call(
        "GET", "/contacts/search/duplicate", params={**params, "number": "+15125550100"}
    )
    assert r.json()["contact"]["id"] == made["id"]
    r = await api.call("GET", "/contacts/search/duplicate", params={**params, "email": "n@a.com"})
    assert r.status_code == 200
    with conformance.invalid_requests():
        r = await api.call("GET", "/contacts/search/duplicate", params={"email": "x@example.com"})
    assert r.status_code == 422
    assert "duplicate-422" in conformance.deviations_used()
