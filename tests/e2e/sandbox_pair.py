"""Two HighLevel locations of one sandbox, reconciled through the production connector
(``HighLevelSide`` over loopback HTTP), and what the end-to-end and kill -9 tests read back.

Also imported by ``tests/engine_props/kill_child.py``, which runs in a separate process: only
plain functions here, no pytest.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from fastapi import FastAPI

from reconciler.sandbox.app import create_app
from reconciler.sandbox.config import SandboxConfig
from reconciler.sandbox.state import Sandbox
from reconciler.sides.highlevel import HighLevelSide, ListingPolicy, PrivateToken, RetryPolicy
from reconciler.store import repo_pairs
from reconciler.store.db import Store
from reconciler.store.schema import AccountKind
from reconciler.store.tables import PairRow
from reconciler.sync.model import PairPolicy
from reconciler.sync.run import SidePair
from tests.sides.clocks import FastClock

# Backoff in milliseconds, not seconds (the sandbox answers at once); patient enough that a
# request fails for good only when a fault hits it ~8 times in a row. The connector's clock
# runs 1,000 times faster than real time (``FastClock``): a 429's "Retry-After: 1" costs 1 ms,
# with every wait kept in proportion.
FAST_RETRY = RetryPolicy(max_attempts=8, base_delay=0.002, max_delay=0.02, lookup_delay=0.0)
OUT_OF_REACH = 10_000_000  # rate limits the tests never reach (pacing has its own tests)


@dataclass(frozen=True)
class Locations:
    """The sandbox's two locations: side A's and side B's, with a token for each."""

    a: str
    b: str
    tokens: Mapping[str, str]

    def of(self, side: str) -> str:
        return self.a if side == "a" else self.b


def new_sandbox(**config: Any) -> tuple[FastAPI, Sandbox, Locations]:
    settings: dict[str, Any] = {
        "seed": 11,
        "locations": 2,
        "rate_limit_max": OUT_OF_REACH,
        "rate_limit_daily": OUT_OF_REACH,
    }
    settings.update(config)
    app = create_app(SandboxConfig(**settings))
    sandbox = app.state.sandbox
    assert isinstance(sandbox, Sandbox)
    a, b = sandbox.locations
    tokens = {"a": sandbox.private_token(a), "b": sandbox.private_token(b)}
    return app, sandbox, Locations(a, b, tokens)


def highlevel_side(
    http: httpx.AsyncClient,
    base_url: str,
    location: str,
    token: str,
    *,
    page_limit: int = 100,
    retry: RetryPolicy = FAST_RETRY,
) -> HighLevelSide:
    return HighLevelSide(
        http,
        location_id=location,
        credentials=PrivateToken(token),
        base_url=base_url,
        listing=ListingPolicy(page_limit=page_limit, notes_concurrency=4),
        retry=retry,
        clock=FastClock(),
    )


@asynccontextmanager
async def highlevel_sides(
    base_url: str, locations: Locations, *, page_limit: int = 100
) -> AsyncIterator[SidePair]:
    async with httpx.AsyncClient(timeout=httpx.Timeout(10.0)) as http:
        yield SidePair(
            a=highlevel_side(
                http, base_url, locations.a, locations.tokens["a"], page_limit=page_limit
            ),
            b=highlevel_side(
                http, base_url, locations.b, locations.tokens["b"], page_limit=page_limit
            ),
        )


async def register_pair(
    store: Store, locations: Locations, *, policy: PairPolicy | None = None
) -> str:
    """The pair in the store (two HighLevel accounts); every run reads every link's notes."""
    now = datetime.now(UTC)
    async with store.transaction() as s:
        accounts = [
            await repo_pairs.create_side_account(
                s, label=label, kind=AccountKind.HIGHLEVEL, location_id=location, now=now
            )
            for label, location in (("A", locations.a), ("B", locations.b))
        ]
        pair = await repo_pairs.create_pair(
            s,
            name="e2e",
            side_a_account_id=accounts[0].id,
            side_b_account_id=accounts[1].id,
            now=now,
            policy=policy,
        )
        row = await s.get(PairRow, pair.id)
        assert row is not None
        row.scan = {"notes_period_s": 1.0}
    return pair.id


@dataclass(frozen=True)
class Person:
    first: str
    email: str | None = None
    phone: str | None = None
    last: str | None = None
    tags: Sequence[str] = ()
    notes: Sequence[str] = ()


def seed(sandbox: Sandbox, location: str, people: Sequence[Person]) -> dict[str, str]:
    """People added to a location as its users would; returns contact ids by first name."""
    store = sandbox.location(location)
    ids: dict[str, str] = {}
    for person in people:
        given: dict[str, Any] = {"firstName": person.first, "tags": list(person.tags)}
        for key, value in (
            ("lastName", person.last),
            ("email", person.email),
            ("phone", person.phone),
        ):
            if value is not None:
                given[key] = value
        contact = store.create_contact(given)
        for body in person.notes:
            store.create_note(contact.id, {"body": body})
        ids[person.first] = contact.id
    return ids


def location_state(sandbox: Sandbox, location: str) -> dict[str, tuple[Any, ...]]:
    """Each contact by email (or phone, or name): (first, last, phone, tags, note bodies)."""
    out: dict[str, tuple[Any, ...]] = {}
    for contact in sandbox.contacts(location):
        email = contact.get("email")
        key = email.lower() if email else contact.get("phone") or f"name:{contact.get('firstName')}"
        assert key not in out, f"two contacts {key} in {location}"
        notes = sorted(n["body"] for n in sandbox.notes(location, contact["id"]))
        out[key] = (
            contact.get("firstName"),
            contact.get("lastName"),
            contact.get("phone"),
            tuple(sorted(contact["tags"])),
            tuple(notes),
        )
    return out


def duplicates(sandbox: Sandbox, location: str) -> list[str]:
    """Contacts sharing an email or phone, notes sharing a body on one contact."""
    found: list[str] = []
    seen: dict[str, str] = {}
    for contact in sandbox.contacts(location):
        for key in (contact.get("email"), contact.get("phone")):
            if key is None:
                continue
            if key.lower() in seen:
                found.append(f"{location}: {seen[key.lower()]} and {contact['id']} are {key}")
            seen[key.lower()] = contact["id"]
        bodies = [n["body"] for n in sandbox.notes(location, contact["id"])]
        found.extend(
            f"{location}: note {body!r} twice on {contact['id']}"
            for body in set(bodies)
            if bodies.count(body) > 1
        )
    return found
