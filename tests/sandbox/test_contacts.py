"""Contacts: create, get, update, delete, upsert, duplicates, tags replacement, dateUpdated."""

from __future__ import annotations

import re

from reconciler.sandbox.clock import Clock
from reconciler.sandbox.state import Sandbox
from tests.sandbox.conftest import Api

ID = re.compile(r"^[A-Za-z0-9]{20}$")


async def test_create_answers_201_in_the_spec_shape_and_stores_every_property(
    api: Api, sandbox: Sandbox
) -> None:
    contact = await api.create(
        firstName="Rosan",
        lastName="Deo",
        email="Rosan@Deos.com",
        phone="+1 888-888-8888",
        companyName="DGS VolMAX",
        source="public api",
        address1="3535 1st St N",
        city="Dolomite",
        state="AL",
        postalCode="35061",
        country="US",
        website="https://www.tesla.com",
        timezone="America/Chihuahua",
        dnd=False,
        dndSettings={"Call": {"status": "active", "message": "no calls"}},
        dateOfBirth="1990-09-25",
        tags=["VIP", " lead ", "vip"],
        customFields=[{"id": "6dvNaf7VhkQ9snc5vnjJ", "field_value": "blue"}],
        gender="female",
        assignedTo="y0BeYjuRIlDwsDcOHOJo",
    )
    assert ID.match(contact["id"])
    assert contact["deleted"] is False
    assert contact["email"] == "Rosan@Deos.com"
    assert contact["emailLowerCase"] == "rosan@deos.com"
    assert contact["phone"] == "+18888888888"
    assert contact["companyName"] == "DGS VolMAX"
    assert contact["tags"] == ["vip", "lead"]
    assert contact["customFields"] == [{"id": "6dvNaf7VhkQ9snc5vnjJ", "value": "blue"}]
    assert contact["dateOfBirth"] == "1990-09-25T00:00:00.000Z"
    assert contact["dndSettings"] == {"Call": {"status": "active", "message": "no calls"}}
    assert contact["dateAdded"] == contact["dateUpdated"] == "2026-01-05T09:00:00.000Z"
    stored = sandbox.contacts(api.location)
    assert [c["id"] for c in stored] == [contact["id"]]
    assert stored[0]["source"] == "public api"


async def test_get_update_delete_round_trip(api: Api, clock: Clock) -> None:
    created = await api.create(firstName="Ann", email="ann@example.com", tags=["a", "b"])
    r = await api.request("GET", f"/contacts/{created['id']}")
    assert r.status_code == 200
    assert r.json()["contact"]["name"] == "Ann"

    clock.advance(5)
    r = await api.request("PUT", f"/contacts/{created['id']}", json={"lastName": "Lee"})
    assert r.status_code == 200
    body = r.json()
    assert body["succeded"] is True
    assert body["contact"]["lastName"] == "Lee"
    assert body["contact"]["tags"] == ["a", "b"]  # not sent: untouched
    assert body["contact"]["dateUpdated"] == "2026-01-05T09:00:05.000Z"

    r = await api.request("DELETE", f"/contacts/{created['id']}")
    assert r.status_code == 200
    assert r.json() == {"succeded": True}
    r = await api.request("GET", f"/contacts/{created['id']}")
    assert r.status_code == 400
    assert r.json() == {
        "statusCode": 400,
        "message": f"Contact with id {created['id']} not found",
    }


async def test_tags_on_put_replace_the_whole_set(api: Api) -> None:
    created = await api.create(email="t@example.com", tags=["one", "two"])
    r = await api.request("PUT", f"/contacts/{created['id']}", json={"tags": ["three"]})
    assert r.json()["contact"]["tags"] == ["three"]
    r = await api.request("PUT", f"/contacts/{created['id']}", json={"tags": []})
    assert r.json()["contact"]["tags"] == []


async def test_null_clears_a_nullable_field(api: Api) -> None:
    created = await api.create(email="n@example.com", city="Austin")
    r = await api.request("PUT", f"/contacts/{created['id']}", json={"city": None})
    assert r.status_code == 200
    assert "city" not in r.json()["contact"]


async def test_date_updated_moves_only_on_real_changes(api: Api, clock: Clock) -> None:
    created = await api.create(email="d@example.com", firstName="Dee")
    clock.advance(60)
    r = await api.request("PUT", f"/contacts/{created['id']}", json={"firstName": "Dee"})
    assert r.json()["contact"]["dateUpdated"] == created["dateUpdated"]
    r = await api.request("POST", f"/contacts/{created['id']}/tags", json={"tags": ["x"]})
    r = await api.request("GET", f"/contacts/{created['id']}")
    assert r.json()["contact"]["dateUpdated"] == "2026-01-05T09:01:00.000Z"


async def test_duplicate_create_is_refused_with_the_existing_contact_id(api: Api) -> None:
    first = await api.create(email="dup@example.com", phone="+15125550000")
    r = await api.request(
        "POST", "/contacts/", json={"locationId": api.location, "email": "DUP@example.com"}
    )
    assert r.status_code == 400
    body = r.json()
    assert body["statusCode"] == 400
    assert body["message"] == "This location does not allow duplicated contacts."
    assert body["meta"]["contactId"] == first["id"]
    assert body["meta"]["matchingField"] == "email"

    r = await api.request(
        "POST", "/contacts/", json={"locationId": api.location, "phone": "(512) 555-0000"}
    )
    assert r.status_code == 400
    assert r.json()["meta"] == {
        "contactName": "",
        "contactId": first["id"],
        "matchingField": "phone",
    }


async def test_duplicates_allowed_when_the_location_says_so(api: Api, sandbox: Sandbox) -> None:
    sandbox.update_settings(api.location, allow_duplicates=True)
    a = await api.create(email="same@example.com")
    b = await api.create(email="same@example.com")
    assert a["id"] != b["id"]


async def test_update_onto_another_contacts_email_is_refused(api: Api) -> None:
    a = await api.create(email="a@example.com")
    b = await api.create(email="b@example.com")
    r = await api.request("PUT", f"/contacts/{b['id']}", json={"email": "a@example.com"})
    assert r.status_code == 400
    assert r.json()["meta"]["contactId"] == a["id"]
    r = await api.request("GET", f"/contacts/{b['id']}")
    assert r.json()["contact"]["email"] == "b@example.com"  # nothing applied


async def test_upsert_matches_email_then_phone(api: Api) -> None:
    by_email = await api.create(email="up@example.com", firstName="Up")
    by_phone = await api.create(phone="+15125551111", firstName="Phone")

    r = await api.request(
        "POST",
        "/contacts/upsert",
        json={"locationId": api.location, "email": "UP@example.com", "tags": ["new"]},
    )
    assert r.status_code == 200
    body = r.json()
    assert body["new"] is False
    assert body["contact"]["id"] == by_email["id"]
    assert body["contact"]["tags"] == ["new"]
    assert isinstance(body["traceId"], str)

    r = await api.request(
        "POST",
        "/contacts/upsert",
        json={"locationId": api.location, "phone": "512-555-1111", "lastName": "Match"},
    )
    assert r.json()["new"] is False
    assert r.json()["contact"]["id"] == by_phone["id"]

    r = await api.request(
        "POST", "/contacts/upsert", json={"locationId": api.location, "email": "fresh@example.com"}
    )
    assert r.json()["new"] is True


async def test_upsert_ignores_a_second_field_owned_by_another_contact(api: Api) -> None:
    a = await api.create(email="first@example.com")
    b = await api.create(phone="+15125552222")
    r = await api.request(
        "POST",
        "/contacts/upsert",
        json={"locationId": api.location, "email": "first@example.com", "phone": "+15125552222"},
    )
    assert r.json()["contact"]["id"] == a["id"]
    assert "phone" not in r.json()["contact"]
    r = await api.request("GET", f"/contacts/{b['id']}")
    assert r.json()["contact"]["phone"] == "+15125552222"


async def test_create_new_if_duplicate_allowed(api: Api, sandbox: Sandbox) -> None:
    sandbox.update_settings(api.location, allow_duplicates=True)
    a = await api.create(email="twin@example.com")
    r = await api.request(
        "POST",
        "/contacts/upsert",
        json={
            "locationId": api.location,
            "email": "twin@example.com",
            "createNewIfDuplicateAllowed": True,
        },
    )
    assert r.json()["new"] is True
    assert r.json()["contact"]["id"] != a["id"]


async def test_custom_fields_merge_by_id_and_render_as_strings(api: Api) -> None:
    created = await api.create(
        email="cf@example.com",
        customFields=[{"id": "f1", "field_value": "x"}, {"id": "f2", "field_value": ["a", "b"]}],
    )
    assert created["customFields"] == [
        {"id": "f1", "value": "x"},
        {"id": "f2", "value": '["a", "b"]'},
    ]
    r = await api.request(
        "PUT",
        f"/contacts/{created['id']}",
        json={"customFields": [{"id": "f1", "field_value": ""}, {"id": "f3", "field_value": 7}]},
    )
    assert r.json()["contact"]["customFields"] == [
        {"id": "f2", "value": '["a", "b"]'},
        {"id": "f3", "value": "7"},
    ]


async def test_appointments_list_is_empty_but_shaped(api: Api) -> None:
    created = await api.create(email="ap@example.com")
    r = await api.request("GET", f"/contacts/{created['id']}/appointments")
    assert r.status_code == 200
    assert r.json() == {"events": []}
    r = await api.request("GET", "/contacts/unknown0000000000000/appointments")
    assert r.status_code == 400


async def test_other_locations_contacts_are_not_found(
    api: Api, sandbox: Sandbox, client: object
) -> None:
    created = await api.create(email="mine@example.com")
    other = sandbox.locations[1]
    other_api = Api(
        api.client,
        {**api.headers, "Authorization": f"Bearer {sandbox.private_token(other)}"},
        other,
    )
    r = await other_api.request("GET", f"/contacts/{created['id']}")
    assert r.status_code == 400
    r = await other_api.request(
        "POST", "/contacts/", json={"locationId": api.location, "email": "x@example.com"}
    )
    assert r.status_code == 401
    assert r.json()["message"] == "The token does not have access to this location."


async def test_duplicate_lookup_endpoint(api: Api) -> None:
    created = await api.create(email="look@example.com", phone="+15125553333")
    r = await api.request(
        "GET",
        "/contacts/search/duplicate",
        params={"locationId": api.location, "number": "+15125553333"},
    )
    assert r.status_code == 200
    assert r.json()["contact"]["id"] == created["id"]
    r = await api.request(
        "GET",
        "/contacts/search/duplicate",
        params={"locationId": api.location, "email": "nobody@example.com"},
    )
    assert r.json() == {"contact": None}


async def test_v3_dnd_channel_names_are_understood(api: Api) -> None:
    contact = await api.create(
        email="v3@example.com",
        dndSettings={"sms": {"status": "active"}, "Call": {"status": "inactive"}},
    )
    assert contact["dndSettings"] == {"SMS": {"status": "active"}, "Call": {"status": "inactive"}}
