"""The ``Side`` contract: every side (memory, HighLevel in process, HighLevel over loopback
HTTP) must pass each of these the same way. The ``contract_side`` fixture is parametrised."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from reconciler.errors import DuplicateContactError, NotFoundError
from reconciler.sides.base import Contact, ContactDraft, Side, TaskDraft
from tests.sides.conftest import CONTRACT_PAGE_SIZE

UNICODE_BODY = 'Rappel : café ☕ avec Zoë — 电话 📞\nligne 2\t« guillemets » \\ "quotes"'


async def _create(side: Side, n: int, tags: frozenset[str] = frozenset()) -> Contact:
    return await side.create_contact(
        ContactDraft(
            first_name=f"First{n}",
            last_name=f"Last{n}",
            email=f"person{n}@example.com",
            phone=f"+1555010{n:04d}",
            tags=tags,
        )
    )


async def _listed(side: Side, since: datetime | None = None) -> list[Contact]:
    found: list[Contact] = []
    async for page in side.stream_contacts(since=since):
        assert page.complete
        assert not page.rejected
        assert len(page.contacts) <= CONTRACT_PAGE_SIZE
        found.extend(page.contacts)
    return found


async def test_is_a_side(contract_side: Side) -> None:
    assert isinstance(contract_side, Side)
    assert contract_side.name
    caps = contract_side.capabilities
    assert caps.notes_have_update_time is False
    assert caps.max_concurrency >= 1


# -- contacts --------------------------------------------------------------------------------


async def test_create_then_get_round_trip(contract_side: Side) -> None:
    created = await contract_side.create_contact(
        ContactDraft(
            first_name="Zoë",
            last_name="Ångström",
            email="Zoe.A@Example.com",
            phone="(555) 010-0200",
            tags=frozenset({" VIP ", "lead"}),
        )
    )
    assert created.id
    assert len(created.id) == 20
    assert created.id.isalnum()
    assert (created.first_name, created.last_name) == ("Zoë", "Ångström")
    assert created.email is not None
    assert created.email.casefold() == "zoe.a@example.com"
    assert created.phone == "+15550100200"
    assert created.tags == frozenset({"vip", "lead"})  # stored trimmed and lower-cased
    assert created.date_added is not None
    assert created.date_added.tzinfo is not None
    fetched = await contract_side.get_contact(created.id)
    assert fetched == created


async def test_get_missing_contact_is_not_found(contract_side: Side) -> None:
    with pytest.raises(NotFoundError):
        await contract_side.get_contact("AAAAAAAAAAAAAAAAAAAA")


async def test_duplicate_create_names_the_existing_contact(contract_side: Side) -> None:
    first = await _create(contract_side, 1)
    with pytest.raises(DuplicateContactError) as by_email:
        await contract_side.create_contact(ContactDraft(email="  PERSON1@example.com"))
    assert by_email.value.existing_id == first.id
    with pytest.raises(DuplicateContactError) as by_phone:
        await contract_side.create_contact(ContactDraft(phone="555-010-0001"))
    assert by_phone.value.existing_id == first.id
    assert [c.id for c in await _listed(contract_side)] == [first.id]


async def test_find_by_normalised_email_and_phone(contract_side: Side) -> None:
    one = await _create(contract_side, 1)
    two = await _create(contract_side, 2)
    assert [c.id for c in await contract_side.find_contacts(email=" Person1@EXAMPLE.com ")] == [
        one.id
    ]
    assert [c.id for c in await contract_side.find_contacts(phone="(555) 010-0002")] == [two.id]
    assert [c.id for c in await contract_side.find_contacts(phone="+1 555 010 0002")] == [two.id]
    both = await contract_side.find_contacts(email="person1@example.com", phone="5550100002")
    assert sorted(c.id for c in both) == sorted([one.id, two.id])
    assert await contract_side.find_contacts(email="nobody@example.com") == []
    assert await contract_side.find_contacts(phone="+44 20 7946 0000") == []
    assert await contract_side.find_contacts() == []


async def test_update_changes_core_fields_only(contract_side: Side) -> None:
    created = await _create(contract_side, 1, tags=frozenset({"keep"}))
    updated = await contract_side.update_contact(
        created.id, {"first_name": "Renamed", "phone": "+1 555 010 9999"}
    )
    assert updated.first_name == "Renamed"
    assert updated.phone == "+15550109999"
    assert updated.last_name == created.last_name
    assert updated.tags == frozenset({"keep"})  # a field update never touches tags
    assert created.date_updated is not None
    assert updated.date_updated is not None
    assert updated.date_updated > created.date_updated
    assert await contract_side.get_contact(created.id) == updated


async def test_update_with_none_clears_a_field(contract_side: Side) -> None:
    created = await _create(contract_side, 1)
    cleared = await contract_side.update_contact(created.id, {"last_name": None})
    assert cleared.last_name is None
    assert (await contract_side.get_contact(created.id)).last_name is None


async def test_update_that_changes_nothing_keeps_date_updated(contract_side: Side) -> None:
    created = await _create(contract_side, 1)
    same = await contract_side.update_contact(created.id, {"first_name": created.first_name})
    assert same.date_updated == created.date_updated


async def test_update_missing_contact_is_not_found(contract_side: Side) -> None:
    with pytest.raises(NotFoundError):
        await contract_side.update_contact("AAAAAAAAAAAAAAAAAAAA", {"first_name": "x"})


async def test_update_into_a_duplicate_is_refused(contract_side: Side) -> None:
    one = await _create(contract_side, 1)
    two = await _create(contract_side, 2)
    with pytest.raises(DuplicateContactError) as refused:
        await contract_side.update_contact(two.id, {"email": "PERSON1@example.com"})
    assert refused.value.existing_id == one.id


async def test_delete_contact(contract_side: Side) -> None:
    created = await _create(contract_side, 1)
    await contract_side.delete_contact(created.id)
    with pytest.raises(NotFoundError):
        await contract_side.get_contact(created.id)
    with pytest.raises(NotFoundError):
        await contract_side.delete_contact(created.id)
    assert await _listed(contract_side) == []


# -- tags ------------------------------------------------------------------------------------


async def test_tag_deltas(contract_side: Side) -> None:
    created = await _create(contract_side, 1, tags=frozenset({"a", "b"}))
    await contract_side.add_tags(created.id, frozenset({"c", " D "}))
    assert (await contract_side.get_contact(created.id)).tags == {"a", "b", "c", "d"}
    await contract_side.remove_tags(created.id, frozenset({"a", "absent"}))
    after = await contract_side.get_contact(created.id)
    assert after.tags == {"b", "c", "d"}
    assert after.date_updated is not None
    assert created.date_updated is not None
    assert after.date_updated > created.date_updated
    # Re-adding a present tag changes nothing, not even the update time.
    await contract_side.add_tags(created.id, frozenset({"b"}))
    assert await contract_side.get_contact(created.id) == after


async def test_empty_tag_deltas_send_nothing(contract_side: Side) -> None:
    created = await _create(contract_side, 1)
    before = contract_side.usage().total_requests
    await contract_side.add_tags(created.id, frozenset())
    await contract_side.remove_tags(created.id, frozenset())
    assert contract_side.usage().total_requests == before
    assert (await contract_side.get_contact(created.id)) == created


async def test_tags_on_a_missing_contact_are_not_found(contract_side: Side) -> None:
    with pytest.raises(NotFoundError):
        await contract_side.add_tags("AAAAAAAAAAAAAAAAAAAA", frozenset({"x"}))
    with pytest.raises(NotFoundError):
        await contract_side.remove_tags("AAAAAAAAAAAAAAAAAAAA", frozenset({"x"}))


# -- listing ---------------------------------------------------------------------------------


async def test_listing_an_empty_side(contract_side: Side) -> None:
    assert await _listed(contract_side) == []


async def test_listing_pages_every_contact_exactly_once(contract_side: Side) -> None:
    created = [await _create(contract_side, n) for n in range(3 * CONTRACT_PAGE_SIZE + 2)]
    pages = [page async for page in contract_side.stream_contacts()]
    assert len(pages) >= 4
    listed = [c for page in pages for c in page.contacts]
    assert sorted(c.id for c in listed) == sorted(c.id for c in created)
    keys = [(c.date_updated, c.id) for c in listed]
    assert keys == sorted(keys)  # dateUpdated, then id


async def test_listing_exactly_full_pages(contract_side: Side) -> None:
    created = [await _create(contract_side, n) for n in range(2 * CONTRACT_PAGE_SIZE)]
    assert sorted(c.id for c in await _listed(contract_side)) == sorted(c.id for c in created)


async def test_listing_since_returns_what_changed(contract_side: Side) -> None:
    created = [await _create(contract_side, n) for n in range(2 * CONTRACT_PAGE_SIZE)]
    # The watermark is the newest stamp seen; "since" is inclusive, so a write in that same
    # millisecond is still listed.
    watermark = max(c.date_updated for c in created if c.date_updated)
    changed = [created[1].id, created[7].id]
    await contract_side.update_contact(changed[0], {"first_name": "Changed"})
    await contract_side.add_tags(changed[1], frozenset({"changed"}))
    since = await _listed(contract_side, since=watermark)
    ids = [c.id for c in since]
    assert set(changed) <= set(ids)
    assert len(ids) == len(set(ids))
    future = datetime.now(UTC) + timedelta(days=1)
    assert await _listed(contract_side, since=future) == []


async def test_a_contact_updated_while_listing_is_not_lost(contract_side: Side) -> None:
    created = [await _create(contract_side, n) for n in range(3 * CONTRACT_PAGE_SIZE)]
    seen: set[str] = set()
    async for page in contract_side.stream_contacts():
        if not seen:  # after the first page, touch a contact it returned and one not yet seen
            await contract_side.add_tags(page.contacts[0].id, frozenset({"moved"}))
            await contract_side.add_tags(created[-1].id, frozenset({"moved"}))
        seen.update(c.id for c in page.contacts)
    assert seen == {c.id for c in created}


# -- notes -----------------------------------------------------------------------------------


async def test_note_lifecycle_with_unicode(contract_side: Side) -> None:
    contact = await _create(contract_side, 1)
    assert list(await contract_side.get_notes(contact.id)) == []
    note = await contract_side.create_note(contact.id, UNICODE_BODY)
    assert note.body == UNICODE_BODY
    assert note.contact_id == contact.id
    assert note.date_added is not None
    assert [n.id for n in await contract_side.get_notes(contact.id)] == [note.id]
    edited = await contract_side.update_note(contact.id, note.id, UNICODE_BODY + " ✅")
    assert edited.id == note.id
    assert edited.body == UNICODE_BODY + " ✅"
    assert [n.body for n in await contract_side.get_notes(contact.id)] == [edited.body]
    await contract_side.delete_note(contact.id, note.id)
    assert list(await contract_side.get_notes(contact.id)) == []


async def test_notes_do_not_move_the_contact(contract_side: Side) -> None:
    contact = await _create(contract_side, 1)
    await contract_side.create_note(contact.id, "hello")
    assert (await contract_side.get_contact(contact.id)).date_updated == contact.date_updated


async def test_two_notes_with_the_same_body_are_two_notes(contract_side: Side) -> None:
    contact = await _create(contract_side, 1)
    one = await contract_side.create_note(contact.id, "same")
    two = await contract_side.create_note(contact.id, "same")
    assert one.id != two.id
    assert len(await contract_side.get_notes(contact.id)) == 2


async def test_note_errors(contract_side: Side) -> None:
    contact = await _create(contract_side, 1)
    missing = "AAAAAAAAAAAAAAAAAAAA"
    with pytest.raises(NotFoundError):
        await contract_side.get_notes(missing)
    with pytest.raises(NotFoundError):
        await contract_side.create_note(missing, "x")
    with pytest.raises(NotFoundError):
        await contract_side.update_note(contact.id, missing, "x")
    with pytest.raises(NotFoundError):
        await contract_side.delete_note(contact.id, missing)


async def test_list_notes_of_many_contacts(contract_side: Side) -> None:
    contacts = [await _create(contract_side, n) for n in range(7)]
    expected: dict[str, set[str]] = {}
    for n, contact in enumerate(contacts):
        bodies = {f"note {k} of {n} ✎" for k in range(n % 3)}
        for body in bodies:
            await contract_side.create_note(contact.id, body)
        expected[contact.id] = bodies
    missing = "AAAAAAAAAAAAAAAAAAAA"
    asked = [c.id for c in contacts] + [missing]
    results = [item async for item in contract_side.list_notes(asked)]
    assert sorted(r.contact_id for r in results) == sorted(asked)
    for result in results:
        if result.contact_id == missing:
            assert result.notes is None
            assert isinstance(result.error, NotFoundError)
        else:
            assert result.error is None
            assert result.notes is not None
            assert {n.body for n in result.notes} == expected[result.contact_id]
            assert all(n.contact_id == result.contact_id for n in result.notes)


async def test_list_notes_of_nobody(contract_side: Side) -> None:
    assert [item async for item in contract_side.list_notes([])] == []


# -- tasks -----------------------------------------------------------------------------------


async def test_task_lifecycle(contract_side: Side) -> None:
    contact = await _create(contract_side, 1)
    due = datetime(2026, 3, 1, 12, 30, tzinfo=UTC)
    task = await contract_side.create_task(
        contact.id, TaskDraft(title="Call back ☎", body="about the quote", due_date=due)
    )
    assert (task.title, task.body, task.due_date, task.completed) == (
        "Call back ☎",
        "about the quote",
        due,
        False,
    )
    assert [t.id for t in await contract_side.list_tasks(contact.id)] == [task.id]
    changed = await contract_side.update_task(
        contact.id, task.id, TaskDraft(title="Call back", due_date=due + timedelta(days=1))
    )
    assert changed.title == "Call back"
    assert changed.due_date == due + timedelta(days=1)
    done = await contract_side.complete_task(contact.id, task.id, True)
    assert done.completed is True
    await contract_side.delete_task(contact.id, task.id)
    assert list(await contract_side.list_tasks(contact.id)) == []
    with pytest.raises(NotFoundError):
        await contract_side.delete_task(contact.id, task.id)
    with pytest.raises(NotFoundError):
        await contract_side.list_tasks("AAAAAAAAAAAAAAAAAAAA")


# -- accounting ------------------------------------------------------------------------------


async def test_usage_counts_requests_per_endpoint(contract_side: Side) -> None:
    contact = await _create(contract_side, 1)
    await contract_side.get_contact(contact.id)
    await contract_side.get_contact(contact.id)
    await contract_side.create_note(contact.id, "n")
    with pytest.raises(NotFoundError):
        await contract_side.get_contact("AAAAAAAAAAAAAAAAAAAA")
    usage = contract_side.usage()
    assert usage.requests["POST /contacts/"] == 1
    assert usage.requests["GET /contacts/{contactId}"] == 3
    assert usage.requests["POST /contacts/{contactId}/notes"] == 1
    assert usage.errors.get("NotFoundError") == 1
    assert usage.total_requests == sum(usage.requests.values())
    assert usage.retries == 0
    assert usage.rate_limited == 0
