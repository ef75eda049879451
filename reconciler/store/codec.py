"""JSON forms of the engine's data model, as the store keeps them in JSON columns.

One place decides how a ``PairPolicy``, ``Reason``, ``Resolution`` or ``Action`` becomes JSON
and back, so plans, the journal and the API read the same shapes. Decoding is strict: an
unknown key or a value of the wrong kind is a ``ValueError`` naming it (the API uses these to
validate what people send).
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import json
import typing
from collections.abc import Mapping
from typing import Any

from reconciler.sides.base import CORE_FIELDS, CoreField, SideName
from reconciler.sync.model import (
    Action,
    ActionKind,
    PairPolicy,
    Reason,
    Resolution,
    ResolutionChoice,
    Rule,
)

JSONDict = dict[str, Any]

_POLICY_TYPES: dict[str, Any] = typing.get_type_hints(PairPolicy)


def policy_to_json(policy: PairPolicy) -> JSONDict:
    return {f.name: _plain(getattr(policy, f.name)) for f in dataclasses.fields(policy)}


def policy_from_json(data: Mapping[str, Any]) -> PairPolicy:
    """A ``PairPolicy`` from its JSON form; missing keys take the defaults."""
    values: dict[str, Any] = {}
    for key, raw in data.items():
        kind = _POLICY_TYPES.get(key)
        if kind is None:
            raise ValueError(f"unknown policy setting {key!r}")
        values[key] = _coerce(key, kind, raw)
    return PairPolicy(**values)


def _coerce(key: str, kind: Any, raw: Any) -> Any:
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        try:
            return kind(raw)
        except ValueError:
            allowed = ", ".join(str(member.value) for member in kind)
            raise ValueError(f"policy setting {key!r} must be one of: {allowed}") from None
    if kind is bool:
        if not isinstance(raw, bool):
            raise ValueError(f"policy setting {key!r} must be true or false")
        return raw
    if kind is float:
        if isinstance(raw, bool) or not isinstance(raw, int | float):
            raise ValueError(f"policy setting {key!r} must be a number")
        return float(raw)
    if kind is int:
        if isinstance(raw, bool) or not isinstance(raw, int):
            raise ValueError(f"policy setting {key!r} must be an integer")
        return raw
    if not isinstance(raw, str):
        raise ValueError(f"policy setting {key!r} must be a string")
    return raw


def reason_to_json(reason: Reason) -> JSONDict:
    out: JSONDict = {"rule": reason.rule.value}
    if reason.policy is not None:
        out["policy"] = reason.policy
    if reason.override_id is not None:
        out["override_id"] = reason.override_id
    if reason.conflict_id is not None:
        out["conflict_id"] = reason.conflict_id
    if reason.compared:
        out["compared"] = dict(reason.compared)
    if reason.detail:
        out["detail"] = reason.detail
    return out


def reason_from_json(data: Mapping[str, Any]) -> Reason:
    return Reason(
        rule=Rule(data["rule"]),
        policy=data.get("policy"),
        override_id=data.get("override_id"),
        conflict_id=data.get("conflict_id"),
        compared=dict(data.get("compared") or {}),
        detail=data.get("detail") or "",
    )


def resolution_to_json(resolution: Resolution) -> JSONDict:
    out: JSONDict = {"choice": resolution.choice.value}
    if resolution.choice is ResolutionChoice.CUSTOM:
        out["value"] = resolution.value
    return out


def resolution_from_json(data: Mapping[str, Any]) -> Resolution:
    try:
        choice = ResolutionChoice(data["choice"])
    except (KeyError, ValueError):
        allowed = ", ".join(c.value for c in ResolutionChoice)
        raise ValueError(f"resolution choice must be one of: {allowed}") from None
    return Resolution(choice=choice, value=data.get("value"))


def action_to_json(action: Action) -> JSONDict:
    """The whole action (kind, target, payload, reason): what the journal keeps as intent."""
    return _action_document(action, _plain(dict(action.payload)))


def _action_document(action: Action, payload: object) -> JSONDict:
    return {
        "kind": action.kind.value,
        "side": action.side,
        "link_id": action.link_id,
        "contact_id": action.contact_id,
        "source_side": action.source_side,
        "source_id": action.source_id,
        "payload": payload,
        "reason": reason_to_json(action.reason),
    }


def encode_action(action: Action) -> EncodedJSON:
    """``action_to_json`` encoded, the same text in one pass: the encoder walks the payload
    itself (``_unplain`` covers what it cannot write), instead of a converted copy first. A
    run encodes every action it applies (its audit row), so this is on the hot path."""
    return EncodedJSON(_ACTION_ENCODER.encode(_action_document(action, action.payload)))


def action_from_json(data: Mapping[str, Any]) -> Action:
    return Action(
        kind=ActionKind(data["kind"]),
        reason=reason_from_json(data["reason"]),
        side=side_or_none(data.get("side")),
        link_id=data.get("link_id"),
        contact_id=data.get("contact_id"),
        source_side=side_or_none(data.get("source_side")),
        source_id=data.get("source_id"),
        payload=dict(data.get("payload") or {}),
    )


def side_or_none(value: object) -> SideName | None:
    if value is None:
        return None
    if value not in ("a", "b"):
        raise ValueError(f"side must be 'a' or 'b', not {value!r}")
    return "a" if value == "a" else "b"


def core_fields(data: Mapping[str, Any]) -> dict[CoreField, str | None]:
    """Core field values from JSON, every core field present (None where absent)."""
    return {name: data.get(name) for name in CORE_FIELDS}


def agreed_fields(data: Mapping[str, Any]) -> dict[CoreField, str | None]:
    """A base's core fields from JSON: only those it holds. A field absent from a base never
    had an agreed value (its contacts differed when first matched), which is not the same as
    an agreed empty value: "keep base" must be refused for it, not turned into an erase."""
    return {name: data[name] for name in CORE_FIELDS if name in data}


class EncodedJSON(str):
    """A JSON document already encoded: the bulk writer stores it as is (no second encoding)."""

    __slots__ = ()


# One encoder, reused: json.dumps with options builds a new encoder per call.
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def encode_json(value: Any) -> EncodedJSON:
    return EncodedJSON(_ENCODER.encode(value))


def encode_fields(fields: Mapping[CoreField, str | None]) -> EncodedJSON:
    """Core fields as canonical JSON: every core field, in the one fixed order."""
    return encode_json({name: fields.get(name) for name in CORE_FIELDS})


def encode_tags(tags: Mapping[str, str]) -> EncodedJSON:
    """Tags (key -> name) as canonical JSON: sorted by key."""
    return encode_json(dict(sorted(tags.items())))


def contact_hash(fields: Mapping[CoreField, str | None], tags: Mapping[str, str]) -> str:
    """Content hash of a contact's normalised core fields and tags (key -> name as spelled).

    Tag names are part of it: a rename on the side (same key, new spelling) is a change the
    base must learn, even though it is not a change of membership.
    """
    return hash_encoded(encode_fields(fields), encode_tags(tags))


def hash_encoded(fields_json: str, tags_json: str) -> str:
    """``contact_hash`` from the canonical encodings (computed once, also stored)."""
    return hashlib.sha256(f"{fields_json}\n{tags_json}".encode()).hexdigest()[:32]


def _plain(value: Any) -> Any:
    """JSON-ready: enums to their values, sets and tuples to (sorted) lists."""
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, frozenset | set):
        return sorted(_plain(v) for v in value)
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _unplain(value: Any) -> Any:
    """What ``_plain`` makes of a value the JSON encoder cannot write itself (an enum that is
    not a str, a set, a mapping that is not a dict)."""
    if isinstance(value, enum.Enum | frozenset | set | Mapping):
        return _plain(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


# Payloads are trees of dicts, lists and strings: no cycle check needed.
_ACTION_ENCODER = json.JSONEncoder(
    separators=(",", ":"), ensure_ascii=False, check_circular=False, default=_unplain
)
