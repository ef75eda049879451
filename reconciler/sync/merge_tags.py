"""Tags: a set per contact, merged element by element; never a conflict once there is a base.

``merged = base + added_on_A + added_on_B - removed_on_A - removed_on_B`` by tag key; each side
gets only the deltas (HighLevel's add/remove tag endpoints). A newly linked contact has no tag
base: its initial-tags policy picks the base the three-way merge starts from, which makes the
policy an ordinary merge that a partial failure cannot derail:

- union: the tags both sides have (everything else counts as added);
- a_wins: B's tags (A's differences count as A's edits and reach B);
- b_wins: A's tags;
- manual: the tags both sides have, and a TAGS_INITIAL conflict holds the set until resolved.
"""

from __future__ import annotations

from functools import cached_property

from reconciler.sides.base import SideName
from reconciler.sync.context import TAGS_SCOPE, LinkContext, keyed_tags
from reconciler.sync.explain import tags_compared, tags_hash
from reconciler.sync.groups import ActionGroups, Group, Why
from reconciler.sync.model import (
    ActionKind,
    ConflictKind,
    OpenConflictRef,
    ResolutionChoice,
    Rule,
    TagsInitialPolicy,
)
from reconciler.sync.policy import other_side, policy_label
from reconciler.sync.settle import writes_to_reach

Name = str | None  # a tag's display name on one side, None where the side lacks it


def initial_tag_base(ctx: LinkContext) -> dict[str, str]:
    """The tag base a new link starts from (see the module docstring); may open the
    TAGS_INITIAL conflict of the manual policy."""
    a_tags, b_tags = ctx.tags("a"), ctx.tags("b")
    both = {key: name for key, name in a_tags.items() if key in b_tags}
    if ctx.open_conflict("tags", TAGS_SCOPE) is not None:
        return both  # held until resolved; plan_tags refreshes or closes it
    policy = ctx.policy.tags_initial
    if policy is TagsInitialPolicy.UNION:
        return both
    pinned: set[str] = set()
    if ctx.pins.any_tag_pin:
        pinned = {key for key in a_tags.keys() | b_tags.keys() if ctx.pins.for_tag(key)}
    only_a = {key: name for key, name in a_tags.items() if key not in pinned}
    only_b = {key: name for key, name in b_tags.items() if key not in pinned}
    if policy is TagsInitialPolicy.A_WINS:
        return {**both, **only_b}
    if policy is TagsInitialPolicy.B_WINS:
        return {**both, **only_a}
    if policy is TagsInitialPolicy.MANUAL and only_a.keys() != only_b.keys():
        ctx.conflict(
            ConflictKind.TAGS_INITIAL,
            TAGS_SCOPE,
            (None, sorted(a_tags.values()), sorted(b_tags.values())),
            Why(Rule.TAGS_INITIAL, policy_label("tags_initial", policy)).reason(
                tags_compared(None, a_tags, b_tags), "tag sets differ on a new link"
            ),
        )
    return both


def plan_tags(ctx: LinkContext) -> None:
    planner = _TagPlanner(ctx)
    planner.plan()
    planner.groups.emit(lambda group: _emit(ctx, group))


def _emit(ctx: LinkContext, group: Group) -> None:
    reason = group.why.reason(group.compared, group.detail)
    if group.kind is ActionKind.ADOPT_BASE:
        payload: dict[str, object] = {}
        if group.parts.get("names"):
            payload["tags"] = group.parts["names"]
        if group.parts.get("dropped"):
            payload["tags_dropped"] = sorted(group.parts["dropped"])
        ctx.adopt(reason, payload)
        return
    assert group.side is not None
    names = group.parts["names"]
    payload = {"tags": [names[key] for key in sorted(names)], "keys": sorted(names)}
    if group.parts.get("settle"):
        payload["settle"] = group.parts["settle"]
    ctx.write(group.kind, group.side, reason, payload, source_side=group.why.source_side)


class _TagPlanner:
    def __init__(self, ctx: LinkContext) -> None:
        self.ctx = ctx
        self.groups = ActionGroups()
        self.a = ctx.tags("a")
        self.b = ctx.tags("b")
        # A new link's tag base was just made from the sides' keyed tags: already keyed.
        self.base = dict(ctx.base.tags) if ctx.initial else ctx.base_tags()

    @cached_property
    def compared(self) -> dict[str, str | None]:
        """The tag sets' hashes, for reasons: only computed if something is planned."""
        return tags_compared(self.base, self.a, self.b)

    def side_tags(self, side: SideName) -> dict[str, str]:
        return self.a if side == "a" else self.b

    def plan(self) -> None:
        if dict(self.ctx.base.tags) != self.base:
            # The stored tag base is filed under keys of another comparison rule (the pair's
            # case sensitivity changed): re-file it once, before any tag delta of this plan.
            self.ctx.adopt(
                Why(Rule.TAGS_MERGE).reason(self.compared, "tag base re-keyed"),
                {"tags_all": dict(self.base)},
            )
        ref = self.ctx.open_conflict("tags", TAGS_SCOPE)
        if ref is not None and ref.resolution is not None:
            self._resolve(ref)
            return
        held = ref is not None or TAGS_SCOPE in self.ctx.held
        if self.ctx.initial:
            label = policy_label("tags_initial", self.ctx.policy.tags_initial)
            merge = Why(Rule.TAGS_INITIAL, label)
        else:
            merge = Why(Rule.TAGS_MERGE)
        keys = self.a.keys() | self.b.keys() | self.base.keys()
        if not self.ctx.pins.any_tag_pin:
            # Without pins a held tag set gets nothing, and neither does a key that both sides
            # and the base hold (kept, nothing to write): only the others are planned.
            keys = set() if held else keys - (self.a.keys() & self.b.keys() & self.base.keys())
        for key in sorted(keys):
            pin = self.ctx.pins.for_tag(key)
            if pin is not None and pin.pin is not None:
                pinned = pin.pin
                compared = {
                    **self.compared,
                    "tags.replaced": tags_hash(self.side_tags(other_side(pinned))),
                }
                self._reach(
                    key,
                    self.side_tags(pinned).get(key),
                    Why(Rule.OVERRIDE_PIN, override_id=pin.id, source_side=pinned),
                    f"pinned to side {pinned}",
                    compared,
                )
            elif not held:
                self._merge_key(key, merge)
        if ref is not None:
            self._review_open(ref, merge)

    def _merge_key(self, key: str, why: Why) -> None:
        in_a, in_b, in_base = key in self.a, key in self.b, key in self.base
        # Kept if no side removed it (it was in the base), or some side added it (it was not).
        keep = (in_a and in_b) if in_base else (in_a or in_b)
        source: SideName | None = None
        if keep and not (in_a and in_b):
            source = "a" if in_a else "b"
        name = self.a.get(key) or self.b.get(key) or self.base.get(key)
        detail = "added on one side" if keep and not in_base else "removed on one side"
        self._reach(
            key,
            name if keep else None,
            Why(why.rule, why.policy, source_side=source),
            detail,
            self.compared,
        )

    def _review_open(self, ref: OpenConflictRef, merge: Why) -> None:
        if self.ctx.pins.for_contact() is not None:
            self.ctx.out.close(ref)  # a contact or pair pin settles every tag
        elif self.a.keys() == self.b.keys():
            self.ctx.out.close(ref)
            for key in sorted(self.a.keys() | self.base.keys()):
                self._reach(key, self.a.get(key), merge, "sides now agree", self.compared)
        else:
            self.ctx.conflict(
                ConflictKind.TAGS_INITIAL,
                TAGS_SCOPE,
                (None, sorted(self.a.values()), sorted(self.b.values())),
                merge.reason(self.compared, "still in conflict"),
            )

    def _resolve(self, ref: OpenConflictRef) -> None:
        assert ref.resolution is not None
        choice = ref.resolution.choice
        if choice is ResolutionChoice.A:
            chosen = self.a
        elif choice is ResolutionChoice.B:
            chosen = self.b
        elif choice is ResolutionChoice.BASE:
            chosen = self.base  # for a new link: the tags both sides had
        else:
            raw = ref.resolution.value
            if not isinstance(raw, list | tuple) or not all(isinstance(n, str) for n in raw):
                self.ctx.out.reject(ref, "custom tags must be a list of tag names")
                return
            chosen = keyed_tags(
                {name: name for name in raw if name.strip()},
                case_insensitive=self.ctx.policy.tags_case_insensitive,
            )
        why = Why(Rule.RESOLUTION, conflict_id=ref.conflict_id)
        for key in sorted(self.a.keys() | self.b.keys() | self.base.keys() | chosen.keys()):
            self._reach(key, chosen.get(key), why, f"resolved: {choice.value}", self.compared)
        self.ctx.out.close(ref)

    def _reach(
        self, key: str, target: Name, why: Why, detail: str, compared: dict[str, str | None]
    ) -> None:
        writes = writes_to_reach(
            target,
            self.base.get(key),
            self.a.get(key),
            self.b.get(key),
            lambda x, y: (x is None) == (y is None),
        )
        for write in writes:
            parts: dict[str, dict[str, object]] = {
                "names": {key: target if target is not None else write.current}
            }
            if write.settle is not None:
                parts["settle"] = {
                    key: {
                        "when": write.settle.when is not None,
                        "then": write.settle.then,
                        "else": write.settle.otherwise,
                    }
                }
            kind = ActionKind.ADD_TAGS if target is not None else ActionKind.REMOVE_TAGS
            self.groups.put(kind, write.side, why, compared, detail, **parts)
        if writes or (key in self.base) == (target is not None):
            return
        if target is None:
            self.groups.put(ActionKind.ADOPT_BASE, None, why, compared, detail, dropped={key: 1})
        else:
            self.groups.put(ActionKind.ADOPT_BASE, None, why, compared, detail, names={key: target})
