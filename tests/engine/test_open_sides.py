"""``open_sides``: a pair's sides from its accounts; a run between the HighLevel sandbox (a
private integration token, in process through ``httpx.ASGITransport``) and a memory side."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from reconciler.errors import AuthError
from reconciler.sandbox.app import create_app
from reconciler.sandbox.config import SandboxConfig
from reconciler.sandbox.state import Sandbox
from reconciler.service.sides import open_sides
from reconciler.settings import Settings
from reconciler.sides.highlevel import HighLevelSide
from reconciler.sides.memory import MemorySide
from reconciler.store import repo_pairs
from reconciler.store.credentials import AccountCredentials
from reconciler.store.crypto import Cipher, Secret, generate_key
from reconciler.store.db import Store
from reconciler.store.schema import AccountKind, AuthKind
from reconciler.sync.run import reconcile
from tests.engine.conftest import START, Clock, Env, person

BASE = "http://sandbox.test"


async def test_memory_sides_come_from_the_registry(env: Env) -> None:
    registry = {"engine-a": env.a, "engine-b": env.b}
    async with open_sides(env.store, env.pair_id, memory_registry=registry) as sides:
        assert sides.a is env.a
        assert sides.b is env.b


async def _highlevel_pair(store: Store, cipher: Cipher, location: str, token: str | None) -> str:
    async with store.transaction() as s:
        hl = await repo_pairs.create_side_account(
            s,
            label="HighLevel",
            kind=AccountKind.HIGHLEVEL,
            location_id=location,
            base_url=BASE,
            auth_kind=AuthKind.PIT if token else None,
            credentials=AccountCredentials(pit=Secret(token)) if token else None,
            cipher=cipher,
            now=START,
        )
        mem = await repo_pairs.create_side_account(
            s, label="Memory", kind=AccountKind.MEMORY, location_id="mem", now=START
        )
        pair = await repo_pairs.create_pair(
            s, name="hl", side_a_account_id=hl.id, side_b_account_id=mem.id, now=START
        )
    return pair.id


async def test_a_run_between_the_sandbox_and_a_memory_side(store: Store, tmp_path: Path) -> None:
    app = create_app(SandboxConfig(contacts_per_location=4, max_notes_per_contact=2))
    sandbox = app.state.sandbox
    assert isinstance(sandbox, Sandbox)
    location = sandbox.locations[0]
    cipher = Cipher([generate_key()])
    pair_id = await _highlevel_pair(store, cipher, location, sandbox.private_token(location))
    memory = MemorySide("memory", clock=Clock())
    settings = Settings(data_dir=tmp_path)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as http:
        opened = open_sides(
            store,
            pair_id,
            http_client=http,
            memory_registry={"mem": memory},
            settings=settings,
            cipher=cipher,
        )
        async with opened as sides:
            assert isinstance(sides.a, HighLevelSide)
            first = await reconcile(store, pair_id, sides)
            second = await reconcile(store, pair_id, sides)
            hl_people = {c["email"] for c in sandbox.contacts(location) if c.get("email")}
    assert first.status == "succeeded", first.errors
    assert {c.email for c in memory.user.contacts()} == hl_people
    notes_copied = sum(len(memory.user.notes(c.id)) for c in memory.user.contacts())
    assert notes_copied == sum(
        len(sandbox.notes(location, c["id"])) for c in sandbox.contacts(location)
    )
    assert second.counts == {}
    assert person(memory)  # something was synced
    await sandbox.aclose()


async def test_an_account_without_credentials_is_a_clear_error(
    store: Store, tmp_path: Path
) -> None:
    cipher = Cipher([generate_key()])
    pair_id = await _highlevel_pair(store, cipher, "loc-without-token", None)
    async with httpx.AsyncClient() as http:
        with pytest.raises(AuthError, match="not connected"):
            async with open_sides(
                store,
                pair_id,
                http_client=http,
                memory_registry={"mem": MemorySide()},
                settings=Settings(data_dir=tmp_path),
                cipher=cipher,
            ):
                pass
