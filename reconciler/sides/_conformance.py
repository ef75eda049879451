"""Static proof that each shipped side satisfies the ``Side`` protocol (checked by mypy)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from reconciler.sides.base import Side
    from reconciler.sides.highlevel import HighLevelSide
    from reconciler.sides.memory import MemorySide

    def _memory(side: MemorySide) -> Side:
        return side

    def _highlevel(side: HighLevelSide) -> Side:
        return side
