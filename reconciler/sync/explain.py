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
    # Usually two or all three sets are equal: each distinct set is hashed once.
    a_keys, b_keys = sorted(a), sorted(b)
    a_hash = value_hash("\n".join(a_keys))
    b_hash = a_hash if b_keys == a_keys else value_hash("\n".join(b_keys))
    base_hash: str | None = None
    if base is not None:
        base_keys = sorted(base)
        if base_keys == a_keys:
            base_hash = a_hash
        elif base_keys == b_keys:
            base_hash = b_hash
        else:
            base_hash = value_hash("\n".join(base_keys))
    return {"tags.base": base_hash, "tags.a": a_hash, "tags.b": b_hash}


def merge_compared(*parts: Mapping[str, str | None]) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for part in parts:
        out.update(part)
    return out


def _note(body: str | None) -> str | None:
    return None if body is None else note_hash(body)
