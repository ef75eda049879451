"""Tags (deltas, bulk), notes CRUD, tasks CRUD and completion, through the conformance gate."""

from __future__ import annotations

from tests.conformance.conftest import Api
from tests.conformance.validator import Conformance

MISSING = "noSuchId000000000000"


async def test_tags_add_and_remove(api: Api, conformance: Conformance) -> None:
    contact = await api.create(email="tags@example.com", tags=["keep"])
    url = f"/contacts/{contact['id']}/tags"
    r = await api.call("POST", url, json={"tags": ["New", "keep"]})
    assert r.status_code == 201
    assert r.json() == {"tags": ["keep", "new"]}
    r = await api.call("DELETE", url, json={"tags": ["keep", "absent"]})
    assert r.status_code == 200
    assert r.json() == {"tags": ["new"]}
    r = await api.call("POST", f"/contacts/{MISSING}/tags", json={"tags": ["x"]})
    assert r.status_code == 400
    with conformance.invalid_requests():
        r = await api.call("POST", url, json={})
        assert r.json()["message"] == ["tags should not be empty"]
        r = await api.call("DELETE", url, json={"tags": "x"})
        assert r.status_code == 422


async def test_bulk_tags(api: Api, conformance: Conformance) -> None:
    a = await api.create(email="a@example.com", tags=["one"])
    body = {"locationId": api.location, "contacts": [a["id"], MISSING], "tags": ["two"]}
    r = await api.call("POST", "/contacts/bulk/tags/update/add", json=body)
    assert r.status_code == 201
    assert r.json()["errorCount"] == 1
    r = await api.call(
        "POST", "/contacts/bulk/tags/update/remove", json={**body, "removeAllTags": True}
    )
    assert r.status_code == 201
    r = await api.call("GET", f"/contacts/{a['id']}")
    assert r.json()["contact"]["tags"] == []
    r = await api.call("POST", "/contacts/bulk/tags/update/toggle", json=body)
    assert r.status_code == 400
    with conformance.invalid_requests():
        r = await api.call("POST", "/contacts/bulk/tags/update/add", json={"tags": ["x"]})
        assert r.status_code == 422
    # The spec gives the bulk operations no security; every /contacts call needs the bearer
    # token all the same (deviation bulk-auth).
    r = await api.client.post(
        "/contacts/bulk/tags/update/add", json=body, headers={"Version": "2021-07-28"}
    )
    assert r.status_code == 401
    assert "bulk-auth" in conformance.deviations_used()


async def test_notes_crud(api: Api, conformance: Conformance) -> None:
    contact = await api.create(email="notes@example.com")
    base = f"/contacts/{contact['id']}/notes"
    r = await api.call(
        "POST", base, json={"body": "first", "userId": "u1", "title": "T", "color": "red"}
    )
    assert r.status_code == 201
    note = r.json()["note"]
    assert note["body"] == "first"
    assert "dateUpdated" not in note
    r = await api.call("GET", base)
    assert [n["id"] for n in r.json()["notes"]] == [note["id"]]
    r = await api.call("GET", f"{base}/{note['id']}")
    assert r.json()["note"]["title"] == "T"
    r = await api.call("PUT", f"{base}/{note['id']}", json={"body": "second", "pinned": True})
    assert r.status_code == 200
    assert r.json()["note"]["body"] == "second"
    r = await api.call("DELETE", f"{base}/{note['id']}")
    assert r.json() == {"succeded": True}
    r = await api.call("GET", f"{base}/{note['id']}")
    assert r.status_code == 400
    r = await api.call("GET", f"/contacts/{MISSING}/notes")
    assert r.status_code == 400
    with conformance.invalid_requests():
        r = await api.call("POST", base, json={"title": "no body"})
        assert r.json()["message"] == ["body should not be empty"]
        r = await api.call("PUT", f"{base}/{MISSING}", json={"body": 5})
        assert r.status_code == 422


async def test_tasks_crud_and_completion(api: Api, conformance: Conformance) -> None:
    contact = await api.create(email="tasks@example.com")
    base = f"/contacts/{contact['id']}/tasks"
    new = {
        "title": "Call",
        "body": "about x",
        "dueDate": "2026-02-01T10:00:00Z",
        "completed": False,
    }
    r = await api.call("POST", base, json={**new, "assignedTo": "u1"})
    assert r.status_code == 201
    task = r.json()["task"]
    r = await api.call("GET", base)
    assert [t["id"] for t in r.json()["tasks"]] == [task["id"]]
    r = await api.call("GET", f"{base}/{task['id']}")
    assert r.json()["task"]["title"] == "Call"
    r = await api.call("PUT", f"{base}/{task['id']}", json={"title": "Call back"})
    assert r.json()["task"]["title"] == "Call back"
    r = await api.call("PUT", f"{base}/{task['id']}/completed", json={"completed": True})
    assert r.json()["task"]["completed"] is True
    r = await api.call("DELETE", f"{base}/{task['id']}")
    assert r.json() == {"succeded": True}
    r = await api.call("GET", f"{base}/{task['id']}")
    assert r.status_code == 400
    r = await api.call("POST", base, json={**new, "dueDate": "not a date"})
    assert r.status_code == 422
    with conformance.invalid_requests():
        r = await api.call("POST", base, json={"title": "x"})
        assert set(r.json()["message"]) == {
            "dueDate should not be empty",
            "completed should not be empty",
        }
        r = await api.call("PUT", f"{base}/{MISSING}/completed", json={})
        assert r.status_code == 422


async def test_followers_campaigns_workflows(api: Api) -> None:
    contact = await api.create(email="assoc@example.com")
    cid = contact["id"]
    r = await api.call("POST", f"/contacts/{cid}/followers", json={"followers": ["u1", "u2"]})
    assert r.status_code == 201
    assert r.json()["followersAdded"] == ["u1", "u2"]
    r = await api.call("DELETE", f"/contacts/{cid}/followers", json={"followers": ["u1"]})
    assert r.json()["followers"] == ["u2"]
    r = await api.call("POST", f"/contacts/{cid}/campaigns/camp1", json={})
    assert r.status_code == 201
    r = await api.call("DELETE", f"/contacts/{cid}/campaigns/camp1")
    assert r.status_code == 200
    r = await api.call("DELETE", f"/contacts/{cid}/campaigns/removeAll")
    assert r.json() == {"succeded": True}
    r = await api.call(
        "POST", f"/contacts/{cid}/workflow/wf1", json={"eventStartTime": "2026-01-06T10:00:00Z"}
    )
    assert r.status_code == 200
    r = await api.call("DELETE", f"/contacts/{cid}/workflow/wf1", json={})
    assert r.status_code == 200
    r = await api.call("POST", f"/contacts/{MISSING}/campaigns/camp1", json={})
    assert r.status_code == 400


async def test_businesses(api: Api, conformance: Conformance) -> None:
    a = await api.create(email="biz@example.com", firstName="Biz")
    body = {"locationId": api.location, "ids": [a["id"], MISSING], "businessId": "b1"}
    r = await api.call("POST", "/contacts/bulk/business", json=body)
    assert r.status_code == 200
    assert r.json()["ids"] == [a["id"]]
    r = await api.call("GET", "/contacts/business/b1", params={"locationId": api.location})
    assert [c["id"] for c in r.json()["contacts"]] == [a["id"]]
    r = await api.call("POST", "/contacts/bulk/business", json={**body, "businessId": None})
    r = await api.call("GET", "/contacts/business/b1", params={"locationId": api.location})
    assert r.json()["count"] == 0
    with conformance.invalid_requests():
        r = await api.call("GET", "/contacts/business/b1", params={"limit": "x"})
        assert r.status_code == 422
        r = await api.call("POST", "/contacts/bulk/business", json={"locationId": api.location})
        assert r.status_code == 422
