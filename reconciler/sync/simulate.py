"""What a write does to one side's contact, on in-memory states: ``state_after``.

The counterpart of ``base.base_after`` for the sides, so that a plan can be executed without
any side (tests, dry-run previews): ``plan → state_after/base_after → plan`` must be empty.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import cast

from reconciler.sides.base import CORE_FIELDS, CoreField
from reconciler.sync.model import Absence, Action, ActionKind, ContactState, NoteState
from reconciler.sync.normalise import note_hash


def state_after(
    state: ContactState | None, action: Action, *, created_id: str | None = None
) -> ContactState | Absence:
    """The target contact after ``action`` was written to it.

    ``state`` is None only for CREATE_CONTACT, which needs ``created_id`` (the new contact's
    id), as does CREATE_NOTE (the new note's id). Actions that write nothing return the state.
    """
    kind = action.kind
    payload = action.payload
    if kind is ActionKind.CREATE_CONTACT:
        if created_id is None:
            raise ValueError("create_contact: state_after needs the created contact's id")
        names = [str(n) for n in _list(payload.get("tags"))]
        keys = [str(k) for k in _list(payload.get("tag_keys"))]
        given = _mapping(payload.get("fields"))
        return ContactState(
            contact_id=created_id,
            fields={name: _opt(given.get(name)) for name in CORE_FIELDS},
            tags=dict(zip(keys, names, strict=True)),
            notes={},
        )
    if state is None:
        raise ValueError(f"{kind.value} needs the target contact's state")
    if kind is ActionKind.DELETE_CONTACT:
        return Absence.DELETED
    if kind is ActionKind.UPDATE_FIELDS:
        changes = _mapping(payload.get("changes"))
        fields: dict[CoreField, str | None] = dict(state.fields)
        for name in CORE_FIELDS:
            if name in changes:
                fields[name] = _opt(changes[name])
        return replace(state, fields=fields)
    if kind in (ActionKind.ADD_TAGS, ActionKind.REMOVE_TAGS, ActionKind.ARCHIVE_CONTACT):
        return replace(state, tags=_tags_after(state, action))
    if kind in (ActionKind.CREATE_NOTE, ActionKind.UPDATE_NOTE, ActionKind.DELETE_NOTE):
        return replace(state, notes=_notes_after(state, action, created_id))
    return state


def _tags_after(state: ContactState, action: Action) -> dict[str, str]:
    payload = action.payload
    tags = dict(state.tags)
    if action.kind is ActionKind.ARCHIVE_CONTACT:
        tags[str(payload["tag_key"])] = str(payload["tag"])
        return tags
    keys = [str(k) for k in _list(payload.get("keys"))]
    names = [str(n) for n in _list(payload.get("tags"))]
    if action.kind is ActionKind.ADD_TAGS:
        tags.update(zip(keys, names, strict=True))
        return tags
    # Sides remove tags by name; the key this state files a tag under may differ from the
    # plan's key when the pair compares case-sensitively.
    removed_keys, removed_names = set(keys), set(names)
    return {k: n for k, n in tags.items() if k not in removed_keys and n not in removed_names}


def _notes_after(
    state: ContactState, action: Action, created_id: str | None
) -> dict[str, NoteState] | None:
    if state.notes is None:
        return None
    notes = dict(state.notes)
    payload = action.payload
    if action.kind is ActionKind.CREATE_NOTE:
        if created_id is None:
            raise ValueError("create_note: state_after needs the created note's id")
        body = str(payload["body"])
        notes[created_id] = NoteState(created_id, body, note_hash(body))
    elif action.kind is ActionKind.UPDATE_NOTE:
        note_id, body = str(payload["note_id"]), str(payload["body"])
        notes[note_id] = NoteState(note_id, body, note_hash(body))
    else:
        notes.pop(str(payload["note_id"]), None)
    return notes


def _mapping(raw: object) -> Mapping[str, object]:
    return cast(Mapping[str, object], raw) if isinstance(raw, Mapping) else {}


def _list(raw: object) -> list[object]:
    return list(raw) if isinstance(raw, list | tuple) else []


def _opt(raw: object) -> str | None:
    return None if raw is None else str(raw)
