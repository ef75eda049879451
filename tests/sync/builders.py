"""Small constructors for the engine's data model, so each test reads as its scenario."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime

from reconciler.sides.base import CORE_FIELDS, CoreField, SideName
from reconciler.sync.model import (
    Action,
    ActionKind,
    ContactState,
    LinkBase,
    LinkPlan,
    LinkView,
    NoteLinkBase,
    NoteState,
    OpenConflictRef,
    SideView,
)
from reconciler.sync.normalise import note_hash, tag_key

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def fields(**values: str | None) -> dict[CoreField, str | None]:
    out: dict[CoreField, str | None] = {name: None for name in CORE_FIELDS}
    for name, value in values.items():
        assert name in CORE_FIELDS, name
        out[name] = value
    return out


def tags(*names: str) -> dict[str, str]:
    return {tag_key(name): name for name in names}


def notes(bodies: Mapping[str, str]) -> dict[str, NoteState]:
    return {nid: NoteState(nid, body, note_hash(body)) for nid, body in bodies.items()}


def contact(
    contact_id: str,
    *,
    tag_names: Iterable[str] = (),
    note_bodies: Mapping[str, str] | None = None,
    updated: datetime | None = None,
    field_values: Mapping[CoreField, str | None] | None = None,
    **values: str | None,
) -> ContactState:
    return ContactState(
        contact_id=contact_id,
        fields=dict(field_values) if field_values is not None else fields(**values),
        tags=tags(*tag_names),
        notes=None if note_bodies is None else notes(note_bodies),
        date_updated=updated,
    )


def note_link(note_link_id: str, a_note_id: str, b_note_id: str, body: str) -> NoteLinkBase:
    return NoteLinkBase(note_link_id, a_note_id, b_note_id, body, note_hash(body))


def base(
    *,
    tag_names: Iterable[str] = (),
    note_links: Sequence[NoteLinkBase] = (),
    field_values: Mapping[CoreField, str | None] | None = None,
    **values: str | None,
) -> LinkBase:
    return LinkBase(
        fields=dict(field_values) if field_values is not None else fields(**values),
        tags=tags(*tag_names),
        notes=tuple(note_links),
    )


def view(
    a: SideView,
    b: SideView,
    link_base: LinkBase | None,
    *,
    link_id: str = "L1",
    open_conflicts: Sequence[OpenConflictRef] = (),
    excluded: bool = False,
) -> LinkView:
    return LinkView(
        link_id=link_id,
        a_contact_id=a.contact_id if isinstance(a, ContactState) else "ca",
        b_contact_id=b.contact_id if isinstance(b, ContactState) else "cb",
        a=a,
        b=b,
        base=link_base,
        open_conflicts=tuple(open_conflicts),
        excluded=excluded,
    )


def writes(plan: LinkPlan) -> list[Action]:
    return [action for action in plan.actions if action.writes]


def only(plan: LinkPlan, kind: ActionKind, side: SideName | None = None) -> Action:
    found = [a for a in plan.actions if a.kind is kind and (side is None or a.side == side)]
    assert len(found) == 1, f"expected one {kind.value} on {side}, got {plan.actions}"
    return found[0]


def summary(plan: LinkPlan) -> list[tuple[str, SideName | None]]:
    return [(a.kind.value, a.side) for a in plan.actions]
