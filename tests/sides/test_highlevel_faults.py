"""The HighLevel connector against a faulty sandbox: listings stay complete and exact, retried
writes leave no duplicate.

The sandbox's rate limit is raised out of reach here (pacing is tested elsewhere) and the
client runs on a ``FastClock``, so every backoff and ``Retry-After`` keeps its proportions but
takes a thousandth of the time.
"""

from __future__ import annotations

from collections import Counter

from reconciler.sandbox.clock import parse_iso
from reconciler.sandbox.state import Sandbox
from reconciler.sides.base import Contact, ContactDraft
from reconciler.sides.highlevel import HighLevelSide, RetryPolicy
from tests.sides.clocks import FastClock
from tests.sides.sandbox_sides import http_to, make_side, new_sandbox

# With 35% of attempts failing, 15 attempts leave a ~1e-7 chance per request of giving up.
PATIENT = RetryPolicy(max_attempts=15, base_delay=0.05, max_delay=2.0, lookup_delay=1.0)
FAULTS = {"rate_limit": 0.20, "server_error": 0.10, "error_after_write": 0.05}
UNREACHABLE_LIMIT = 10_000_000


def _as_sandbox_view(contact: Contact) -> dict[str, object]:
    assert contact.date_updated is not None
    return {
        "id": contact.id,
        "firstName": contact.first_name,
        "lastName": contact.last_name,
        "email": contact.email,
        "phone": contact.phone,
        "tags": sorted(contact.tags),
        "dateUpdated": contact.date_updated.timestamp(),
    }


def _sandbox_truth(sandbox: Sandbox, location: str) -> dict[str, dict[str, object]]:
    return {
        c["id"]: {
            "id": c["id"],
            "firstName": c.get("firstName"),
            "lastName": c.get("lastName"),
            "email": c.get("email"),
            "phone": c.get("phone"),
            "tags": sorted(c["tags"]),
            "dateUpdated": parse_iso(c["dateUpdated"]),
        }
        for c in sandbox.contacts(location)
    }


async def test_full_listing_with_notes_is_complete_and_exact_under_faults() -> None:
    app, sandbox, location = new_sandbox(
        seed=5, contacts_per_location=5_000, rate_limit_max=UNREACHABLE_LIMIT
    )
    sandbox.set_faults(location, seed=1, **FAULTS)
    token = sandbox.private_token(location)
    async with http_to(app, loopback=False) as (http, base):
        side = make_side(
            http, base, location, token, clock=FastClock(), retry=PATIENT, notes_concurrency=16
        )
        listed: list[Contact] = []
        async for page in side.stream_contacts():
            assert page.complete
            assert not page.rejected
            listed.extend(page.contacts)
        notes = {item.contact_id: item async for item in side.list_notes([c.id for c in listed])}

    truth = _sandbox_truth(sandbox, location)
    assert len(truth) == 5_000
    assert {c.id: _as_sandbox_view(c) for c in listed} == truth
    assert len(listed) == len(truth)  # and nothing twice
    assert set(notes) == set(truth)
    for contact_id, item in notes.items():
        assert item.error is None
        assert item.notes is not None
        expected = [(n["id"], n["body"]) for n in sandbox.notes(location, contact_id)]
        assert [(n.id, n.body) for n in item.notes] == expected
    usage = side.usage()
    assert usage.rate_limited > 500  # the faults really were there
    assert usage.retries > 1_000
    assert usage.errors == {}  # ...and none of them reached the caller


async def _create_under_faults(side: HighLevelSide, count: int) -> tuple[list[str], list[str]]:
    contact_ids: list[str] = []
    note_ids: list[str] = []
    for n in range(count):
        contact = await side.create_contact(
            ContactDraft(
                first_name=f"New{n}",
                last_name="Person",
                email=f"new{n}@example.com",
                phone=f"+1555020{n:04d}",
                tags=frozenset({"imported"}),
            )
        )
        contact_ids.append(contact.id)
        for k in range(2):
            note = await side.create_note(contact.id, f"note {k} for {n} ✓")
            note_ids.append(note.id)
    return contact_ids, note_ids


async def test_retried_creates_leave_no_duplicate() -> None:
    # Duplicates allowed: the server would not refuse a second copy, so only our lookup
    # before re-sending stands between a lost answer and a duplicate.
    app, sandbox, location = new_sandbox(seed=6, rate_limit_max=UNREACHABLE_LIMIT)
    sandbox.update_settings(location, allow_duplicates=True)
    sandbox.set_faults(location, seed=2, **FAULTS)
    token = sandbox.private_token(location)
    async with http_to(app, loopback=False) as (http, base):
        side = make_side(http, base, location, token, clock=FastClock(), retry=PATIENT)
        contact_ids, note_ids = await _create_under_faults(side, 150)

    stored = sandbox.contacts(location)
    assert sorted(c["id"] for c in stored) == sorted(contact_ids)
    emails = Counter(c["email"] for c in stored)
    assert emails.most_common(1)[0][1] == 1
    stored_notes = [n for cid in contact_ids for n in sandbox.notes(location, cid)]
    assert sorted(n["id"] for n in stored_notes) == sorted(note_ids)
    assert Counter((n["contactId"], n["body"]) for n in stored_notes).most_common(1)[0][1] == 1
    usage = side.usage()
    # Lost answers did happen, and each was looked up instead of blindly re-sent.
    assert usage.errors.get("UncertainWriteError", 0) >= 5
    assert usage.requests.get("POST /contacts/search", 0) > 0
    assert usage.requests.get("GET /contacts/{contactId}/notes", 0) > 0


async def test_truncated_pages_are_flagged_and_nothing_is_lost() -> None:
    app, sandbox, location = new_sandbox(
        seed=7, contacts_per_location=120, rate_limit_max=UNREACHABLE_LIMIT
    )
    sandbox.set_faults(location, seed=3, truncated_page=0.5)
    token = sandbox.private_token(location)
    async with http_to(app, loopback=False) as (http, base):
        side = make_side(http, base, location, token, page_limit=20)
        pages = [page async for page in side.stream_contacts()]
    assert any(not p.complete for p in pages)
    assert all(p.complete == (len(p.contacts) == 20 or p is pages[-1]) for p in pages)
    listed = [c.id for p in pages for c in p.contacts]
    assert sorted(listed) == sorted(c["id"] for c in sandbox.contacts(location))
