"""Three-way text merge of note bodies (diff3 by lines)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from reconciler.sync.normalise import note_body
from reconciler.sync.textmerge import merge_text

BASE = "line one\nline two\nline three\nline four\nline five"


def test_edits_on_different_lines_merge() -> None:
    a = BASE.replace("line one", "LINE ONE")
    b = BASE.replace("line five", "LINE FIVE")
    assert merge_text(BASE, a, b) == "LINE ONE\nline two\nline three\nline four\nLINE FIVE"


def test_edits_on_the_same_line_do_not_merge() -> None:
    assert merge_text(BASE, BASE.replace("two", "2"), BASE.replace("two", "II")) is None


def test_insertions_at_the_same_place_do_not_merge() -> None:
    a = BASE + "\nfrom A"
    b = BASE + "\nfrom B"
    assert merge_text(BASE, a, b) is None


def test_the_same_edit_on_both_sides_merges() -> None:
    edited = BASE.replace("three", "3")
    assert merge_text(BASE, edited, edited) == edited


def test_one_side_unchanged_gives_the_other() -> None:
    edited = "new first line\n" + BASE.replace("four", "4")
    assert merge_text(BASE, BASE, edited) == edited
    assert merge_text(BASE, edited, BASE) == edited


def test_whitespace_differences_are_not_edits() -> None:
    b = BASE.replace("line five", "line 5")
    assert merge_text(BASE, BASE.replace("\n", "  \r\n"), b) == b


def test_deletion_and_distant_edit_merge() -> None:
    a = BASE.replace("line two\n", "")
    b = BASE.replace("line five", "line 5")
    assert merge_text(BASE, a, b) == "line one\nline three\nline four\nline 5"


LINES = st.lists(st.sampled_from(["a", "b", "c", "d", "e", "f"]), max_size=8)


@st.composite
def edits(draw: st.DrawFn, base: list[str]) -> list[str]:
    out = list(base)
    for _ in range(draw(st.integers(0, 3))):
        position = draw(st.integers(0, len(out)))
        action = draw(st.sampled_from(["insert", "replace", "delete"]))
        if action == "insert" or not out:
            out.insert(position, draw(st.sampled_from(["X", "Y", "Z"])))
        elif action == "replace":
            out[min(position, len(out) - 1)] = draw(st.sampled_from(["X", "Y", "Z"]))
        else:
            del out[min(position, len(out) - 1)]
    return out


@st.composite
def triples(draw: st.DrawFn) -> tuple[str, str, str]:
    base = draw(LINES)
    return "\n".join(base), "\n".join(draw(edits(base))), "\n".join(draw(edits(base)))


@given(triples())
def test_property_unchanged_side_yields_the_other(triple: tuple[str, str, str]) -> None:
    base, a, _ = triple
    assert merge_text(base, base, a) == note_body(a)
    assert merge_text(base, a, base) == note_body(a)


@given(triples())
def test_property_clean_merges_are_symmetric(triple: tuple[str, str, str]) -> None:
    base, a, b = triple
    merged = merge_text(base, a, b)
    if merged is not None:
        assert merge_text(base, b, a) == merged


@given(triples())
def test_property_clean_merge_keeps_every_line_added_on_either_side(
    triple: tuple[str, str, str],
) -> None:
    base, a, b = triple
    merged = merge_text(base, a, b)
    if merged is None:
        return
    merged_lines = merged.split("\n")
    # Edits only add X, Y or Z, which the base never has; a line one side added can only be
    # left out if the other side's version of that hunk was taken, which a clean merge does
    # only when the first side did not touch the hunk or both made the same edit.
    for added in ("X", "Y", "Z"):
        on_a, on_b = a.split("\n").count(added), b.split("\n").count(added)
        assert merged_lines.count(added) >= max(on_a, on_b)
