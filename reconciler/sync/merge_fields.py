"""Core fields (first/last name, email, phone), merged field by field like notes.

With a base value: changed on one side → copied; changed on both to the same value → adopted;
changed on both differently → the pair's field-conflict policy. Without one (a new link, or a
field whose conflict was never settled): equal → adopted; one side empty → the other side's
value is taken (nothing is lost); both set differently → the field-conflict policy.
"""

from __future__ import annotations

from dataclasses import dataclass

from reconciler.sides.base import CORE_FIELDS, CoreField, SideName
from reconciler.sync.context import OUTDATED_RESOLUTION, LinkContext
from reconciler.sync.explain import field_compared
from reconciler.sync.groups import ActionGroups, Group, Why
from reconciler.sync.model import (
    ActionKind,
    ConflictKind,
    FieldConflictPolicy,
    OpenConflictRef,
    ResolutionChoice,
    Rule,
)
from reconciler.sync.normalise import field_value, value_hash
from reconciler.sync.policy import other_side, policy_label
from reconciler.sync.settle import writes_to_reach

Value = str | None


def plan_fields(ctx: LinkContext) -> None:
    groups = ActionGroups()
    a, b, base = ctx.a.fields, ctx.b.fields, ctx.base.fields
    for name in CORE_FIELDS:
        value = a.get(name)
        agreed = value == b.get(name) and name in base and base[name] == value
        if agreed and ("field", name) not in ctx.open:
            continue  # agreed and unchanged, no conflict to settle: nothing to plan
        _FieldPlanner(ctx, groups, name).plan()
    groups.emit(lambda group: _emit(ctx, group))


def _emit(ctx: LinkContext, group: Group) -> None:
    reason = group.why.reason(group.compared, group.detail)
    if group.kind is ActionKind.ADOPT_BASE:
        ctx.adopt(reason, {"fields": group.parts["fields"]})
        return
    assert group.side is not None
    payload: dict[str, object] = {
        "changes": group.parts["changes"],
        "replaced": group.parts["replaced"],
    }
    if group.parts.get("settle"):
        payload["settle"] = group.parts["settle"]
    ctx.write(
        ActionKind.UPDATE_FIELDS, group.side, reason, payload, source_side=group.why.source_side
    )


@dataclass(slots=True)
class _FieldPlanner:
    ctx: LinkContext
    groups: ActionGroups
    name: CoreField

    @property
    def known(self) -> bool:
        """Whether the base holds an agreed value for this field."""
        return self.name in self.ctx.base.fields

    @property
    def base(self) -> Value:
        return self.ctx.base.fields.get(self.name)

    def value(self, side: SideName) -> Value:
        return self.ctx.state(side).fields.get(self.name)

    def plan(self) -> None:
        a, b = self.value("a"), self.value("b")
        ref = self.ctx.open_conflict("field", self.name)
        if ref is not None and ref.resolution is not None:
            if not self.ctx.resolution_outdated(ref, (a, b), self._same):
                self._resolve(ref)
                return
            # Planned as the open conflict it is again (refreshed, or closed if agreed).
            self.ctx.out.reject(ref, OUTDATED_RESOLUTION)
        pin = self.ctx.pins.for_field(self.name)
        if pin is not None and pin.pin is not None and a != b:
            pinned = pin.pin
            replaced = self.value(other_side(pinned))
            self._reach(
                self.value(pinned),
                Why(Rule.OVERRIDE_PIN, override_id=pin.id, source_side=pinned),
                detail=f"pinned to side {pinned}",
                replaced=replaced,
            )
            if ref is not None:
                self.ctx.out.close(ref)
            return
        if ref is not None:
            if a == b:
                self.ctx.out.close(ref)
                self._adopt(a, Why(Rule.FIELD_SAME_EDIT), "sides now agree")
            else:
                self._conflict(Why(Rule.FIELD_CLASH), "still in conflict")
            return
        if a == b:
            rule = Rule.FIELD_SAME_EDIT if self.known else Rule.FIELD_INITIAL
            self._adopt(a, Why(rule), "")
            return
        if self.known:
            if a == self.base:
                self._reach(b, Why(Rule.FIELD_COPY, source_side="b"), "changed on B")
            elif b == self.base:
                self._reach(a, Why(Rule.FIELD_COPY, source_side="a"), "changed on A")
            else:
                self._clash(Rule.FIELD_CLASH)
        elif a is None:
            self._reach(b, Why(Rule.FIELD_INITIAL, source_side="b"), "empty on A")
        elif b is None:
            self._reach(a, Why(Rule.FIELD_INITIAL, source_side="a"), "empty on B")
        else:
            self._clash(Rule.FIELD_INITIAL)

    def _clash(self, rule: Rule) -> None:
        policy = self.ctx.policy.field_conflict
        label = policy_label("field_conflict", policy)
        if policy is FieldConflictPolicy.A_WINS:
            self._reach(self.value("a"), Why(rule, label, source_side="a"), "A wins")
        elif policy is FieldConflictPolicy.B_WINS:
            self._reach(self.value("b"), Why(rule, label, source_side="b"), "B wins")
        elif policy is FieldConflictPolicy.NEWEST_WINS:
            self._newest_wins(rule, label)
        else:
            self._conflict(Why(rule, label), "changed on both sides")

    def _newest_wins(self, rule: Rule, label: str) -> None:
        """Explicit opt-in only; the timestamps compared are recorded in the reason."""
        a_time, b_time = self.ctx.a.date_updated, self.ctx.b.date_updated
        stamps = {
            "a_updated": None if a_time is None else a_time.isoformat(),
            "b_updated": None if b_time is None else b_time.isoformat(),
        }
        if a_time is None or b_time is None or a_time == b_time:
            self._conflict(Why(rule, label), "newest_wins: timestamps missing or equal", stamps)
            return
        winner: SideName = "a" if a_time > b_time else "b"
        self._reach(
            self.value(winner),
            Why(rule, label, source_side=winner),
            f"side {winner} updated last",
            extra=stamps,
        )

    def _resolve(self, ref: OpenConflictRef) -> None:
        assert ref.resolution is not None
        choice = ref.resolution.choice
        target: Value
        if choice is ResolutionChoice.A:
            target = self.value("a")
        elif choice is ResolutionChoice.B:
            target = self.value("b")
        elif choice is ResolutionChoice.BASE:
            if not self.known:
                self.ctx.out.reject(ref, f"{self.name} never had an agreed value: choose A or B")
                return
            # The base the person saw (a half-applied resolution has moved it; see ``settle``).
            target = self.base if ref.stored is None else self._normal(ref.stored[0])
        else:
            raw = ref.resolution.value
            if raw is not None and not isinstance(raw, str):
                self.ctx.out.reject(ref, f"a custom {self.name} must be a string or null")
                return
            target = field_value(
                self.name, raw, default_region=self.ctx.policy.default_phone_region
            )
            if raw is not None and raw.strip() and target is None:
                self.ctx.out.reject(ref, f"the custom value is not a valid {self.name}")
                return
        self._reach(
            target,
            Why(Rule.RESOLUTION, conflict_id=ref.conflict_id),
            f"resolved: {choice.value}",
        )
        self.ctx.out.close(ref)

    def _reach(
        self,
        target: Value,
        why: Why,
        detail: str,
        *,
        replaced: Value = None,
        extra: dict[str, str | None] | None = None,
    ) -> None:
        compared = field_compared(
            self.name, self.base if self.known else None, self.value("a"), self.value("b")
        )
        if why.rule is Rule.OVERRIDE_PIN:
            compared[f"{self.name}.replaced"] = value_hash(replaced)
        compared.update(extra or {})
        writes = writes_to_reach(
            target, self.base, self.value("a"), self.value("b"), lambda x, y: x == y
        )
        for write in writes:
            parts: dict[str, dict[str, object]] = {
                "changes": {self.name: target},
                "replaced": {self.name: write.current},
            }
            if write.settle is not None:
                parts["settle"] = {
                    self.name: {
                        "when": write.settle.when,
                        "then": write.settle.then,
                        "else": write.settle.otherwise,
                    }
                }
            self.groups.put(ActionKind.UPDATE_FIELDS, write.side, why, compared, detail, **parts)
        if not writes and (not self.known or self.base != target):
            self.groups.put(
                ActionKind.ADOPT_BASE, None, why, compared, detail, fields={self.name: target}
            )

    def _adopt(self, value: Value, why: Why, detail: str) -> None:
        if self.known and self.base == value:
            return
        self._reach(value, why, detail)

    def _normal(self, value: object) -> Value:
        """A value read back from a stored conflict (or a custom one), in normal form."""
        if not isinstance(value, str):
            return None
        return field_value(self.name, value, default_region=self.ctx.policy.default_phone_region)

    def _same(self, x: object, y: object) -> bool:
        return self._normal(x) == self._normal(y)

    def _values(self) -> tuple[Value, Value, Value]:
        """What a conflict on this field stores: (base, A, B)."""
        return (self.base if self.known else None, self.value("a"), self.value("b"))

    def _conflict(self, why: Why, detail: str, extra: dict[str, str | None] | None = None) -> None:
        compared = field_compared(self.name, *self._values())
        compared.update(extra or {})
        self.ctx.conflict(
            ConflictKind.FIELD, self.name, self._values(), why.reason(compared, detail)
        )
