"""Which person's decision (override) or pair policy settles a scope of one link.

Overrides beat policies. Among active overrides (``expires_at`` after ``now``) the narrowest
scope wins: note / field / tag > contact > pair; within a scope level, one naming this link
beats one naming every link, and among equals the smallest override id wins (stable plans).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from enum import StrEnum
from functools import lru_cache
from typing import TypeVar

from reconciler.sides.base import CoreField, SideName
from reconciler.sync.model import Override, OverrideScope, PairPolicy
from reconciler.sync.normalise import tag_key

T = TypeVar("T")


@lru_cache(maxsize=256)  # a few settings x values: one shared string each, not one per reason
def policy_label(setting: str, value: StrEnum) -> str:
    """How a reason names the policy it used: ``note_conflict=merge``."""
    return f"{setting}={value.value}"


def other_side(side: SideName) -> SideName:
    return "b" if side == "a" else "a"


class PinIndex:
    """A plan's active overrides, indexed once by scope (a plan asks per field, tag and note
    of every link: scanning the overrides each time would make planning O(links x overrides)).

    Each index keeps, per key, the first override in id order, which is the one the rules
    above pick among equals.
    """

    def __init__(self, overrides: Sequence[Override], now: datetime, policy: PairPolicy) -> None:
        self.exclusions: dict[str | None, Override] = {}
        self.contact: dict[str | None, Override] = {}
        self.pair: Override | None = None
        self.field: dict[tuple[str | None, CoreField | None], Override] = {}
        self.tag: dict[tuple[str | None, str], Override] = {}
        self.note: dict[tuple[str | None, str | None], Override] = {}
        ci = policy.tags_case_insensitive
        for o in sorted((o for o in overrides if o.active(now)), key=lambda o: o.id):
            if o.scope is OverrideScope.CONTACT and o.exclude:
                self.exclusions.setdefault(o.link_id, o)
            if o.pin is None:
                continue
            if o.scope is OverrideScope.CONTACT:
                self.contact.setdefault(o.link_id, o)
            elif o.scope is OverrideScope.PAIR:
                self.pair = self.pair or o
            elif o.scope is OverrideScope.FIELD:
                self.field.setdefault((o.link_id, o.field_name), o)
            elif o.scope is OverrideScope.TAG and o.tag_key is not None:
                self.tag.setdefault((o.link_id, tag_key(o.tag_key, case_insensitive=ci)), o)
            elif o.scope is OverrideScope.NOTE:
                self.note.setdefault((o.link_id, o.note_link_id), o)

    def for_link(self, link_id: str) -> Pins:
        return Pins(self, link_id)


class Pins:
    """The active overrides that concern one link, answered per scope."""

    __slots__ = ("_contact", "_index", "_link_id")

    def __init__(self, index: PinIndex, link_id: str) -> None:
        self._index = index
        self._link_id = link_id
        self._contact = index.contact.get(link_id) or index.pair

    @property
    def exclusion(self) -> Override | None:
        """A CONTACT exclusion of this link: nothing is planned for it."""
        return self._index.exclusions.get(self._link_id)

    def for_contact(self) -> Override | None:
        """The pin for the whole contact: a CONTACT pin of this link, else a PAIR pin."""
        return self._contact

    @property
    def any_tag_pin(self) -> bool:
        """Whether some tag of this link may be pinned (else ``for_tag`` is None for all)."""
        return self._contact is not None or bool(self._index.tag)

    def for_field(self, name: CoreField) -> Override | None:
        return self._narrowest(self._index.field, name)

    def for_tag(self, key: str) -> Override | None:
        return self._narrowest(self._index.tag, key)

    def for_note(self, note_link_id: str) -> Override | None:
        return self._narrowest(self._index.note, note_link_id)

    def _narrowest(
        self, index: Mapping[tuple[str | None, T], Override], item: T
    ) -> Override | None:
        if not index:
            return self._contact
        return index.get((self._link_id, item)) or index.get((None, item)) or self._contact
