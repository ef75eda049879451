"""Identifiers that look like HighLevel's: 20 characters from ``[A-Za-z0-9]``.

Ids come from a seeded generator so a sandbox built from the same seed hands out the same ids,
which keeps seeded data and tests reproducible.
"""

from __future__ import annotations

import hashlib
import random
import secrets
import string

ALPHABET = string.ascii_letters + string.digits
ID_LENGTH = 20


class IdFactory:
    """Deterministic id source (one per sandbox, seeded)."""

    def __init__(self, seed: int | str) -> None:
        self._rng = random.Random(f"ids:{seed}")

    def new(self) -> str:
        return "".join(self._rng.choice(ALPHABET) for _ in range(ID_LENGTH))


def stable_id(*parts: str) -> str:
    """An id derived from names (e.g. a custom field key), identical across runs."""
    digest = hashlib.sha256("\x00".join(parts).encode()).digest()
    return "".join(ALPHABET[b % len(ALPHABET)] for b in digest[:ID_LENGTH])


def secret_token(prefix: str, length: int = 40) -> str:
    """An unguessable bearer secret (tokens, codes, keys): never from the seeded generator."""
    return prefix + "".join(secrets.choice(ALPHABET) for _ in range(length))
