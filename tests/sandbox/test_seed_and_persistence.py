"""Seeded data is realistic and reproducible; the state file round-trips."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest

from reconciler.errors import ConfigError
from reconciler.sandbox.app import create_app
from reconciler.sandbox.clock import Clock
from reconciler.sandbox.state import Sandbox
from tests.sandbox.conftest import Api, auth, make_config

ID = re.compile(r"^[A-Za-z0-9]{20}$")
E164 = re.compile(r"^\+[1-9]\d{7,14}$")


def test_seed_is_deterministic_and_realistic(clock: Clock) -> None:
    one = Sandbox(make_config(clock, contacts_per_location=50))
    two = Sandbox(make_config(clock, contacts_per_location=50))
    assert one.locations == two.locations
    location = one.locations[0]
    contacts = one.contacts(location)
    assert contacts == two.contacts(location)
    assert len(contacts) == 50
    for contact in contacts:
        assert ID.match(contact["id"])
        assert E164.match(contact["phone"])
        assert "@" in contact["email"]
        assert contact["firstName"]
        assert contact["lastName"]
    assert len({c["phone"] for c in contacts}) == 50
    assert any(c["tags"] for c in contacts)
    notes = [n for c in contacts for n in one.notes(location, c["id"])]
    assert notes
    assert all(len(n["body"].split()) >= 10 for n in notes)
    other = Sandbox(make_config(clock, contacts_per_location=50, seed=8))
    assert other.contacts(other.locations[0]) != contacts


async def test_state_file_round_trip(tmp_path: Path, clock: Clock) -> None:
    path = tmp_path / "state.json"
    config = make_config(clock, contacts_per_location=5, persist_path=path)
    app = create_app(config)
    sandbox: Sandbox = app.state.sandbox
    location = sandbox.locations[0]
    token = sandbox.private_token(location)
    sandbox.update_settings(location, allow_duplicates=True, search_lag_seconds=1)
    sandbox.add_webhook("http://127.0.0.1:9/hook")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://s") as client:
        api = Api(client, auth(token), location)
        created = await api.create(email="persist@example.com", tags=["kept"])
        await api.request("POST", f"/contacts/{created['id']}/notes", json={"body": "saved"})
    keys = sandbox.public_keys()
    before = sandbox.contacts(location)
    await sandbox.aclose()
    assert path.exists()

    app2 = create_app(make_config(clock, persist_path=path))
    restored: Sandbox = app2.state.sandbox
    assert restored.locations == sandbox.locations
    assert restored.contacts(location) == before
    assert restored.notes(location, created["id"])[0]["body"] == "saved"
    assert restored.location(location).settings.allow_duplicates is True
    assert restored.public_keys() == keys
    assert restored.oauth_app.webhook_urls == ["http://127.0.0.1:9/hook"]
    transport = httpx.ASGITransport(app=app2)
    async with httpx.AsyncClient(transport=transport, base_url="http://s") as client:
        api = Api(client, auth(token), location)  # the token survived
        r = await api.request("GET", f"/contacts/{created['id']}")
        assert r.status_code == 200
        assert (await api.search(pageLimit=100)).json()["total"] == 6
        fresh = await api.create(email="after-restart@example.com")
        assert fresh["id"] not in {c["id"] for c in before}
    await restored.aclose()
    exported = json.loads(path.read_text())
    assert "tokens" in exported
    assert "keys" in exported


async def test_saves_are_debounced_after_writes(tmp_path: Path, clock: Clock) -> None:
    path = tmp_path / "state.json"
    app = create_app(make_config(clock, persist_path=path, persist_interval_seconds=0.05))
    sandbox: Sandbox = app.state.sandbox
    location = sandbox.locations[0]
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://s") as client:
        api = Api(client, auth(sandbox.private_token(location)), location)
        await api.create(email="debounce@example.com")
        task = sandbox.saver._task
        assert task is not None
        await task
    saved = json.loads(path.read_text())
    emails = [c["fields"].get("email") for c in saved["locations"][0]["contacts"]]
    assert emails == ["debounce@example.com"]
    await sandbox.aclose()


def test_a_broken_state_file_is_a_clear_config_error(tmp_path: Path, clock: Clock) -> None:
    path = tmp_path / "state.json"
    path.write_text("{not json")
    with pytest.raises(ConfigError, match="persist_path"):
        Sandbox(make_config(clock, persist_path=path))


async def test_export_has_no_secrets(api: Api, sandbox: Sandbox) -> None:
    await api.create(email="export@example.com")
    r = await api.client.get(
        "/sandbox/admin/state", headers={"X-Sandbox-Admin-Key": sandbox.admin_key}
    )
    assert r.status_code == 200
    text = r.text
    assert "export@example.com" in text
    assert "pit-" not in text
    assert "PRIVATE KEY" not in text
