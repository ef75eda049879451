"""Bringing one item (a field, a tag, a note) to a target value on both sides.

Usually only one side differs from the target and one write settles it: the base then takes
the written value. Sometimes both sides differ (a clean text merge, a custom resolution) and two
writes are needed; the base is shared by both sides, so it must advance in a way that leaves
the next run able to finish the job if only one of the writes lands:

- after the first write (say to A), the base becomes B's current value: the next three-way
  diff then reads "A changed, B did not" and copies the target to B;
- after the second write, the base becomes the target if it holds what the first write left
  (the first write landed), else the first write's side's current value ("B changed, A did
  not": the next run copies the target to A).

The first write is the one whose other side differs from the base, so that its effect on the
base is visible to the second. When both sides equal the base (a resolution imposing a value
neither side has), the first write's effect is invisible; the second then assumes it landed,
and if it did not, the next run reverts the second side to the value both sides had before
(nothing either side wrote is lost).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from reconciler.sides.base import SideName
from reconciler.sync.policy import other_side

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Settle(Generic[T]):
    """If the base item equals ``when`` it becomes ``then``, otherwise ``otherwise``."""

    when: T
    then: T
    otherwise: T


@dataclass(frozen=True, slots=True)
class SideWrite(Generic[T]):
    """Write the target to ``side``, whose value now is ``current``."""

    side: SideName
    current: T
    settle: Settle[T] | None  # None: the base simply takes the target


def writes_to_reach(
    target: T, base: T, a: T, b: T, same: Callable[[T, T], bool]
) -> list[SideWrite[T]]:
    """The writes (0, 1 or 2, in order) that make both sides hold ``target``."""
    values: dict[SideName, T] = {"a": a, "b": b}
    stale: list[SideName] = [side for side in ("a", "b") if not same(values[side], target)]
    if len(stale) < 2:
        return [SideWrite(side, values[side], None) for side in stale]
    first: SideName = "a"
    if same(values["b"], base) and not same(values["a"], base):
        first = "b"  # A's write would be invisible in the base; B's is not
    second = other_side(first)
    return [
        SideWrite(first, values[first], Settle(base, values[second], target)),
        SideWrite(second, values[second], Settle(values[second], target, values[first])),
    ]
