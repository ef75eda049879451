"""What reasons may say: hashes of the values compared, never the values themselves.

Reasons end up in plans, logs and the console; values are personal data. Every ``compared``
entry is a hash (``normalise.note_hash`` for note bodies, ``normalise.value_hash`` otherwise),
an ISO timestamp (newest-wins), or None for "absent".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from reconciler.sync.normalise import note_hash, value_hash


def tags_hash(keys: Iterable[str]) -> str | None:
    """One hash for a tag set (order-free)."""
    return value_hash("\n".join(sorted(keys)))


def note_compared(
    base: str | None, a: str | None, b: str | None, **extra: str | None
) -> dict[str, str | None]:
    """Note hashes by role; None where the note does not exist on that side."""
    out = {role: _note(body) for role, body in (("base", base), ("a", a), ("b", b))}
    out.update({role: _note(body) for role, body in extra.items()})
    return out


def field_compared(
    name: str, base: str | None, a: str | None, b: str | None, **extra: str | None
) -> dict[str, str | None]:
    """Value hashes by role, prefixed with the field name (one action may carry several)."""
    values = {"base": base, "a": a, "b": b, **extra}
    return {f"{name}.{role}": value_hash(value) for role, value in values.items()}


def tags_compared(
    base: Iterable[str] | None, a: Iterable[str], b: Iterable[str]
) -> dict[str, str | None]:
    return {
        "tags.base": None if base is None else tags_hash(base),
        "tags.a": tags_hash(a),
        "tags.b": tags_hash(b),
    }


def merge_compared(*parts: Mapping[str, str | None]) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for part in parts:
        out.update(part)
    return out


def _note(body: str | None) -> str | None:
    return None if body is None else note_hash(body)
