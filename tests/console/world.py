"""The console's end-to-end world: two HighLevel sandbox locations (sides A and B) served over
loopback, a SQLite store, the engine's runs producing real conflicts, and the API app (with the
console) on its own loopback server.

``console_world(sqlite_template, tmp_path)`` yields a ``World``: the API's base URL, API keys
per role, the sides (``HighLevelSide`` on each location, to change what the people on either
side see), and ``run()`` to reconcile the pair as the scheduler would.

Seeded story (what an operator finds in the inbox):
- Ann Lee is on both sides; a first run links her and agrees on her note "Called Ann.".
  Then A's user appends "She wants a demo." and B's user "She wants pricing.": the pair's
  note policy is manual, so the next run opens a NOTE conflict.
- Bob Stone's first name is changed on both sides (Bobby / Robert): a FIELD conflict.
- Cara Diaz is on A only with a "Lead" tag: she is copied to B (no conflict).
- Dee Park is on both sides before the first run, tagged differently (A: VIP, Lead; B: Lead,
  Partner). With no base and the pair's initial-tags policy at manual, the FIRST run opens a
  TAGS_INITIAL conflict.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from reconciler.api.app import create_app
from reconciler.sandbox.app import create_app as create_sandbox
from reconciler.sandbox.config import SandboxConfig
from reconciler.sandbox.server import running_server
from reconciler.sandbox.state import Sandbox
from reconciler.service import keys
from reconciler.sides.base import ContactDraft
from reconciler.sides.highlevel import HighLevelSide
from reconciler.store import repo_pairs
from reconciler.store.db import Store
from reconciler.store.schema import AccountKind, ApiKeyRole
from reconciler.store.types import utcnow
from reconciler.sync.model import PairPolicy, TagsInitialPolicy
from reconciler.sync.run import RunReport, SidePair, reconcile
from tests.sides.sandbox_sides import make_side

ANN_BASE_NOTE = "Called Ann about the renewal."
ANN_NOTE_A = ANN_BASE_NOTE + "\nShe wants a demo of the new reports next week."
ANN_NOTE_B = ANN_BASE_NOTE + "\nShe wants pricing for the team plan next week."


@dataclass
class World:
    base_url: str
    keys: dict[str, str]
    store: Store
    sandbox: Sandbox
    pair_id: str
    a: HighLevelSide
    b: HighLevelSide
    location_a: str
    location_b: str

    async def run(self, *, dry_run: bool = False) -> RunReport:
        return await reconcile(
            self.store, self.pair_id, SidePair(a=self.a, b=self.b), dry_run=dry_run
        )

    def notes(self, side: str, email: str) -> list[str]:
        """Note bodies of the contact with ``email`` as the sandbox holds them."""
        location = self.location_a if side == "a" else self.location_b
        (contact,) = [c for c in self.sandbox.contacts(location) if c.get("email") == email.lower()]
        return sorted(n["body"] for n in self.sandbox.notes(location, contact["id"]))

    def contact(self, side: str, email: str) -> dict[str, Any]:
        location = self.location_a if side == "a" else self.location_b
        (contact,) = [c for c in self.sandbox.contacts(location) if c.get("email") == email.lower()]
        return contact


async def _make_keys(store: Store) -> dict[str, str]:
    made = {}
    for role in ApiKeyRole:
        _row, plain = await keys.create_key(store, name=f"{role.value} (console test)", role=role)
        made[role.value] = plain
    return made


async def _seed_sides(a: HighLevelSide, b: HighLevelSide) -> dict[str, str]:
    """Contacts on both sides before the first run; returns contact ids by "side:email"."""
    ids = {}
    for side_name, side in (("a", a), ("b", b)):
        ann = await side.create_contact(
            ContactDraft(first_name="Ann", last_name="Lee", email="ann@example.com")
        )
        await side.create_note(ann.id, ANN_BASE_NOTE)
        bob = await side.create_contact(
            ContactDraft(first_name="Bob", last_name="Stone", email="bob@example.com")
        )
        ids[f"{side_name}:ann"] = ann.id
        ids[f"{side_name}:bob"] = bob.id
    cara = await a.create_contact(
        ContactDraft(
            first_name="Cara", last_name="Diaz", email="cara@example.com", tags=frozenset({"Lead"})
        )
    )
    ids["a:cara"] = cara.id
    for side, tags in ((a, {"VIP", "Lead"}), (b, {"Lead", "Partner"})):
        await side.create_contact(
            ContactDraft(
                first_name="Dee", last_name="Park", email="dee@example.com", tags=frozenset(tags)
            )
        )
    return ids


async def _diverge(a: HighLevelSide, b: HighLevelSide, ids: dict[str, str]) -> None:
    """Both sides edit the same things differently after they agreed."""
    (note_a,) = await a.get_notes(ids["a:ann"])
    (note_b,) = await b.get_notes(ids["b:ann"])
    await a.update_note(ids["a:ann"], note_a.id, ANN_NOTE_A)
    await b.update_note(ids["b:ann"], note_b.id, ANN_NOTE_B)
    await a.update_contact(ids["a:bob"], {"first_name": "Bobby"})
    await b.update_contact(ids["b:bob"], {"first_name": "Robert"})


@asynccontextmanager
async def console_world(sqlite_template: Path, tmp_path: Path) -> AsyncIterator[World]:
    db = tmp_path / "console.db"
    shutil.copyfile(sqlite_template, db)
    store = Store(f"sqlite+aiosqlite:///{db}")
    sandbox_app = create_sandbox(
        SandboxConfig(seed=11, locations=2, contacts_per_location=0, rsa_key_bits=1024)
    )
    sandbox: Sandbox = sandbox_app.state.sandbox
    location_a, location_b = sandbox.locations
    try:
        async with running_server(sandbox_app) as sandbox_url, httpx.AsyncClient() as http:
            a = make_side(http, sandbox_url, location_a, sandbox.private_token(location_a))
            b = make_side(http, sandbox_url, location_b, sandbox.private_token(location_b))
            now = utcnow()
            async with store.transaction() as s:
                acc_a = await repo_pairs.create_side_account(
                    s, label="Acme HQ", kind=AccountKind.HIGHLEVEL, location_id=location_a, now=now
                )
                acc_b = await repo_pairs.create_side_account(
                    s,
                    label="Acme Field",
                    kind=AccountKind.HIGHLEVEL,
                    location_id=location_b,
                    now=now,
                )
                pair = await repo_pairs.create_pair(
                    s,
                    name="acme-hq ⇄ acme-field",
                    side_a_account_id=acc_a.id,
                    side_b_account_id=acc_b.id,
                    now=now,
                    policy=PairPolicy(tags_initial=TagsInitialPolicy.MANUAL),
                )
                # HighLevel notes carry no update time: a note edited on a contact that did
                # not change is seen by the rolling notes scan. Read every contact's notes on
                # every run here, so the story's note conflict opens on the second run.
                pair.scan = {"notes_period_s": 0.05}
                s.add(pair)
            world = World(
                base_url="",
                keys=await _make_keys(store),
                store=store,
                sandbox=sandbox,
                pair_id=pair.id,
                a=a,
                b=b,
                location_a=location_a,
                location_b=location_b,
            )
            ids = await _seed_sides(a, b)
            first = await world.run()
            await asyncio.sleep(0.1)  # past the notes period (the wall clock: the engine reads it)
            assert first.status == "succeeded", first
            assert first.conflicts_opened == 1, first  # Dee's tags
            await _diverge(a, b, ids)
            second = await world.run()
            assert second.status == "succeeded", second
            assert second.conflicts_opened == 2, second

            @asynccontextmanager
            async def open_sides(pair_id: str) -> AsyncIterator[SidePair]:
                assert pair_id == world.pair_id
                yield SidePair(a=a, b=b)

            # The engine publishes conflict events on the process-wide bus: the app listens there.
            api = create_app(store, side_opener=open_sides)
            async with running_server(api) as api_url:
                world.base_url = api_url
                yield world
    finally:
        await sandbox.aclose()
        await store.dispose()
