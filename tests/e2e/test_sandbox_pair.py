"""End to end: two sandbox locations reconciled through the HighLevel connector over loopback
HTTP, with the sandbox's faults on the whole time (429s, 5xx, 5xx after a successful write,
requests that time out, truncated search pages, latency), seeded data and edits on both sides.

The pair converges within a bounded number of runs (a run whose listing a truncated page made
incomplete leaves work for the next one), the two locations then hold the same people, tags
and notes, no duplicate anywhere, and the next run writes nothing.
"""

from __future__ import annotations

from typing import Any

from reconciler.sandbox.server import running_server
from reconciler.sandbox.state import Sandbox
from reconciler.store.db import Store
from reconciler.sync.model import FieldConflictPolicy, NoteConflictPolicy, PairPolicy
from reconciler.sync.run import RunReport, reconcile
from tests.e2e.sandbox_pair import (
    Locations,
    Person,
    duplicates,
    highlevel_sides,
    location_state,
    new_sandbox,
    register_pair,
    seed,
)
from tests.engine.conftest import writes

FAULTS: dict[str, Any] = {
    "rate_limit": 0.05,
    "server_error": 0.05,
    "error_after_write": 0.05,
    "timeout": 0.01,
    "timeout_seconds": 0.05,
    "truncated_page": 0.15,
    "latency": 0.1,
    "latency_ms": 5,
}
MAX_RUNS = 10
NOTE = "call notes\nasked about pricing\n--\nfollow up next week"


def _people(prefix: str, count: int, tags: list[str]) -> list[Person]:
    return [
        Person(
            f"{prefix}{n}",
            email=f"{prefix.lower()}{n}@example.com",
            last="Smith" if n % 2 else None,
            tags=[tags[n % len(tags)], "seeded"],
            notes=[f"{prefix}{n}: first contact", NOTE] if n % 3 else [],
        )
        for n in range(count)
    ]


SHARED = [  # on both sides before the first run: matched by email
    Person("Sam", email="sam@example.com", tags=["vip"], notes=["Sam: met at the fair"]),
    Person("Tia", email="tia@example.com", phone="+15550177", notes=[NOTE]),
]
SHARED_ON_B = [
    Person("Sam", email="SAM@example.com", tags=["lead"], notes=["Sam: met at the fair"]),
    Person("Tia", email="tia@example.com", phone="+1 555 0177", tags=["cold"]),
]


def _contact(sandbox: Sandbox, location: str, email: str) -> dict[str, Any]:
    return next(c for c in sandbox.contacts(location) if c.get("email") == email)


def _note(sandbox: Sandbox, location: str, contact_id: str, body: str) -> str:
    return str(next(n["id"] for n in sandbox.notes(location, contact_id) if n["body"] == body))


def _edit_both_sides(sandbox: Sandbox, locations: Locations) -> None:
    """What people do between runs: notes edited (the same note on both sides, on different
    lines: a clean merge), created and deleted, tags changed, a name changed on both sides
    (A wins), a new contact on each side."""
    for side, line in (("a", 1), ("b", 3)):
        location = locations.of(side)
        store = sandbox.location(location)
        tia = _contact(sandbox, location, "tia@example.com")
        parts = NOTE.split("\n")
        parts[line] = f"edited on {side.upper()}"
        store.update_note(
            tia["id"], _note(sandbox, location, tia["id"], NOTE), {"body": "\n".join(parts)}
        )
        store.update_contact(tia["id"], {"firstName": f"Tia {side.upper()}"})
    a, b = sandbox.location(locations.a), sandbox.location(locations.b)
    a1 = _contact(sandbox, locations.a, "a1@example.com")
    a.change_tags(a1["id"], ["hot"], add=True)
    a.change_tags(a1["id"], ["seeded"], add=False)
    a.create_note(a1["id"], {"body": "A1 called back"})
    b2 = _contact(sandbox, locations.b, "b2@example.com")
    b.delete_note(b2["id"], _note(sandbox, locations.b, b2["id"], "B2: first contact"))
    b.change_tags(b2["id"], ["priority"], add=True)
    seed(sandbox, locations.a, [Person("Ann", email="ann@example.com", notes=["Ann: new"])])
    seed(sandbox, locations.b, [Person("Ben", phone="+15550199", tags=["lead"])])


def _writes(report_sides: Any) -> int:
    return writes(report_sides.a) + writes(report_sides.b)


async def _converge(
    store: Store, pair_id: str, base_url: str, locations: Locations, seen: dict[str, int]
) -> RunReport:
    """Runs until one lists both sides completely and has nothing to do (bounded); ``seen``
    counts the retries and 429s the connector went through."""
    for _ in range(MAX_RUNS):
        async with highlevel_sides(base_url, locations, page_limit=20) as sides:
            report = await reconcile(store, pair_id, sides)
            written = _writes(sides)
            for side in (sides.a, sides.b):
                seen["retries"] += side.usage().retries
                seen["rate_limited"] += side.usage().rate_limited
        assert report.status == "succeeded", report.errors
        if not report.counts and all(report.complete.values()):
            assert written == 0, "a run with nothing to do wrote"
            return report
    raise AssertionError(f"no convergence in {MAX_RUNS} runs: {report}")


async def test_two_sandbox_locations_converge_under_faults(store: Store) -> None:
    app, sandbox, locations = new_sandbox()
    seed(sandbox, locations.a, _people("A", 12, ["lead", "vip", "cold"]) + SHARED)
    seed(sandbox, locations.b, _people("B", 9, ["hot", "lead"]) + SHARED_ON_B)
    for location in (locations.a, locations.b):
        sandbox.set_faults(location, seed=3, **FAULTS)
    policy = PairPolicy(
        note_conflict=NoteConflictPolicy.MERGE, field_conflict=FieldConflictPolicy.A_WINS
    )
    pair_id = await register_pair(store, locations, policy=policy)

    seen = {"retries": 0, "rate_limited": 0}
    async with running_server(app) as base_url:
        await _converge(store, pair_id, base_url, locations, seen)
        first = (location_state(sandbox, locations.a), location_state(sandbox, locations.b))
        _edit_both_sides(sandbox, locations)
        last = await _converge(store, pair_id, base_url, locations, seen)

    on_a, on_b = location_state(sandbox, locations.a), location_state(sandbox, locations.b)
    assert first[0] == first[1]
    assert on_a == on_b
    assert not duplicates(sandbox, locations.a) + duplicates(sandbox, locations.b)
    assert len(on_a) == 12 + 9 + 2 + 2
    tia = on_a["tia@example.com"]
    assert tia[0] == "Tia A"  # a_wins
    assert "call notes\nedited on A\n--\nedited on B" in tia[4]  # merged
    assert on_a["sam@example.com"][3] == ("lead", "vip")  # the initial tags' union
    assert "hot" in on_b["a1@example.com"][3]
    assert "seeded" not in on_b["a1@example.com"][3]
    assert "B2: first contact" not in on_a["b2@example.com"][4]
    assert last.conflicts_opened == 0
    assert seen["retries"] > 0, "the faults were not felt"
    assert seen["rate_limited"] > 0
