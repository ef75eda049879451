"""Encryption at rest for credentials, and the ``Secret`` wrapper that keeps them out of logs.

Credentials (access/refresh tokens, private integration tokens, client secrets) are stored as
Fernet tokens (AES-128-CBC + HMAC-SHA256, authenticated). ``Cipher`` holds one or more keys,
newest first, through ``MultiFernet``: it encrypts with the newest and decrypts with any, so a key
is rotated by prepending the new key to ``RECONCILER_SECRET_KEY`` and re-encrypting at leisure
(``Cipher.rotate``).
"""

from __future__ import annotations

import contextlib
import hmac
import json
import os
import stat
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from reconciler.errors import ConfigError
from reconciler.settings import Settings

SECRET_KEY_VAR = "RECONCILER_SECRET_KEY"  # noqa: S105  (a variable name, not a secret)
_MASK = "**********"


class Secret:
    """A secret string whose repr and str are masked; ``reveal()`` is the one way to read it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret('{_MASK}')"

    def __str__(self) -> str:
        return _MASK

    def __format__(self, format_spec: str) -> str:
        return _MASK

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    __hash__ = None  # type: ignore[assignment]  # equal secrets must not leak via hashing

    def __reduce__(self) -> NoReturn:
        # Pickling would write the plain value somewhere we do not control.
        raise TypeError("Secret cannot be pickled")


def generate_key() -> str:
    """A new random key in the form ``RECONCILER_SECRET_KEY`` expects."""
    return Fernet.generate_key().decode("ascii")


class Cipher:
    """Encrypts and decrypts credential blobs with the configured keys (newest first)."""

    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise ConfigError(SECRET_KEY_VAR, "no key given")
        fernets: list[Fernet] = []
        for position, key in enumerate(keys, start=1):
            try:
                fernets.append(Fernet(key.strip().encode("ascii")))
            except (ValueError, UnicodeEncodeError) as exc:
                # Never echo the key itself: only which one is wrong.
                raise ConfigError(
                    SECRET_KEY_VAR,
                    f"key #{position} is not a Fernet key (32 url-safe base64-encoded bytes)",
                ) from exc
        self._fernet = MultiFernet(fernets)

    @classmethod
    def from_settings(cls, settings: Settings) -> Cipher:
        if settings.secret_key is not None:
            raw = settings.secret_key.get_secret_value()
            return cls([part for part in raw.split(",") if part.strip()])
        if settings.env == "production":
            raise ConfigError(SECRET_KEY_VAR, "required when env=production")
        return cls([load_or_create_key_file(settings.key_file)])

    def encrypt(self, plaintext: bytes) -> str:
        return self._fernet.encrypt(plaintext).decode("ascii")

    def decrypt(self, token: str) -> bytes:
        try:
            return self._fernet.decrypt(token.encode("ascii"))
        except (InvalidToken, UnicodeEncodeError) as exc:
            raise ConfigError(
                SECRET_KEY_VAR, "stored credentials cannot be decrypted with the configured keys"
            ) from exc

    def encrypt_json(self, data: Mapping[str, Any]) -> str:
        return self.encrypt(json.dumps(data, separators=(",", ":"), sort_keys=True).encode())

    def decrypt_json(self, token: str) -> dict[str, Any]:
        value = json.loads(self.decrypt(token))
        if not isinstance(value, dict):
            raise ConfigError(SECRET_KEY_VAR, "stored credentials are not a JSON object")
        return value

    def rotate(self, token: str) -> str:
        """The same plaintext encrypted with the newest key (for re-encryption after rotation)."""
        try:
            return self._fernet.rotate(token.encode("ascii")).decode("ascii")
        except InvalidToken as exc:
            raise ConfigError(
                SECRET_KEY_VAR, "stored credentials cannot be decrypted with the configured keys"
            ) from exc


def load_or_create_key_file(path: Path) -> str:
    """The key in ``path``, generated once (mode 0600) when the file does not exist yet.

    Creation is atomic (write a private temporary file, then hard-link it into place), so two
    processes starting together end up with the same key.
    """
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(generate_key() + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            with contextlib.suppress(FileExistsError):  # another process won the race
                os.link(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise ConfigError(
            SECRET_KEY_VAR, f"key file {path} is readable by others (mode {mode:o}); chmod 600 it"
        )
    key = path.read_text(encoding="ascii").strip()
    if not key:
        raise ConfigError(SECRET_KEY_VAR, f"key file {path} is empty")
    return key
