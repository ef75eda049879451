"""Bad input gets a clear 4xx in HighLevel's shapes, never a 500."""

from __future__ import annotations

import json
import uuid
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.sandbox.clock import Clock
from tests.sandbox.conftest import Api
from tests.spec import API_DOCS

SPEC_DIR = API_DOCS


async def test_malformed_json_is_a_400(api: Api) -> None:
    r = await api.request(
        "POST",
        "/contacts/",
        content=b'{"locationId": ',
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 400
    assert r.json()["statusCode"] == 400
    assert isinstance(r.json()["message"], str)


async def test_unknown_property_is_named(api: Api) -> None:
    r = await api.request(
        "POST", "/contacts/", json={"locationId": api.location, "favouriteColour": "red"}
    )
    assert r.status_code == 422
    assert r.json() == {
        "statusCode": 422,
        "message": ["property favouriteColour should not exist"],
        "error": "Unprocessable Entity",
    }


async def test_spec_fields_not_in_update_are_refused_on_put(api: Api) -> None:
    created = await api.create(email="p@example.com")
    # UpdateContactDto has no locationId nor companyName.
    r = await api.request("PUT", f"/contacts/{created['id']}", json={"locationId": api.location})
    assert r.status_code == 422
    assert r.json()["message"] == ["property locationId should not exist"]


async def test_missing_required_fields(api: Api) -> None:
    r = await api.request("POST", "/contacts/", json={"firstName": "No location"})
    assert r.status_code == 422
    assert r.json()["message"] == ["locationId should not be empty"]
    created = await api.create(email="m@example.com")
    r = await api.request("POST", f"/contacts/{created['id']}/notes", json={})
    assert r.json()["message"] == ["body should not be empty"]
    r = await api.request("POST", f"/contacts/{created['id']}/tasks", json={"title": "x"})
    assert r.status_code == 422
    assert set(r.json()["message"]) == {
        "dueDate should not be empty",
        "completed should not be empty",
    }
    r = await api.request("POST", f"/contacts/{created['id']}/tags", json={})
    assert r.json()["message"] == ["tags should not be empty"]


async def test_wrong_types(api: Api) -> None:
    r = await api.request(
        "POST",
        "/contacts/",
        json={"locationId": api.location, "email": "not-an-email", "dnd": "yes", "tags": [1]},
    )
    assert r.status_code == 422
    assert set(r.json()["message"]) == {
        "email must be an email",
        "dnd must be a boolean value",
        "each value in tags must be a string",
    }
    r = await api.request(
        "POST", "/contacts/", json={"locationId": api.location, "postalCode": None}
    )
    assert r.status_code == 422


async def test_body_that_is_not_an_object(api: Api) -> None:
    r = await api.request("POST", "/contacts/", json=["a"])
    assert r.status_code == 422


async def test_search_requires_location_and_page_limit(api: Api) -> None:
    r = await api.request("POST", "/contacts/search", json={})
    assert r.status_code == 422
    assert set(r.json()["message"]) == {
        "locationId should not be empty",
        "pageLimit should not be empty",
    }
    r = await api.search(pageLimit=501)
    assert r.status_code == 422
    assert r.json()["message"] == ["pageLimit must not be greater than 500"]
    r = await api.search(filters=[{"field": "shoeSize", "operator": "eq", "value": 1}])
    assert r.status_code == 422
    r = await api.search(filters=[{"field": "dateAdded", "operator": "range", "value": "x"}])
    assert r.status_code == 422


async def test_deprecated_list_limits(api: Api) -> None:
    r = await api.request("GET", "/contacts/", params={"locationId": api.location, "limit": 101})
    assert r.status_code == 422
    assert r.json()["message"] == ["limit must not be greater than 100"]
    r = await api.request("GET", "/contacts/", params={"limit": "ten"})
    assert r.status_code == 422
    r = await api.request("GET", "/contacts/", params={"locationId": api.location, "x": "1"})
    assert r.json()["message"] == ["property x should not exist"]


async def test_unknown_note_and_task_ids(api: Api) -> None:
    created = await api.create(email="u@example.com")
    r = await api.request("GET", f"/contacts/{created['id']}/notes/nope")
    assert r.status_code == 400
    assert r.json()["message"] == "Note with id nope not found"
    r = await api.request("PUT", f"/contacts/{created['id']}/tasks/nope", json={"title": "t"})
    assert r.status_code == 400
    assert r.json()["message"] == "Task with id nope not found"
    r = await api.request("DELETE", "/contacts/nope/notes/nope")
    assert r.json()["message"] == "Contact with id nope not found"


async def test_every_documented_operation_is_served(api: Api) -> None:
    spec_path = SPEC_DIR / "apps" / "contacts.json"
    spec = json.loads(spec_path.read_text())
    contact = await api.create(email="routes@example.com")
    for path, operations in spec["paths"].items():
        url = (
            path.replace("{contactId}", contact["id"])
            .replace("{id}", "x")
            .replace("{taskId}", "x")
            .replace("{campaignId}", "x")
            .replace("{workflowId}", "x")
            .replace("{businessId}", "x")
            .replace("{type}", "add")
        )
        for method in operations:
            r = await api.request(method.upper(), url, json={})
            assert r.status_code != 404, (method, path)
            assert str(r.status_code) in operations[method]["responses"] or r.status_code == 422, (
                method,
                path,
                r.status_code,
                r.text,
            )


async def test_nested_and_union_messages(api: Api) -> None:
    r = await api.request(
        "POST",
        "/contacts/",
        json={"locationId": api.location, "dndSettings": {"Call": {"status": "maybe"}}},
    )
    assert r.json()["message"] == [
        "dndSettings.Call.status must be one of the following values: active, inactive or permanent"
    ]
    r = await api.search(searchAfter=[[1], "x"])
    assert r.json()["message"] == [
        "each value in searchAfter must be one of: string, integer, number"
    ]
    r = await api.search(searchAfter=["1"])
    assert r.json()["message"] == ["searchAfter must contain at least 2 elements"]


async def test_unknown_route_is_nest_style_404(api: Api) -> None:
    r = await api.request("PATCH", "/contacts/abc")
    assert r.status_code == 404
    assert r.json() == {
        "statusCode": 404,
        "message": "Cannot PATCH /contacts/abc",
        "error": "Not Found",
    }


# Values that have found 500s before: edge dates, overflowing numbers, grammar words.
EDGY = st.sampled_from(
    [
        "",
        "1e400",
        "9999-12-31T23:59:59-14:00",
        "0001-01-01",
        "2026-01-01",
        "x@y.z",
        "+15125550000",
        "active",
        "eq",
        "range",
        "exists",
        "OR",
        "dateAdded",
        "tags",
        "desc",
    ]
)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8)
    | EDGY,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
FIELD_NAMES = st.sampled_from(
    [
        "locationId",
        "email",
        "phone",
        "tags",
        "customFields",
        "firstName",
        "dateOfBirth",
        "dndSettings",
        "pageLimit",
        "page",
        "searchAfter",
        "filters",
        "sort",
        "body",
        "title",
        "dueDate",
        "completed",
        "query",
        "pinned",
    ]
)
bodies = st.dictionaries(FIELD_NAMES | st.text(max_size=6), json_values, max_size=5)
ENDPOINTS = [
    ("POST", "/contacts/"),
    ("POST", "/contacts/upsert"),
    ("POST", "/contacts/search"),
    ("PUT", "/contacts/{cid}"),
    ("POST", "/contacts/{cid}/tags"),
    ("DELETE", "/contacts/{cid}/tags"),
    ("POST", "/contacts/{cid}/notes"),
    ("PUT", "/contacts/{cid}/notes/{nid}"),
    ("POST", "/contacts/{cid}/tasks"),
    ("PUT", "/contacts/{cid}/tasks/{tid}/completed"),
    ("POST", "/contacts/{cid}/followers"),
    ("POST", "/contacts/{cid}/workflow/w1"),
    ("POST", "/contacts/bulk/tags/update/add"),
    ("POST", "/contacts/bulk/business"),
]


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(endpoint=st.sampled_from(ENDPOINTS), body=bodies, with_location=st.booleans())
async def test_random_bodies_never_get_a_500(
    api: Api, clock: Clock, endpoint: tuple[str, str], body: dict[str, Any], with_location: bool
) -> None:
    clock.advance(10)  # a fresh rate window for each example
    contact = await api.create(email=f"{uuid.uuid4().hex}@example.com")
    note = await api.request("POST", f"/contacts/{contact['id']}/notes", json={"body": "n"})
    task = await api.request(
        "POST",
        f"/contacts/{contact['id']}/tasks",
        json={"title": "t", "dueDate": "2026-02-01T00:00:00Z", "completed": False},
    )
    ids = {"cid": contact["id"], "nid": note.json()["note"]["id"], "tid": task.json()["task"]["id"]}
    if with_location:
        body = {**body, "locationId": api.location}
    method, template = endpoint
    r = await api.request(
        method,
        template.format(**ids),
        content=json.dumps(body).encode(),
        headers={"content-type": "application/json"},
    )
    assert r.status_code < 500, (method, template, body, r.text)
    if r.status_code >= 400:
        assert r.json()["statusCode"] == r.status_code


async def test_numbers_and_dates_at_the_edges(api: Api) -> None:
    r = await api.request(
        "POST",
        "/contacts/search",
        content=b'{"locationId": "x", "pageLimit": Infinity}',
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 400
    r = await api.search(searchAfter=["1e400", "x"])
    assert r.status_code == 422
    r = await api.request(
        "GET", "/contacts/", params={"locationId": api.location, "startAfter": "1e400"}
    )
    assert r.status_code == 422
    r = await api.request(
        "POST",
        "/contacts/",
        json={"locationId": api.location, "dateOfBirth": "9999-12-31T23:59:59-14:00"},
    )
    assert r.status_code == 422
    contact = await api.create(dateOfBirth="0001-01-01")
    assert contact["dateOfBirth"] == "0001-01-01T00:00:00.000Z"
    r = await api.search(
        filters=[
            {
                "field": "dateAdded",
                "operator": "range",
                "value": {"gte": "9999-12-31T23:59:59-14:00"},
            }
        ]
    )
    assert (r.status_code, r.json()["total"]) == (200, 0)  # far future, but an instant
    r = await api.search(
        filters=[{"field": "dateAdded", "operator": "range", "value": {"gte": 10**30}}]
    )
    assert r.status_code == 200
    assert r.json()["total"] == 0
