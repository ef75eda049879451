"""``Executor._resolve`` builds the resolved action field by field (for speed)."""

from __future__ import annotations

from dataclasses import fields

from reconciler.sync.model import Action


def test_resolve_copies_every_action_field() -> None:
    # A new field of Action must be copied in ``Executor._resolve`` too: update both.
    assert [f.name for f in fields(Action)] == [
        "kind",
        "reason",
        "side",
        "link_id",
        "contact_id",
        "source_side",
        "source_id",
        "payload",
    ]
