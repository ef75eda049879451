"""Relay global ids: opaque, stable, ``base64("Type:id")``.

Clients must treat them as opaque; the encoding is the one GitHub and Shopify clients know,
so a person debugging can still decode one by hand.
"""

from __future__ import annotations

import base64
import binascii

NODE_TYPES = frozenset(
    {"Pair", "SideAccount", "ContactLink", "Conflict", "Run", "Plan", "Override", "AuditEvent"}
)
MAX_ID_LENGTH = 200


def encode_id(type_name: str, raw_id: str | int) -> str:
    return base64.b64encode(f"{type_name}:{raw_id}".encode()).decode("ascii")


def decode_id(global_id: str) -> tuple[str, str] | None:
    """(type name, raw id), or None for anything that is not one of our global ids."""
    if not global_id or len(global_id) > MAX_ID_LENGTH:
        return None
    try:
        text = base64.b64decode(global_id.encode("ascii"), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeError, ValueError):
        return None
    type_name, sep, raw_id = text.partition(":")
    if not sep or type_name not in NODE_TYPES or not raw_id or not raw_id.isprintable():
        return None
    return type_name, raw_id


def decode_typed(global_id: str, type_name: str) -> str | None:
    """The raw id if ``global_id`` names a ``type_name``; None otherwise."""
    decoded = decode_id(global_id)
    if decoded is None or decoded[0] != type_name:
        return None
    return decoded[1]
