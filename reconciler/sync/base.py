"""How each action advances a link's base: ``base_after``, the one definition apply uses.

Apply commits a write's result and the new base together (journal); it calls
``base_after(base, action, created_id=...)`` for every action it completed, in plan order.
Planning again on the resulting sides and base gives an empty plan: the base effects below are
exactly what the diff expects (see the Action docstring in ``model`` for the payloads).

Base effect per kind:
- LINK_CONTACTS: none (the link starts without a base; its initial ADOPT_BASE creates it).
- CREATE_CONTACT: a fresh base with the created contact's fields and tags, no note links.
- UPDATE_FIELDS: each changed field takes the written value (or per ``settle``).
- ADD_TAGS / REMOVE_TAGS: each key is added with the written name / removed (or per ``settle``).
- CREATE_NOTE: the note link pairs the created note (``created_id``) with ``source_note_id``.
- UPDATE_NOTE: the note link's base body becomes the written body (or per ``settle``).
- DELETE_NOTE: the note link is dropped (or per ``settle``); none for an unlinked note.
- ADOPT_BASE: the agreed values in its payload (each of its ``notes`` a new note link).
- ARCHIVE_CONTACT, DELETE_CONTACT, UNLINK_CONTACTS: the link ends (``ends_link``); the base is
  returned unchanged for the record.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import cast

from reconciler.sides.base import CORE_FIELDS, CoreField, SideName
from reconciler.sync.model import Action, ActionKind, LinkBase, NoteLinkBase
from reconciler.sync.normalise import note_hash

_ENDS_LINK = frozenset(
    {ActionKind.ARCHIVE_CONTACT, ActionKind.DELETE_CONTACT, ActionKind.UNLINK_CONTACTS}
)


def ends_link(action: Action) -> bool:
    """Whether applying ``action`` ends its link (the store marks it unlinked)."""
    return action.kind in _ENDS_LINK


def new_note_link_id(owner: str, a_note_id: str, b_note_id: str) -> str:
    """A deterministic id for a note link made by a plan (owner: link id or link ref).

    Deterministic so that replaying an action after a crash names the same note link.
    """
    digest = hashlib.sha256(f"{owner}\n{a_note_id}\n{b_note_id}".encode()).hexdigest()
    return "nl_" + digest[:24]


def base_after(
    base: LinkBase | None,
    action: Action,
    *,
    created_id: str | None = None,
    note_link_id: str | None = None,
) -> LinkBase | None:
    """The link's base after ``action`` was applied successfully.

    ``created_id``: the id of the note or contact the action created (CREATE_NOTE requires it).
    ``note_link_id``: an id for a note link the action makes (default: ``new_note_link_id``;
    the note links of an ADOPT_BASE's ``notes`` always take the default).
    Returns None only for a link that has no base yet and an action that does not create one
    (LINK_CONTACTS). Raises ValueError for an action that needs a base on a link without one
    (its initial ADOPT_BASE was not applied first) or a CREATE_NOTE without ``created_id``.
    """
    kind = action.kind
    payload = action.payload
    if kind is ActionKind.LINK_CONTACTS or kind in _ENDS_LINK:
        return base
    if kind is ActionKind.CREATE_CONTACT:
        names = _strings(payload.get("tags"))
        keys = _strings(payload.get("tag_keys"))
        return LinkBase(
            fields=_fields(payload.get("fields")), tags=dict(zip(keys, names, strict=True))
        )
    if base is None:
        if kind is ActionKind.ADOPT_BASE and payload.get("initial"):
            base = LinkBase(fields={}, tags={})
        else:
            raise ValueError(f"{kind.value} needs the link's base; apply its ADOPT_BASE first")
    owner = action.link_id or str(payload.get("link_ref") or "")
    if kind is ActionKind.UPDATE_FIELDS:
        return _after_fields(base, payload)
    if kind in (ActionKind.ADD_TAGS, ActionKind.REMOVE_TAGS):
        return _after_tags(base, payload, adding=kind is ActionKind.ADD_TAGS)
    if kind is ActionKind.CREATE_NOTE:
        if created_id is None:
            raise ValueError("create_note: base_after needs the created note's id")
        return _after_create_note(base, action, created_id, note_link_id, owner)
    if kind in (ActionKind.UPDATE_NOTE, ActionKind.DELETE_NOTE):
        return _after_note_write(base, action)
    if kind is ActionKind.ADOPT_BASE:
        return _after_adopt(base, payload, note_link_id, owner)
    raise ValueError(f"no base effect defined for {kind.value}")


def _after_fields(base: LinkBase, payload: Mapping[str, object]) -> LinkBase:
    fields = dict(base.fields)
    settle = _mapping(payload.get("settle"))
    for name, value in _fields(payload.get("changes"), only_present=True).items():
        rule = _mapping(settle.get(name))
        if rule:
            value = _str_or_none(rule["then"] if fields.get(name) == rule["when"] else rule["else"])
        fields[name] = value
    return LinkBase(fields=fields, tags=base.tags, notes=base.notes)


def _after_tags(base: LinkBase, payload: Mapping[str, object], *, adding: bool) -> LinkBase:
    tags = dict(base.tags)
    settle = _mapping(payload.get("settle"))
    for key, name in zip(_strings(payload.get("keys")), _strings(payload.get("tags")), strict=True):
        result: str | None = name if adding else None
        rule = _mapping(settle.get(key))
        if rule:
            result = _str_or_none(rule["then"] if (key in tags) == rule["when"] else rule["else"])
        if result is None:
            tags.pop(key, None)
        else:
            tags[key] = result
    return LinkBase(fields=base.fields, tags=tags, notes=base.notes)


def _after_create_note(
    base: LinkBase,
    action: Action,
    created_id: str,
    note_link_id: str | None,
    owner: str,
) -> LinkBase:
    payload = action.payload
    source_note_id = str(payload["source_note_id"])
    side: SideName = "a" if action.side == "a" else "b"
    a_note_id, b_note_id = (
        (created_id, source_note_id) if side == "a" else (source_note_id, created_id)
    )
    link_id = _str_or_none(payload.get("note_link_id"))
    current = _find(base.notes, link_id)
    body: str | None = str(payload["body"])
    rule = _mapping(payload.get("settle"))
    if rule:
        body = _settled_body(current, rule)
    if body is None:
        return _with_notes(base, _without(base.notes, link_id))
    new_link = NoteLinkBase(
        note_link_id=link_id or note_link_id or new_note_link_id(owner, a_note_id, b_note_id),
        a_note_id=a_note_id,
        b_note_id=b_note_id,
        body=body,
        hash=note_hash(body),
    )
    return _with_notes(base, _put(base.notes, new_link))


def _after_note_write(base: LinkBase, action: Action) -> LinkBase:
    payload = action.payload
    link_id = _str_or_none(payload.get("note_link_id"))
    if link_id is None:
        return base  # a note no link knew (pin deleting the unpinned side's new note)
    current = _find(base.notes, link_id)
    body: str | None = None
    if action.kind is ActionKind.UPDATE_NOTE:
        body = str(payload["body"])
    rule = _mapping(payload.get("settle"))
    if rule:
        body = _settled_body(current, rule)
    if body is None:
        return _with_notes(base, _without(base.notes, link_id))
    if current is not None:
        updated = NoteLinkBase(link_id, current.a_note_id, current.b_note_id, body, note_hash(body))
    else:
        updated = NoteLinkBase(
            link_id,
            str(payload["a_note_id"]),
            str(payload["b_note_id"]),
            body,
            note_hash(body),
        )
    return _with_notes(base, _put(base.notes, updated))


def _after_adopt(
    base: LinkBase, payload: Mapping[str, object], note_link_id: str | None, owner: str
) -> LinkBase:
    # Parts the payload does not name are shared with the previous base, not copied.
    fields = base.fields
    if "fields" in payload:
        fields = {**base.fields, **_fields(payload["fields"], only_present=True)}
    tags = base.tags
    if payload.get("initial"):
        tags = _tag_names(payload.get("tags"))
    elif "tags" in payload:
        tags = {**base.tags, **_tag_names(payload["tags"])}
    if "tags_all" in payload:
        tags = _tag_names(payload["tags_all"])
    dropped_tags = _strings(payload.get("tags_dropped"))
    if dropped_tags:
        tags = {key: name for key, name in tags.items() if key not in dropped_tags}
    notes = base.notes
    note = _mapping(payload.get("note"))
    if note:
        link_id = _str_or_none(note.get("note_link_id")) or note_link_id
        notes = _put(notes, _adopted_note_link(note, link_id, owner))
    for entry in _list(payload.get("notes")):
        notes = _put(notes, _adopted_note_link(_mapping(entry), None, owner))
    dropped = _str_or_none(payload.get("note_dropped"))
    if dropped is not None:
        notes = _without(notes, dropped)
    return LinkBase(fields=fields, tags=tags, notes=notes)


def _adopted_note_link(note: Mapping[str, object], link_id: str | None, owner: str) -> NoteLinkBase:
    a_note_id, b_note_id = str(note["a_note_id"]), str(note["b_note_id"])
    body = str(note["body"])
    link_id = link_id or new_note_link_id(owner, a_note_id, b_note_id)
    return NoteLinkBase(link_id, a_note_id, b_note_id, body, note_hash(body))


def _settled_body(current: NoteLinkBase | None, rule: Mapping[str, object]) -> str | None:
    current_hash = None if current is None else current.hash
    return _str_or_none(rule["then"] if current_hash == rule["when"] else rule["else"])


def _find(notes: Sequence[NoteLinkBase], link_id: str | None) -> NoteLinkBase | None:
    return next((nl for nl in notes if nl.note_link_id == link_id), None)


def _without(notes: Sequence[NoteLinkBase], link_id: str | None) -> tuple[NoteLinkBase, ...]:
    return tuple(nl for nl in notes if nl.note_link_id != link_id)


def _put(notes: Sequence[NoteLinkBase], link: NoteLinkBase) -> tuple[NoteLinkBase, ...]:
    """Insert or replace ``link``; a note is in at most one note link, so any other link
    holding one of its notes is dropped."""
    kept = [
        nl
        for nl in notes
        if nl.note_link_id != link.note_link_id
        and nl.a_note_id != link.a_note_id
        and nl.b_note_id != link.b_note_id
    ]
    return tuple(sorted([*kept, link], key=lambda nl: nl.note_link_id))


def _with_notes(base: LinkBase, notes: tuple[NoteLinkBase, ...]) -> LinkBase:
    return LinkBase(fields=base.fields, tags=base.tags, notes=notes)


def _fields(raw: object, *, only_present: bool = False) -> dict[CoreField, str | None]:
    values = _mapping(raw)
    return {
        name: _str_or_none(values.get(name))
        for name in CORE_FIELDS
        if not only_present or name in values
    }


def _mapping(raw: object) -> Mapping[str, object]:
    return cast(Mapping[str, object], raw) if isinstance(raw, Mapping) else {}


def _strings(raw: object) -> list[str]:
    return [str(item) for item in _list(raw)]


def _list(raw: object) -> list[object] | tuple[object, ...]:
    return cast(list[object], raw) if isinstance(raw, list | tuple) else []


def _tag_names(raw: object) -> dict[str, str]:
    return {str(key): str(name) for key, name in _mapping(raw).items()}


def _str_or_none(raw: object) -> str | None:
    return None if raw is None else str(raw)
