"""Three-way merge of note bodies, line by line (diff3).

Used by the ``merge`` note-conflict policy: when a note changed on both sides, edits that touch
different lines are combined; edits that touch the same lines (or lines next to each other, with
no unchanged line between them) are left to a person. Bodies are compared in their normalised
form (``normalise.note_body``), so whitespace re-rendering by a side never causes a conflict.
"""

from __future__ import annotations

from difflib import SequenceMatcher
from typing import NamedTuple

from reconciler.sync.normalise import note_body


class _SyncRegion(NamedTuple):
    """Lines ``base[base_start:base_end]`` appear unchanged in A at ``a_start`` and in B at
    ``b_start``."""

    base_start: int
    base_end: int
    a_start: int
    b_start: int


def merge_text(base: str, a: str, b: str) -> str | None:
    """The merged body when A's and B's edits (each relative to ``base``) do not overlap.

    Returns None when they overlap. Same edit on both sides merges cleanly. When one side is
    unchanged the result is the other side (normalised).
    """
    base_lines, a_lines, b_lines = (_lines(text) for text in (base, a, b))
    merged: list[str] = []
    base_pos = a_pos = b_pos = 0
    for region in _sync_regions(base_lines, a_lines, b_lines):
        base_chunk = base_lines[base_pos : region.base_start]
        a_chunk = a_lines[a_pos : region.a_start]
        b_chunk = b_lines[b_pos : region.b_start]
        if a_chunk == b_chunk:
            merged.extend(a_chunk)
        elif a_chunk == base_chunk:
            merged.extend(b_chunk)
        elif b_chunk == base_chunk:
            merged.extend(a_chunk)
        else:
            return None
        length = region.base_end - region.base_start
        merged.extend(base_lines[region.base_start : region.base_end])
        base_pos = region.base_end
        a_pos = region.a_start + length
        b_pos = region.b_start + length
    return note_body("\n".join(merged))


def _lines(text: str) -> list[str]:
    body = note_body(text)
    return body.split("\n") if body else []


def _sync_regions(base: list[str], a: list[str], b: list[str]) -> list[_SyncRegion]:
    """Runs of base lines that both A and B kept, in order, ending with an empty sentinel.

    The intersection of the base→A and base→B matching blocks: between two consecutive
    regions lies one hunk that A, B or both may have changed.
    """
    a_blocks = SequenceMatcher(None, base, a, autojunk=False).get_matching_blocks()
    b_blocks = SequenceMatcher(None, base, b, autojunk=False).get_matching_blocks()
    regions: list[_SyncRegion] = []
    ia = ib = 0
    while ia < len(a_blocks) and ib < len(b_blocks):
        a_block, b_block = a_blocks[ia], b_blocks[ib]
        start = max(a_block.a, b_block.a)
        end = min(a_block.a + a_block.size, b_block.a + b_block.size)
        if start < end:
            regions.append(
                _SyncRegion(
                    base_start=start,
                    base_end=end,
                    a_start=a_block.b + (start - a_block.a),
                    b_start=b_block.b + (start - b_block.a),
                )
            )
        # Advance whichever block ends first; the other may still overlap the next one.
        if a_block.a + a_block.size < b_block.a + b_block.size:
            ia += 1
        else:
            ib += 1
    regions.append(_SyncRegion(len(base), len(base), len(a), len(b)))
    return regions
