"""Bad input, deterministically, on every operation of the spec: never a 5xx, always a
documented refusal in the spec's error shapes (the fuzzer covers the same ground at random).

- every operation with a JSON body: malformed JSON (400), a body that is not an object (422),
  an unknown property (422 ``property X should not exist``);
- every operation with a contact in its path: an unknown contact id (400);
- search: an oversized ``pageLimit`` (422).
"""

from __future__ import annotations

import re
from typing import Any

from tests.conformance.conftest import Api
from tests.conformance.spec import CONTACTS, raw
from tests.conformance.validator import Conformance

MISSING = "noSuchContact0000000"


def _operations() -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, methods in raw(CONTACTS)["paths"].items()
        for method, operation in methods.items()
    ]


def _url(path: str, contact_id: str) -> str:
    concrete = path.replace("{contactId}", contact_id).replace("{type}", "add")
    return re.sub(r"\{[^}]+\}", "someId00000000000000", concrete)


async def test_broken_bodies_are_refused_on_every_body_operation(
    api: Api, conformance: Conformance
) -> None:
    contact = await api.create(email="bodies@example.com")
    with_body = [
        (m, p)
        for m, p, op in _operations()
        if "application/json" in op.get("requestBody", {}).get("content", {})
    ]
    assert len(with_body) == 18
    with conformance.invalid_requests():
        for method, path in with_body:
            url = _url(path, contact["id"])
            r = await api.call(
                method, url, content=b'{"tags": [', headers={"Content-Type": "application/json"}
            )
            assert r.status_code == 400, (method, path, r.text)
            r = await api.call(method, url, json=["not", "an", "object"])
            assert r.status_code in (400, 422), (method, path, r.text)
            if path == "/contacts/search":
                continue  # its body DTO is untyped: any property is "valid" (search-body-untyped)
            r = await api.call(method, url, json={"favouriteColour": "red"})
            assert r.status_code in (400, 422), (method, path, r.text)
            if r.status_code == 422:
                assert "property favouriteColour should not exist" in r.json()["message"]


async def test_unknown_contact_ids_are_400_everywhere(api: Api) -> None:
    bodies: dict[str, Any] = {
        "/contacts/{contactId}/tags": {"tags": ["x"]},
        "/contacts/{contactId}/followers": {"followers": ["u"]},
        "/contacts/{contactId}/notes": {"body": "x"},
        "/contacts/{contactId}/notes/{id}": {"body": "x"},
        "/contacts/{contactId}/tasks": {
            "title": "x",
            "dueDate": "2026-02-01T10:00:00Z",
            "completed": False,
        },
        "/contacts/{contactId}/tasks/{taskId}": {"title": "x"},
        "/contacts/{contactId}/tasks/{taskId}/completed": {"completed": True},
        "/contacts/{contactId}": {"city": "x"},
    }
    probed = 0
    for method, path, operation in _operations():
        if "{contactId}" not in path:
            continue
        kwargs: dict[str, Any] = {}
        if "requestBody" in operation:
            kwargs["json"] = bodies.get(path, {})
        r = await api.call(method, _url(path, MISSING), **kwargs)
        assert r.status_code == 400, (method, path, r.text)
        assert "not found" in r.json()["message"]
        probed += 1
    assert probed == 24


async def test_oversized_page_limits(api: Api) -> None:
    for limit in (501, 10**6, 2**63):
        r = await api.search(pageLimit=limit)
        assert r.status_code == 422, r.text
        assert r.json()["message"] == ["pageLimit must not be greater than 500"]
    r = await api.call("GET", "/contacts/", params={"locationId": api.location, "limit": 10**30})
    assert r.status_code == 422
