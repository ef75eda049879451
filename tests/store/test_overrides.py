"""Overrides: shapes checked, active by expiry, soft-deleted."""

from __future__ import annotations

from datetime import timedelta

import pytest

from reconciler.store import repo_links as links
from reconciler.store import repo_overrides as overrides
from reconciler.store.db import Store
from reconciler.store.tables import PairRow
from reconciler.sync.model import Override, OverrideScope

from .conftest import NOW


async def test_create_list_active_and_delete(store: Store, pair: PairRow) -> None:
    async with store.transaction() as s:
        (link,) = await links.create_links(s, pair.id, [("a1", "b1")], now=NOW)
        pin = await overrides.create_override(
            s,
            pair.id,
            scope=OverrideScope.FIELD,
            pin="a",
            link_id=link.id,
            field_name="email",
            created_by="user:ops",
            now=NOW,
        )
        exclude = await overrides.create_override(
            s,
            pair.id,
            scope=OverrideScope.CONTACT,
            exclude=True,
            link_id=link.id,
            created_by="user:ops",
            now=NOW + timedelta(seconds=1),
        )
        expiring = await overrides.create_override(
            s,
            pair.id,
            scope=OverrideScope.TAG,
            pin="b",
            tag_key="vip",
            expires_at=NOW + timedelta(hours=1),
            created_by="user:ops",
            now=NOW + timedelta(seconds=2),
        )
    async with store.session() as s:
        now_active = await overrides.active_overrides(s, pair.id, now=NOW)
        later_active = await overrides.active_overrides(s, pair.id, now=NOW + timedelta(hours=2))
        loaded = await overrides.get_override(s, pin.id)
    assert [o.id for o in now_active] == [pin.id, exclude.id, expiring.id]
    assert [o.id for o in later_active] == [pin.id, exclude.id]
    assert now_active[0] == Override(
        id=pin.id, scope=OverrideScope.FIELD, pin="a", link_id=link.id, field_name="email"
    )
    assert now_active[1].exclude
    assert loaded is not None
    assert loaded.created_by == "user:ops"
    async with store.transaction() as s:
        assert await overrides.delete_override(s, pin.id, now=NOW)
        assert not await overrides.delete_override(s, pin.id, now=NOW)
        remaining = await overrides.list_overrides(s, pair.id)
        history = await overrides.list_overrides(s, pair.id, include_deleted=True)
        for_link = await overrides.list_overrides(s, pair.id, link_id=link.id)
    assert [o.id for o in remaining] == [exclude.id, expiring.id]
    assert len(history) == 3
    assert history[0].deleted_at == NOW
    assert [o.id for o in for_link] == [exclude.id]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"scope": OverrideScope.PAIR}, "pins a side or excludes"),
        ({"scope": OverrideScope.TAG, "exclude": True}, "only a contact"),
        ({"scope": OverrideScope.CONTACT, "pin": "a"}, "needs link_id"),
        ({"scope": OverrideScope.NOTE, "pin": "a"}, "needs note_link_id"),
        ({"scope": OverrideScope.TAG, "pin": "b"}, "needs tag_key"),
        ({"scope": OverrideScope.FIELD, "pin": "a", "field_name": "age"}, "needs field_name"),
        ({"scope": OverrideScope.PAIR, "pin": "c"}, "pin must be"),
    ],
)
async def test_nonsense_shapes_are_refused(
    store: Store, pair: PairRow, kwargs: dict[str, object], message: str
) -> None:
    async with store.transaction() as s:
        with pytest.raises(ValueError, match=message):
            await overrides.create_override(
                s,
                pair.id,
                created_by="user:x",
                now=NOW,
                **kwargs,  # type: ignore[arg-type]
            )
