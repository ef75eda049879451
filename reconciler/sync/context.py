"""What the merge rules of one link share: the link's states, its effective base, the
deciders (policy, pins, open conflicts) and the plan being built."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from reconciler.sides.base import SideName
from reconciler.sync.model import (
    Action,
    ActionKind,
    ConflictKind,
    ConflictSpec,
    ContactState,
    LinkBase,
    LinkPlan,
    LinkView,
    OpenConflictRef,
    PairPolicy,
    Reason,
    RejectedResolution,
    ResolutionChoice,
)
from reconciler.sync.normalise import tag_keyer
from reconciler.sync.policy import Pins

# Conflict kinds that share a scope namespace: an open conflict of either kind holds the scope.
_GROUP: dict[ConflictKind, str] = {
    ConflictKind.FIELD: "field",
    ConflictKind.TAGS_INITIAL: "tags",
    ConflictKind.NOTE: "note",
    ConflictKind.NOTE_DELETE: "note",
    ConflictKind.CONTACT_DELETE: "contact",
    ConflictKind.CONTACT_MATCH: "match",
}

TAGS_SCOPE = "tags"
CONTACT_SCOPE = "contact"
OUTDATED_RESOLUTION = "the sides changed since this conflict was resolved: review it again"


def conflict_group(kind: ConflictKind) -> str:
    return _GROUP[kind]


def index_open(refs: Iterable[OpenConflictRef]) -> dict[tuple[str, str], OpenConflictRef]:
    """Open conflicts by (scope group, scope); with duplicates, the smallest id is kept."""
    out: dict[tuple[str, str], OpenConflictRef] = {}
    for ref in sorted(refs, key=lambda r: r.conflict_id, reverse=True):
        out[(conflict_group(ref.kind), ref.scope)] = ref
    return out


def keyed_tags(tags: Mapping[str, str], *, case_insensitive: bool) -> dict[str, str]:
    """Tag key -> display name, keys recomputed from the names under this pair's policy.

    Two spellings with one key keep the first in sorted order (deterministic).
    """
    key = tag_keyer(case_insensitive=case_insensitive)
    out: dict[str, str] = {}
    for name in sorted(tags.values()):
        out.setdefault(key(name), name)
    return out


@dataclass(slots=True)
class LinkPlanBuilder:
    """Collects a link's actions (in order), conflicts, closings and refusals."""

    link_id: str | None
    actions: list[Action] = field(default_factory=list)
    conflicts: list[ConflictSpec] = field(default_factory=list)
    closed: list[str] = field(default_factory=list)
    rejected: list[RejectedResolution] = field(default_factory=list)

    def add(self, action: Action) -> None:
        self.actions.append(action)

    def open_conflict(self, spec: ConflictSpec, existing: OpenConflictRef | None) -> None:
        """Open ``spec``, or refresh the open one only if its values changed."""
        if existing is not None and existing.fingerprint == spec.fingerprint():
            return
        self.conflicts.append(spec)

    def close(self, ref: OpenConflictRef) -> None:
        if ref.conflict_id not in self.closed:
            self.closed.append(ref.conflict_id)

    def reject(self, ref: OpenConflictRef, message: str) -> None:
        self.rejected.append(RejectedResolution(ref.conflict_id, message))

    def build(self) -> LinkPlan:
        return LinkPlan(
            link_id=self.link_id,
            actions=tuple(self.actions),
            conflicts=tuple(self.conflicts),
            closed_conflicts=tuple(self.closed),
            rejected_resolutions=tuple(self.rejected),
        )


@dataclass(slots=True)
class LinkContext:
    """One link being planned; ``base`` is the effective base (see ``diff.plan_link``)."""

    view: LinkView
    policy: PairPolicy
    pins: Pins
    now: datetime
    a: ContactState
    b: ContactState
    base: LinkBase
    initial: bool  # the link had no base when planning began
    open: dict[tuple[str, str], OpenConflictRef]
    out: LinkPlanBuilder
    # A link this plan creates: its actions and conflicts carry this ref and no link id.
    link_ref: str | None = None
    held: set[str] = field(default_factory=set)  # scopes this plan leaves untouched
    # keyed_tags of A and B, computed once (every merge rule reads them).
    _keyed: dict[SideName, dict[str, str]] = field(default_factory=dict)

    def state(self, side: SideName) -> ContactState:
        return self.a if side == "a" else self.b

    def contact_id(self, side: SideName) -> str:
        return self.view.a_contact_id if side == "a" else self.view.b_contact_id

    def open_conflict(self, group: str, scope: str) -> OpenConflictRef | None:
        return self.open.get((group, scope))

    def resolution_outdated(
        self,
        ref: OpenConflictRef,
        current: tuple[object, object],
        same: Callable[[object, object], bool],
    ) -> bool:
        """Whether a side's value (``current``: A, B) changed since the conflict's values were
        stored, which the person who resolved it saw, other than to the resolution's own value
        (a resolution a crash left half applied). Carrying it out would overwrite an edit
        nobody looked at (invariant 1): it is refused, and the conflict shows the new values
        (or closes, if the sides now agree)."""
        if ref.stored is None or ref.resolution is None:
            return False
        base, stored_a, stored_b = ref.stored
        choice = ref.resolution.choice
        target = {
            ResolutionChoice.A: stored_a,
            ResolutionChoice.B: stored_b,
            ResolutionChoice.BASE: base,
        }.get(choice, ref.resolution.value)
        return any(
            not same(value, stored) and not same(value, target)
            for value, stored in zip(current, (stored_a, stored_b), strict=True)
        )

    def tags(self, side: SideName) -> dict[str, str]:
        """The side's tags by key under this pair's policy (shared: do not modify)."""
        keyed = self._keyed.get(side)
        if keyed is None:
            keyed = keyed_tags(
                self.state(side).tags, case_insensitive=self.policy.tags_case_insensitive
            )
            self._keyed[side] = keyed
        return keyed

    def base_tags(self) -> dict[str, str]:
        return keyed_tags(self.base.tags, case_insensitive=self.policy.tags_case_insensitive)

    def write(
        self,
        kind: ActionKind,
        side: SideName,
        reason: Reason,
        payload: Mapping[str, object],
        *,
        source_side: SideName | None = None,
    ) -> None:
        self.out.add(
            Action(
                kind=kind,
                reason=reason,
                side=side,
                link_id=self._link_id(),
                contact_id=self.contact_id(side),
                source_side=source_side,
                source_id=None if source_side is None else self.contact_id(source_side),
                payload=self._payload(payload),
            )
        )

    def adopt(self, reason: Reason, payload: Mapping[str, object]) -> None:
        self.out.add(
            Action(
                kind=ActionKind.ADOPT_BASE,
                reason=reason,
                link_id=self._link_id(),
                payload=self._payload(payload),
            )
        )

    def _link_id(self) -> str | None:
        return self.view.link_id if self.link_ref is None else None

    def _payload(self, payload: Mapping[str, object]) -> dict[str, object]:
        out = dict(payload)
        if self.link_ref is not None:
            out["link_ref"] = self.link_ref
        return out

    def conflict(
        self,
        kind: ConflictKind,
        scope: str,
        values: tuple[object, object, object],
        reason: Reason,
    ) -> None:
        """Open (or refresh) a conflict on ``scope``; the scope is held for this plan."""
        existing = self.open_conflict(conflict_group(kind), scope)
        base_value, a_value, b_value = values
        spec = ConflictSpec(
            kind=existing.kind if existing is not None else kind,
            scope=scope,
            link_id=self._link_id(),
            base_value=base_value,
            a_value=a_value,
            b_value=b_value,
            reason=reason,
            link_ref=self.link_ref,
        )
        self.out.open_conflict(spec, existing)
        self.held.add(scope)
