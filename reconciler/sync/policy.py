"""Which person's decision (override) or pair policy settles a scope of one link.

Overrides beat policies. Among active overrides (``expires_at`` after ``now``) the narrowest
scope wins: note / field / tag > contact > pair; within a scope level, one naming this link
beats one naming every link, and among equals the smallest override id wins (stable plans).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from enum import StrEnum

from reconciler.sides.base import CoreField, SideName
from reconciler.sync.model import Override, OverrideScope, PairPolicy
from reconciler.sync.normalise import tag_key


def policy_label(setting: str, value: StrEnum) -> str:
    """How a reason names the policy it used: ``note_conflict=merge``."""
    return f"{setting}={value.value}"


def other_side(side: SideName) -> SideName:
    return "b" if side == "a" else "a"


class Pins:
    """The active overrides that concern one link, answered per scope."""

    def __init__(
        self,
        overrides: Sequence[Override],
        link_id: str,
        now: datetime,
        policy: PairPolicy,
    ) -> None:
        self._link_id = link_id
        self._case_insensitive = policy.tags_case_insensitive
        self._active = sorted((o for o in overrides if o.active(now)), key=lambda o: o.id)

    @property
    def exclusion(self) -> Override | None:
        """A CONTACT exclusion of this link: nothing is planned for it."""
        for override in self._active:
            if (
                override.scope is OverrideScope.CONTACT
                and override.exclude
                and override.link_id == self._link_id
            ):
                return override
        return None

    def for_contact(self) -> Override | None:
        """The pin for the whole contact: a CONTACT pin of this link, else a PAIR pin."""
        return self._first(
            lambda o: o.scope is OverrideScope.CONTACT and o.link_id == self._link_id
        ) or self._first(lambda o: o.scope is OverrideScope.PAIR)

    def for_field(self, name: CoreField) -> Override | None:
        return self._narrowest(lambda o: o.scope is OverrideScope.FIELD and o.field_name == name)

    def for_tag(self, key: str) -> Override | None:
        return self._narrowest(
            lambda o: (
                o.scope is OverrideScope.TAG
                and o.tag_key is not None
                and tag_key(o.tag_key, case_insensitive=self._case_insensitive) == key
            )
        )

    def for_note(self, note_link_id: str) -> Override | None:
        return self._narrowest(
            lambda o: o.scope is OverrideScope.NOTE and o.note_link_id == note_link_id
        )

    def _narrowest(self, matches: Callable[[Override], bool]) -> Override | None:
        return (
            self._first(lambda o: matches(o) and o.link_id == self._link_id)
            or self._first(lambda o: matches(o) and o.link_id is None)
            or self.for_contact()
        )

    def _first(self, matches: Callable[[Override], bool]) -> Override | None:
        for override in self._active:
            if override.pin is not None and matches(override):
                return override
        return None
