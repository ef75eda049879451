"""Contacts: create, get, update, delete, upsert, duplicates; success and error paths.

Every call goes through the ``conformance`` gate (see ``validator.py``): these tests assert the
behaviour, the gate asserts the shapes.
"""

from __future__ import annotations

from reconciler.sandbox.clock import Clock
from tests.conformance.conftest import Api
from tests.conformance.validator import Conformance

FULL_CONTACT = {
    "firstName": "Rosan",
    "lastName": "Deo",
    "name": "Rosan Deo",
    "email": "rosan@deos.com",
    "phone": "+1 888-888-8888",
    "address1": "3535 1st St N",
    "city": "Dolomite",
    "state": "AL",
    "postalCode": "35061",
    "website": "https://www.tesla.com",
    "timezone": "America/Chihuahua",
    "dnd": False,
    "dndSettings": {"Call": {"status": "active", "message": "no calls", "code": "x"}},
    "inboundDndSettings": {"all": {"status": "inactive", "message": "fine"}},
    "tags": ["VIP", "lead"],
    "customFields": [
        {"id": "6dvNaf7VhkQ9snc5vnjJ", "key": "colour", "field_value": "blue"},
        {"id": "7dvNaf7VhkQ9snc5vnjJ", "field_value": ["a", "b"]},
    ],
    "source": "public api",
    "dateOfBirth": "1990-09-25",
    "country": "US",
    "companyName": "DGS VolMAX",
    "assignedTo": "y0BeYjuRIlDwsDcOHOJo",
}


async def test_create_with_every_field(api: Api, conformance: Conformance) -> None:
    contact = await api.create(gender="female", **FULL_CONTACT)
    assert contact["email"] == "rosan@deos.com"
    assert contact["tags"] == ["vip", "lead"]
    assert contact["dateOfBirth"] == "1990-09-25T00:00:00.000Z"
    # CreateContactSchema has none of these (the sandbox used to send them).
    assert not {"gender", "inboundDndSettings", "name", "timezone"} & set(contact)
    assert conformance.deviations_used() == {"date-of-birth-string"}
    r = await api.call("GET", f"/contacts/{contact['id']}")
    # GetContectByIdSchema has name and timezone, not the write-only fields.
    assert r.json()["contact"]["timezone"] == "America/Chihuahua"
    assert not {"gender", "inboundDndSettings"} & set(r.json()["contact"])


async def test_get_update_delete(api: Api, clock: Clock) -> None:
    created = await api.create(firstName="Ann", email="ann@example.com", tags=["a"])
    r = await api.call("GET", f"/contacts/{created['id']}")
    assert r.status_code == 200
    assert r.json()["contact"]["name"] == "Ann"

    clock.advance(5)
    update = {k: v for k, v in FULL_CONTACT.items() if k != "companyName"}
    r = await api.call("PUT", f"/contacts/{created['id']}", json=update)
    assert r.status_code == 200
    assert r.json()["succeded"] is True
    assert r.json()["contact"]["dateUpdated"] == "2026-01-05T09:00:05.000Z"

    r = await api.call("PUT", f"/contacts/{created['id']}", json={"city": None, "source": None})
    assert r.status_code == 200
    assert "city" not in r.json()["contact"]

    r = await api.call("DELETE", f"/contacts/{created['id']}")
    assert r.json() == {"succeded": True}
    r = await api.call("GET", f"/contacts/{created['id']}")
    assert r.status_code == 400
    assert r.json()["message"] == f"Contact with id {created['id']} not found"


async def test_unknown_ids_are_400_on_every_contact_operation(api: Api) -> None:
    for method in ("GET", "DELETE"):
        r = await api.call(method, "/contacts/noSuchContact0000000")
        assert r.status_code == 400
    r = await api.call("PUT", "/contacts/noSuchContact0000000", json={"city": "X"})
    assert r.status_code == 400


async def test_upsert_creates_then_updates(api: Api) -> None:
    body = {"locationId": api.location, "email": "up@example.com", "firstName": "Up"}
    r = await api.call("POST", "/contacts/upsert", json=body)
    assert r.status_code == 200
    assert r.json()["new"] is True
    first = r.json()["contact"]["id"]
    r = await api.call("POST", "/contacts/upsert", json={**body, "city": "Rome"})
    assert r.json()["new"] is False
    assert r.json()["contact"]["id"] == first
    assert r.json()["contact"]["city"] == "Rome"
    assert r.json()["traceId"]


async def test_duplicate_create_is_a_400_naming_the_existing_contact(
    api: Api, conformance: Conformance
) -> None:
    first = await api.create(email="dup@example.com")
    r = await api.call(
        "POST", "/contacts/", json={"locationId": api.location, "email": "DUP@example.com"}
    )
    assert r.status_code == 400
    assert r.json()["meta"]["contactId"] == first["id"]
    second = await api.create(email="other@example.com")
    r = await api.call("PUT", f"/contacts/{second['id']}", json={"email": "dup@example.com"})
    assert r.status_code == 400
    assert r.json()["meta"]["contactId"] == first["id"]
    assert "duplicate-write-meta" in conformance.deviations_used()


async def test_validation_errors_are_422(api: Api, conformance: Conformance) -> None:
    created = await api.create(email="v@example.com")
    with conformance.invalid_requests():
        r = await api.call("POST", "/contacts/", json={"firstName": "No location"})
        assert r.status_code == 422
        assert r.json()["message"] == ["locationId should not be empty"]
        r = await api.call(
            "POST", "/contacts/", json={"locationId": api.location, "favouriteColour": "red"}
        )
        assert r.json()["message"] == ["property favouriteColour should not exist"]
        r = await api.call(
            "POST", "/contacts/", json={"locationId": api.location, "dnd": "yes", "tags": [1]}
        )
        assert r.status_code == 422
        r = await api.call("POST", "/contacts/upsert", json={"email": "x@example.com"})
        assert r.status_code == 422
        # UpdateContactDto has neither locationId nor companyName.
        r = await api.call("PUT", f"/contacts/{created['id']}", json={"companyName": "X"})
        assert r.json()["message"] == ["property companyName should not exist"]


async def test_refusals_that_the_spec_calls_valid(api: Api) -> None:
    # Valid per the spec's types, refused by the service's formats: still documented 422s.
    r = await api.call("POST", "/contacts/", json={"locationId": api.location, "email": "nope"})
    assert r.status_code == 422
    assert r.json()["message"] == ["email must be an email"]


async def test_malformed_json_is_a_400(api: Api, conformance: Conformance) -> None:
    with conformance.invalid_requests():
        r = await api.call(
            "POST",
            "/contacts/",
            content=b'{"locationId": ',
            headers={"Content-Type": "application/json"},
        )
    assert r.status_code == 400
    # BadRequestDTO: statusCode and message, no ``error`` (the sandbox used to add one).
    assert set(r.json()) == {"statusCode", "message"}


async def test_auth_and_version_refusals(api: Api, conformance: Conformance) -> None:
    created = await api.create(email="auth@example.com")
    url = f"/contacts/{created['id']}"
    with conformance.invalid_requests():
        r = await api.client.get(url, headers={"Version": "2021-07-28"})
        assert r.status_code == 401
        assert r.json()["error"] == "Unauthorized"
        r = await api.client.get(url, headers={"Authorization": api.headers["Authorization"]})
        assert r.status_code == 400
        assert r.json()["message"] == "Version header was not found"
        r = await api.call("GET", url, headers={"Version": "2020-01-01"})
        assert r.status_code == 400
    r = await api.call("GET", url, headers={"Authorization": "Bearer not-a-token"})
    assert r.status_code == 401
    r = await api.call("DELETE", url, headers=api.read_only())
    assert r.status_code == 401
    assert r.json()["message"] == "The token is not authorized for this scope."
    other = api.sandbox.locations[1]
    r = await api.call("POST", "/contacts/", json={"locationId": other, "email": "o@example.com"})
    assert r.status_code == 401


async def test_appointments_list(api: Api) -> None:
    created = await api.create(email="appt@example.com")
    r = await api.call("GET", f"/contacts/{created['id']}/appointments")
    assert r.status_code == 200
    assert r.json() == {"events": []}
    r = await api.call("GET", "/contacts/noSuchContact0000000/appointments")
    assert r.status_code == 400
