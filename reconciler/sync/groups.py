"""Folding per-item decisions (one field, one tag) into few actions.

A side gets one UPDATE_FIELDS (or ADD_TAGS, REMOVE_TAGS) per reason: usually exactly one per
side; more only when items of one link were settled by different rules (a pinned field next to
a copied one), because every action carries exactly one reason.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from reconciler.sides.base import SideName
from reconciler.sync.model import ActionKind, Reason, Rule


@dataclass(frozen=True, slots=True)
class Why:
    """The identity of a reason, without the hashes: items with equal ``Why`` share an action."""

    rule: Rule
    policy: str | None = None
    override_id: str | None = None
    conflict_id: str | None = None
    source_side: SideName | None = None

    def reason(self, compared: Mapping[str, str | None], detail: str = "") -> Reason:
        return Reason(
            rule=self.rule,
            policy=self.policy,
            override_id=self.override_id,
            conflict_id=self.conflict_id,
            compared=dict(compared),
            detail=detail,
        )


@dataclass(slots=True)
class Group:
    kind: ActionKind
    side: SideName | None
    why: Why
    parts: dict[str, dict[str, object]] = field(default_factory=dict)
    compared: dict[str, str | None] = field(default_factory=dict)
    details: list[str] = field(default_factory=list)

    @property
    def detail(self) -> str:
        return "; ".join(self.details)


class ActionGroups:
    """Ordered groups of item decisions, keyed by (kind, side, why)."""

    def __init__(self) -> None:
        self._groups: dict[tuple[ActionKind, SideName | None, Why], Group] = {}

    def put(
        self,
        kind: ActionKind,
        side: SideName | None,
        why: Why,
        compared: Mapping[str, str | None],
        detail: str = "",
        **parts: Mapping[str, object],
    ) -> None:
        group = self._groups.setdefault((kind, side, why), Group(kind, side, why))
        for name, part in parts.items():
            group.parts.setdefault(name, {}).update(part)
        group.compared.update(compared)
        if detail and detail not in group.details:
            group.details.append(detail)

    def emit(self, sink: Callable[[Group], None]) -> None:
        for group in self._groups.values():
            sink(group)
