"""A conflict's readable diff: what each side changed from the base, and how A and B differ.

Note bodies get a unified text diff (what people read in code review); fields, tag sets and
the structured values of contact conflicts get one line per change, computed with deepdiff
(tag lists compare as sets: their order means nothing).
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from typing import Any

from deepdiff import DeepDiff
from deepdiff.helper import notpresent

from reconciler.sync.model import ConflictKind

_TEXT_KINDS = (ConflictKind.NOTE, ConflictKind.NOTE_DELETE)
MAX_DIFF_CHARS = 20_000


@dataclass(frozen=True, slots=True)
class ConflictDiff:
    format: str  # "unified" (note bodies) or "changes" (one line per changed item)
    base_to_a: str
    base_to_b: str
    a_to_b: str


def conflict_diff(
    kind: ConflictKind, scope: str, base: object, a: object, b: object
) -> ConflictDiff:
    if kind in _TEXT_KINDS:
        return ConflictDiff(
            format="unified",
            base_to_a=_unified(base, a, "base", "A"),
            base_to_b=_unified(base, b, "base", "B"),
            a_to_b=_unified(a, b, "A", "B"),
        )
    label = "tags" if kind is ConflictKind.TAGS_INITIAL else scope
    prepare = _as_set if kind is ConflictKind.TAGS_INITIAL else _plain
    return ConflictDiff(
        format="changes",
        base_to_a=_changes(prepare(base), prepare(a), label),
        base_to_b=_changes(prepare(base), prepare(b), label),
        a_to_b=_changes(prepare(a), prepare(b), label),
    )


def _unified(old: object, new: object, old_name: str, new_name: str) -> str:
    old_lines = _text(old).splitlines(keepends=True)
    new_lines = _text(new).splitlines(keepends=True)
    if old is None:
        old_name += " (none)"
    if new is None:
        new_name += " (deleted)"
    lines = difflib.unified_diff(old_lines, new_lines, old_name, new_name, lineterm="\n")
    text = "".join(line if line.endswith("\n") else line + "\n" for line in lines)
    return _bounded(text)


def _text(value: object) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _as_set(value: object) -> object:
    if isinstance(value, list | tuple):
        return {str(item) for item in value}
    return set() if value is None else value


def _plain(value: object) -> object:
    return value


_SCALARS = (str, int, float, bool, type(None))


def _changes(old: object, new: object, label: str) -> str:
    if isinstance(old, _SCALARS) and isinstance(new, _SCALARS):
        # One value against another (a field): the line deepdiff would give, without the
        # cost of a DeepDiff (an inbox page computes 150 of these).
        return "" if old == new else f"{label}: {_show(old)} -> {_show(new)}"
    diff = DeepDiff(old, new, ignore_order=True, view="tree")
    lines: list[str] = []
    for items in diff.values():
        for item in items:
            path = (item.path(root=label) or label).rstrip(":")
            if item.t1 is notpresent:
                lines.append(f"{path}: added {_show(item.t2)}")
            elif item.t2 is notpresent:
                lines.append(f"{path}: removed {_show(item.t1)}")
            else:
                lines.append(f"{path}: {_show(item.t1)} -> {_show(item.t2)}")
    return _bounded("\n".join(sorted(lines)))


def _show(value: Any) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, set | frozenset):
        value = sorted(value)
    return json.dumps(value, ensure_ascii=False, default=str)


def _bounded(text: str) -> str:
    if len(text) <= MAX_DIFF_CHARS:
        return text
    return text[:MAX_DIFF_CHARS] + "\n... (diff truncated)"
