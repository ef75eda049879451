"""HighLevel's official Python SDK (``gohighlevel-api-client``, import ``highlevel``) against the
sandbox over real loopback, with the conformance gate on the SDK's own httpx client.

The SDK takes no base URL: it is pointed at the sandbox by subclassing ``HighLevel`` with
``BASE_URL`` and ``API_VERSION`` (HIGHLEVEL.md, 'Official SDKs'; its default version is v3).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi import FastAPI
from highlevel import GHLError, HighLevel

from reconciler.sandbox.clock import Clock
from reconciler.sandbox.server import running_server
from reconciler.sandbox.state import Sandbox
from tests.conformance.conftest import VERSION
from tests.conformance.validator import Conformance


def sdk_at(base_url: str) -> Any:
    """A ``HighLevel`` subclass talking to ``base_url`` with the v2 contract's Version."""
    return type("SandboxHighLevel", (HighLevel,), {"BASE_URL": base_url, "API_VERSION": VERSION})


async def test_sdk_contact_tags_notes_and_search(
    app: FastAPI, sandbox: Sandbox, location: str, conformance: Conformance
) -> None:
    async with running_server(app) as base_url:
        ghl = sdk_at(base_url)(private_integration_token=sandbox.private_token(location))
        conformance.install(ghl.http_client)
        try:
            created = await ghl.contacts.create_contact(
                {"locationId": location, "firstName": "Sdk", "email": "sdk@example.com"}
            )
            contact_id = created["contact"]["id"]

            tags = await ghl.contacts.add_tags(contact_id, {"tags": ["Alpha", "beta"]})
            assert tags == {"tags": ["alpha", "beta"]}
            tags = await ghl.contacts.remove_tags(contact_id, {"tags": ["alpha"]})
            assert tags == {"tags": ["beta"]}

            note = (await ghl.contacts.create_note(contact_id, {"body": "first"}))["note"]
            updated = await ghl.contacts.update_note(contact_id, note["id"], {"body": "second"})
            assert updated["note"]["body"] == "second"
            assert await ghl.contacts.delete_note(contact_id, note["id"]) == {"succeded": True}
            assert (await ghl.contacts.get_all_notes(contact_id))["notes"] == []

            found = await ghl.contacts.search_contacts_advanced(
                {
                    "locationId": location,
                    "pageLimit": 10,
                    "filters": [{"field": "tags", "operator": "eq", "value": "beta"}],
                }
            )
            assert [c["id"] for c in found["contacts"]] == [contact_id]
            assert found["total"] == 1

            with pytest.raises(GHLError) as refused:
                await ghl.contacts.get_contact("noSuchContact0000000")
            assert refused.value.status_code == 400
        finally:
            await ghl.close()
    assert {e.operation for e in conformance.exchanges} >= {
        "create-contact",
        "add-tags",
        "remove-tags",
        "create-note",
        "update-note",
        "delete-note",
        "get-all-notes",
        "search-contacts-advanced",
        "get-contact",
    }


# The SDK posts its token form as ``data=<str>``, which httpx deprecates: the SDK's own habit.
@pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning")
async def test_sdk_oauth_code_exchange_and_refresh(
    app: FastAPI, sandbox: Sandbox, location: str, clock: Clock, conformance: Conformance
) -> None:
    oauth_app = sandbox.oauth_app
    async with running_server(app) as base_url:
        ghl = sdk_at(base_url)(client_id=oauth_app.client_id, client_secret=oauth_app.client_secret)
        conformance.install(ghl.http_client)
        try:
            consent = await ghl.http_client.get(
                "/oauth/chooselocation",
                params={
                    "response_type": "code",
                    "client_id": oauth_app.client_id,
                    "redirect_uri": oauth_app.redirect_uris[0],
                    "scope": "contacts.readonly contacts.write",
                },
            )
            code = parse_qs(urlsplit(consent.headers["location"]).query)["code"][0]
            first = await ghl.oauth.get_access_token(
                {
                    "client_id": oauth_app.client_id,
                    "client_secret": oauth_app.client_secret,
                    "grant_type": "authorization_code",
                    "code": code,
                    "user_type": "Location",
                    "redirect_uri": oauth_app.redirect_uris[0],
                }
            )
            await ghl.session_storage.set_session(location, first)
            await ghl.contacts.create_contact({"locationId": location, "email": "o1@example.com"})

            # The access token expires in the sandbox: the SDK meets a 401, refreshes through
            # its helper (camelCase form names) and retries, all on its own.
            clock.advance(86400)
            with conformance.allow("sdk-camel-case-token-form"):
                created = await ghl.contacts.create_contact(
                    {"locationId": location, "email": "o2@example.com"}
                )
                assert created["contact"]["email"] == "o2@example.com"
                session = await ghl.session_storage.get_session(location)
                assert session["refresh_token"] != first["refresh_token"]

                # Rotation: the first refresh token was spent by that refresh.
                with pytest.raises(GHLError) as spent:
                    await ghl.oauth.refresh_token(
                        first["refresh_token"],
                        oauth_app.client_id,
                        oauth_app.client_secret,
                        "refresh_token",
                        "Location",
                    )
                assert spent.value.status_code == 400
                again = await ghl.oauth.refresh_token(
                    session["refresh_token"],
                    oauth_app.client_id,
                    oauth_app.client_secret,
                    "refresh_token",
                    "Location",
                )
            assert again["locationId"] == location
        finally:
            await ghl.close()
    statuses = [(e.operation, e.status) for e in conformance.exchanges]
    assert ("create-contact", 401) in statuses
    assert statuses.count(("get-access-token", 200)) == 3
    assert "sdk-camel-case-token-form" in conformance.deviations_used()
