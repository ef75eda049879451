"""Structured logs: plain text or JSON lines (``settings.log_json``), carrying the pair, run and
process they are about, with secrets masked.

- ``configure_logging(settings)`` installs one handler on the root logger (stderr by default)
  with two filters: ``ContextFilter`` (adds the current ``log_context`` values to every record)
  and ``SecretMaskFilter`` (masks bearer tokens, HighLevel tokens, API keys, Fernet blobs, OAuth
  codes in URLs and any secret registered with ``masker.register``). Masking is a filter on the
  handler, so it covers every logger (uvicorn's access log included) and exception text.
- ``log_context(pair_id=..., run_id=...)`` binds values for the code inside the block (a
  ``ContextVar``: each asyncio task sees its own).
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from types import MappingProxyType
from typing import IO, Any

from reconciler.settings import Settings

_EMPTY: Mapping[str, str] = MappingProxyType({})
_context: ContextVar[Mapping[str, str]] = ContextVar("reconciler_log_context", default=_EMPTY)

MASK = "***"
# Attributes every LogRecord has; anything else on a record came from ``extra=``.
_RECORD_ATTRS = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys()
    # uvicorn's color_message repeats the message with terminal colours.
    | {"message", "asctime", "context", "color_message"}
)
# Extra fields whose value is a secret whatever it looks like.
_SECRET_FIELD = re.compile(r"(?i)(token|secret|password|authorization|api_?key|cookie)")

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # Authorization headers and anything written like one.
    (re.compile(r"(?i)\b(bearer)(\s+)[A-Za-z0-9._~+/=-]{4,}"), r"\1\2" + MASK),
    # key=value / "key": "value" for the secrets OAuth and our settings name.
    (
        re.compile(
            r"(?i)\b(access_token|refresh_token|client_secret|secret_key|password|api_key"
            r"|authorization|x-sandbox-admin-key)(\"?\s*[:=]\s*\"?)(?!\*\*\*)[^\s\"'&,;}]+"
        ),
        r"\1\2" + MASK,
    ),
    # OAuth codes and states in URLs (uvicorn's access log prints the query string).
    (re.compile(r"([?&](?:code|state)=)[^&\s\"']+"), r"\1" + MASK),
    # HighLevel private integration tokens, JWT access tokens, sandbox tokens.
    (re.compile(r"\bpit-[0-9a-fA-F-]{8,}"), "pit-" + MASK),
    (re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]+"), MASK),
    (re.compile(r"\bsbx-(at|rt|admin)-[A-Za-z0-9]{8,}"), r"sbx-\1-" + MASK),
    # Our API keys (rk_<prefix>_<secret>): the prefix identifies, the rest is the secret.
    (re.compile(r"\b(rk_[0-9a-f]{12}_)[A-Za-z0-9_-]{8,}"), r"\1" + MASK),
    # Fernet tokens (encrypted credentials) and keys.
    (re.compile(r"\bgAAAAA[A-Za-z0-9_=-]{20,}"), MASK),
)


class SecretMasker:
    """Replaces secrets in text: known shapes (``_PATTERNS``) and registered literal values."""

    def __init__(self) -> None:
        self._literals: set[str] = set()
        self._lock = threading.Lock()

    def register(self, secret: str | None) -> None:
        """Mask this exact value from now on (client secrets, encryption keys...)."""
        # Short values would mask ordinary words; real secrets are long.
        if secret and len(secret) >= 8:
            with self._lock:
                self._literals.add(secret)

    def mask(self, text: str) -> str:
        for secret in sorted(self._literals, key=len, reverse=True):
            if secret in text:
                text = text.replace(secret, MASK)
        for pattern, replacement in _PATTERNS:
            text = pattern.sub(replacement, text)
        return text


masker = SecretMasker()


@contextmanager
def log_context(**values: str | None) -> Iterator[None]:
    """Add ``values`` (None ones skipped) to every record logged inside the block."""
    token = _context.set({**_context.get(), **{k: v for k, v in values.items() if v is not None}})
    try:
        yield
    finally:
        _context.reset(token)


def bind_context(**values: str | None) -> None:
    """Add ``values`` for the rest of the current task (e.g. a run id learnt mid-way)."""
    _context.set({**_context.get(), **{k: v for k, v in values.items() if v is not None}})


def current_context() -> dict[str, str]:
    return dict(_context.get())


class ContextFilter(logging.Filter):
    """Puts the current ``log_context`` on each record as ``record.context``."""

    def __init__(self, static: Mapping[str, str] | None = None) -> None:
        super().__init__()
        self._static = dict(static or {})

    def filter(self, record: logging.LogRecord) -> bool:
        record.context = {**self._static, **_context.get()}
        return True


class SecretMaskFilter(logging.Filter):
    """Masks secrets in a record's message, its extra fields and its exception text."""

    def __init__(self, secret_masker: SecretMasker | None = None) -> None:
        super().__init__()
        self._masker = secret_masker or masker

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a bad format string must not lose the record
            message = f"{record.msg!r} {record.args!r}"
        record.msg = self._masker.mask(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self._masker.mask(record.exc_text)
        if record.stack_info:
            record.stack_info = self._masker.mask(record.stack_info)
        for key, value in list(vars(record).items()):
            if key in _RECORD_ATTRS:
                continue
            if _SECRET_FIELD.search(key):
                setattr(record, key, MASK)
            elif isinstance(value, str):
                setattr(record, key, self._masker.mask(value))
        return True


def extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The ``extra=`` fields of a record and its context."""
    fields: dict[str, Any] = dict(getattr(record, "context", {}) or {})
    for key, value in vars(record).items():
        if key not in _RECORD_ATTRS:
            fields[key] = value
    return fields


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, context and extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in extra_fields(record).items():
            line.setdefault(key, value)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exception"] = record.exc_text
        return json.dumps(line, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """``time level logger: message key=value ...`` for people reading a terminal."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        fields = extra_fields(record)
        if not fields:
            return text
        head, sep, tail = text.partition("\n")
        pairs = " ".join(f"{k}={v}" for k, v in fields.items())
        return f"{head} [{pairs}]{sep}{tail}"


_HANDLER_NAME = "reconciler"


def configure_logging(
    settings: Settings,
    *,
    stream: IO[str] | None = None,
    static: Mapping[str, str] | None = None,
) -> logging.Handler:
    """Send every log record through one masked, structured handler (idempotent)."""
    if settings.secret_key is not None:
        for key in settings.secret_key.get_secret_value().split(","):
            masker.register(key.strip())
    if settings.oauth_client_secret is not None:
        masker.register(settings.oauth_client_secret.get_secret_value())
    root = logging.getLogger()
    for handler in list(root.handlers):
        if handler.get_name() == _HANDLER_NAME:
            root.removeHandler(handler)
            handler.close()
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.addFilter(ContextFilter(static))
    handler.addFilter(SecretMaskFilter())
    handler.setFormatter(JsonFormatter() if settings.log_json else TextFormatter())
    root.addHandler(handler)
    root.setLevel(settings.log_level)
    # APScheduler logs every job start at INFO: one line per pair per interval is noise; our
    # own run logs say what happened.
    chatty = logging.DEBUG if root.level <= logging.DEBUG else max(logging.WARNING, root.level)
    logging.getLogger("apscheduler").setLevel(chatty)
    # Alembic announces its context at INFO on every migration check (/readyz); httpx logs
    # every request at INFO (thousands per run): both only when debugging.
    for noisy in ("alembic", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(chatty)
    # uvicorn's loggers keep their own handlers unless told not to: route them through ours.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    return handler
