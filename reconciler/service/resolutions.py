"""Checks a person's resolution against the conflict it is for, before it is stored.

The engine refuses a resolution it cannot carry out at the next run (the conflict stays
open with the reason); checking the same rules here answers at once, in the request that made
the mistake, instead of one run later.
"""

from __future__ import annotations

from reconciler.service.errors import InvalidInputError
from reconciler.sync.model import ConflictKind, Resolution, ResolutionChoice

MAX_CUSTOM_TEXT = 100_000  # a note body; HighLevel's own limit is far below this
MAX_CUSTOM_TAGS = 500


def check_resolution(kind: ConflictKind, resolution: Resolution, *, field: str = "value") -> None:
    """``InvalidInputError`` (naming ``field``) if ``resolution`` cannot settle a ``kind``."""
    choice, value = resolution.choice, resolution.value
    if kind is ConflictKind.CONTACT_DELETE and choice not in (
        ResolutionChoice.A,
        ResolutionChoice.B,
    ):
        raise InvalidInputError(
            "a deleted contact is resolved by choosing a side (A or B)", field="choice"
        )
    if kind is ConflictKind.CONTACT_MATCH:
        _check_match(choice, value, field)
        return
    if choice is not ResolutionChoice.CUSTOM:
        if value is not None:
            raise InvalidInputError(f"a value is only given with CUSTOM, not {choice}", field=field)
        return
    if kind in (ConflictKind.FIELD, ConflictKind.NOTE, ConflictKind.NOTE_DELETE):
        if value is not None and not isinstance(value, str):
            raise InvalidInputError("a custom value here is a text (or null)", field=field)
        if isinstance(value, str) and len(value) > MAX_CUSTOM_TEXT:
            raise InvalidInputError(f"at most {MAX_CUSTOM_TEXT} characters", field=field)
        return
    if kind is ConflictKind.TAGS_INITIAL:
        if not isinstance(value, list) or not all(isinstance(name, str) for name in value):
            raise InvalidInputError("custom tags are a list of tag names", field=field)
        if len(value) > MAX_CUSTOM_TAGS or any(len(name) > 200 for name in value):
            raise InvalidInputError(
                f"at most {MAX_CUSTOM_TAGS} tags of at most 200 characters", field=field
            )


def _check_match(choice: ResolutionChoice, value: object, field: str) -> None:
    if choice is ResolutionChoice.BASE:
        raise InvalidInputError(
            "an ambiguous match is resolved by choosing a candidate (A, B or CUSTOM)",
            field="choice",
        )
    if choice is ResolutionChoice.CUSTOM:
        if (
            not isinstance(value, dict)
            or set(value) != {"a_id", "b_id"}
            or not all(isinstance(v, str) and v for v in value.values())
        ):
            raise InvalidInputError('a custom match is {"a_id": ..., "b_id": ...}', field=field)
        return
    if value is not None and not isinstance(value, str):
        raise InvalidInputError("choose a candidate by its contact id (a text)", field=field)
