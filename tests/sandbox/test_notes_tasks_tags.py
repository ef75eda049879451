"""Notes CRUD (no dateUpdated), tasks CRUD and completion, tag deltas."""

from __future__ import annotations

from reconciler.sandbox.clock import Clock
from reconciler.sandbox.state import Sandbox
from tests.sandbox.conftest import Api


async def test_notes_crud(api: Api, sandbox: Sandbox, clock: Clock) -> None:
    contact = await api.create(email="notes@example.com")
    cid = contact["id"]
    r = await api.request(
        "POST", f"/contacts/{cid}/notes", json={"body": "First call went well.", "userId": "u1"}
    )
    assert r.status_code == 201
    note = r.json()["note"]
    assert set(note) == {"id", "body", "userId", "dateAdded", "contactId"}
    clock.advance(10)
    second = (
        await api.request(
            "POST", f"/contacts/{cid}/notes", json={"body": "Second.", "title": "T", "pinned": True}
        )
    ).json()
    r = await api.request("GET", f"/contacts/{cid}/notes")
    listed = r.json()["notes"]
    assert [n["id"] for n in listed] == [second["note"]["id"], note["id"]]  # newest first
    assert all("dateUpdated" not in n for n in listed)

    r = await api.request("PUT", f"/contacts/{cid}/notes/{note['id']}", json={"body": "Edited."})
    assert r.status_code == 200
    assert r.json()["note"]["body"] == "Edited."
    assert r.json()["note"]["dateAdded"] == note["dateAdded"]
    r = await api.request("GET", f"/contacts/{cid}/notes/{note['id']}")
    assert r.json()["note"]["body"] == "Edited."
    r = await api.request("DELETE", f"/contacts/{cid}/notes/{note['id']}")
    assert r.json() == {"succeded": True}
    assert [n["id"] for n in sandbox.notes(api.location, cid)] == [second["note"]["id"]]


async def test_note_changes_touch_the_contact_only_when_configured(
    api: Api, sandbox: Sandbox, clock: Clock
) -> None:
    contact = await api.create(email="touch@example.com")
    cid = contact["id"]
    clock.advance(30)
    await api.request("POST", f"/contacts/{cid}/notes", json={"body": "x"})
    r = await api.request("GET", f"/contacts/{cid}")
    assert r.json()["contact"]["dateUpdated"] == contact["dateUpdated"]

    sandbox.update_settings(api.location, note_changes_touch_contact=True)
    await api.request("POST", f"/contacts/{cid}/notes", json={"body": "y"})
    r = await api.request("GET", f"/contacts/{cid}")
    assert r.json()["contact"]["dateUpdated"] == "2026-01-05T09:00:30.000Z"


async def test_tasks_crud_and_completion(api: Api) -> None:
    contact = await api.create(email="tasks@example.com")
    cid = contact["id"]
    r = await api.request(
        "POST",
        f"/contacts/{cid}/tasks",
        json={
            "title": "Send quote",
            "body": "Kitchen",
            "dueDate": "2026-01-10T12:00:00Z",
            "completed": False,
            "assignedTo": "user1",
        },
    )
    assert r.status_code == 201
    task = r.json()["task"]
    assert task == {
        "id": task["id"],
        "title": "Send quote",
        "body": "Kitchen",
        "dueDate": "2026-01-10T12:00:00Z",
        "completed": False,
        "assignedTo": "user1",
        "contactId": cid,
    }
    tid = task["id"]
    r = await api.request("PUT", f"/contacts/{cid}/tasks/{tid}", json={"title": "Send quote v2"})
    assert r.json()["task"]["title"] == "Send quote v2"
    r = await api.request("PUT", f"/contacts/{cid}/tasks/{tid}/completed", json={"completed": True})
    assert r.json()["task"]["completed"] is True
    r = await api.request("GET", f"/contacts/{cid}/tasks")
    assert [t["id"] for t in r.json()["tasks"]] == [tid]
    r = await api.request("GET", f"/contacts/{cid}/tasks/{tid}")
    assert r.json()["task"]["completed"] is True
    r = await api.request("DELETE", f"/contacts/{cid}/tasks/{tid}")
    assert r.json() == {"succeded": True}
    r = await api.request("GET", f"/contacts/{cid}/tasks/{tid}")
    assert r.status_code == 400
    r = await api.request(
        "POST",
        f"/contacts/{cid}/tasks",
        json={"title": "x", "dueDate": "next week", "completed": False},
    )
    assert r.status_code == 422
    assert r.json()["message"] == ["dueDate must be a valid ISO 8601 date string"]


async def test_tag_deltas(api: Api, sandbox: Sandbox) -> None:
    contact = await api.create(email="tags@example.com", tags=["keep", "drop"])
    cid = contact["id"]
    r = await api.request("POST", f"/contacts/{cid}/tags", json={"tags": ["New", "keep"]})
    assert r.status_code == 201
    assert r.json() == {"tags": ["keep", "drop", "new"]}
    r = await api.request("DELETE", f"/contacts/{cid}/tags", json={"tags": ["DROP", "absent"]})
    assert r.status_code == 200
    assert r.json() == {"tags": ["keep", "new"]}
    assert sandbox.contacts(api.location)[0]["tags"] == ["keep", "new"]
    r = await api.request("DELETE", "/contacts/nope/tags", json={"tags": ["x"]})
    assert r.status_code == 400


async def test_deleting_a_contact_removes_its_notes_and_tasks(api: Api, sandbox: Sandbox) -> None:
    contact = await api.create(email="gone@example.com")
    cid = contact["id"]
    await api.request("POST", f"/contacts/{cid}/notes", json={"body": "n"})
    await api.request("DELETE", f"/contacts/{cid}")
    r = await api.request("GET", f"/contacts/{cid}/notes")
    assert r.status_code == 400
    assert sandbox.location(api.location).notes == {}


async def test_bulk_tags(api: Api) -> None:
    a = await api.create(email="bulk-a@example.com", tags=["old"])
    b = await api.create(email="bulk-b@example.com")
    r = await api.request(
        "POST",
        "/contacts/bulk/tags/update/add",
        json={"locationId": api.location, "contacts": [a["id"], b["id"], "missing"], "tags": ["X"]},
    )
    assert r.status_code == 201
    body = r.json()
    assert body["succeded"] is False
    assert body["errorCount"] == 1
    assert all(isinstance(line, str) for line in body["responses"])
    r = await api.request("GET", f"/contacts/{a['id']}")
    assert r.json()["contact"]["tags"] == ["old", "x"]
    r = await api.request(
        "POST",
        "/contacts/bulk/tags/update/remove",
        json={"locationId": api.location, "contacts": [a["id"]], "tags": [], "removeAllTags": True},
    )
    assert r.json()["succeded"] is True
    r = await api.request("GET", f"/contacts/{a['id']}")
    assert r.json()["contact"]["tags"] == []
    r = await api.request(
        "POST",
        "/contacts/bulk/tags/update/toggle",
        json={"locationId": api.location, "contacts": [], "tags": []},
    )
    assert r.status_code == 400


async def test_followers_campaigns_workflows_businesses(api: Api) -> None:
    contact = await api.create(email="assoc@example.com")
    cid = contact["id"]
    r = await api.request("POST", f"/contacts/{cid}/followers", json={"followers": ["u1", "u2"]})
    assert r.status_code == 201
    assert r.json() == {"followers": ["u1", "u2"], "followersAdded": ["u1", "u2"]}
    r = await api.request("DELETE", f"/contacts/{cid}/followers", json={"followers": ["u1"]})
    assert r.json() == {"followers": ["u2"], "followersRemoved": ["u1"]}
    hit = (await api.search()).json()["contacts"][0]
    assert hit["followers"] == ["u2"]

    r = await api.request("POST", f"/contacts/{cid}/campaigns/camp1", json={})
    assert (r.status_code, r.json()) == (201, {"succeded": True})
    r = await api.request("DELETE", f"/contacts/{cid}/campaigns/removeAll")
    assert r.json() == {"succeded": True}
    r = await api.request(
        "POST", f"/contacts/{cid}/workflow/wf1", json={"eventStartTime": "2026-01-06T10:00:00Z"}
    )
    assert (r.status_code, r.json()) == (200, {"succeded": True})
    r = await api.request("DELETE", f"/contacts/{cid}/workflow/wf1", json={})
    assert r.json() == {"succeded": True}

    r = await api.request(
        "POST",
        "/contacts/bulk/business",
        json={"locationId": api.location, "ids": [cid, "missing"], "businessId": "biz1"},
    )
    assert r.json() == {"success": True, "ids": [cid]}
    r = await api.request("GET", "/contacts/business/biz1", params={"locationId": api.location})
    assert [c["id"] for c in r.json()["contacts"]] == [cid]
    assert r.json()["count"] == 1
    r = await api.request(
        "POST",
        "/contacts/bulk/business",
        json={"locationId": api.location, "ids": [cid], "businessId": None},
    )
    r = await api.request("GET", "/contacts/business/biz1", params={"locationId": api.location})
    assert r.json()["count"] == 0
