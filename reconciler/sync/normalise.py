"""Normalisation: what "the same" means when comparing values across sides.

The engine compares normalised content, never timestamps. These functions are the single
definition of equality for tags, emails, phones, names and note bodies.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Callable, Mapping
from functools import lru_cache

from reconciler.sides.base import CoreField
from reconciler.sides.normalise import normalise_email, normalise_phone

_SPACES = re.compile(r"[ \t]+")
# A line (not the last) ending in whitespace: ``\s`` is exactly ``str.isspace``, what
# ``rstrip`` strips.
_SPACE_BEFORE_LF = re.compile(r"[^\S\n]\n")

# Memo sizes. A plan asks for the same few tag keys and note bodies over and over (every
# contact's tags; a note's body is compared, hashed and copied several times while its link is
# planned): memoising by the raw text makes each a dict lookup. Bounded, so a long-lived
# process keeps at most this many texts alive; note bodies are only reused within one link.
_TAG_MEMO = 16_384
_NOTE_MEMO = 1_024


def tag_key(name: str, *, case_insensitive: bool = True) -> str:
    """The comparison key of a tag: trimmed, inner runs of spaces folded, case-folded."""
    return _folded_tag_key(name) if case_insensitive else _exact_tag_key(name)


def tag_keyer(*, case_insensitive: bool = True) -> Callable[[str], str]:
    """``tag_key`` under one comparison rule, as a one-argument function (for loops over
    many tags)."""
    return _folded_tag_key if case_insensitive else _exact_tag_key


@lru_cache(maxsize=_TAG_MEMO)
def _exact_tag_key(name: str) -> str:
    return _SPACES.sub(" ", unicodedata.normalize("NFC", name).strip())


@lru_cache(maxsize=_TAG_MEMO)
def _folded_tag_key(name: str) -> str:
    return _exact_tag_key(name).casefold()


def email_key(email: str | None) -> str | None:
    """The matching key of an email; the same definition the sides use for lookups."""
    if email is None:
        return None
    return normalise_email(unicodedata.normalize("NFC", email))


def phone_key(phone: str | None, *, default_region: str = "1") -> str | None:
    """E.164 (``+<digits>``), or None when the text cannot be a phone number.

    Delegates to the sides' definition so that the engine's matching and a connector's
    lookups can never disagree on what "the same phone" is. ``default_region`` is the calling
    code assumed for national numbers (no ``+`` or ``00``).
    """
    return normalise_phone(phone, default_country_code=default_region)


def name_value(name: str | None) -> str | None:
    """Names keep their case (a real edit) but lose surrounding and doubled spaces."""
    if name is None:
        return None
    value = _SPACES.sub(" ", unicodedata.normalize("NFC", name).strip())
    return value or None


def field_value(name: CoreField, value: str | None, *, default_region: str = "1") -> str | None:
    """The normalised value of a core field, as stored in the base and compared by the diff."""
    if name == "email":
        return email_key(value)
    if name == "phone":
        return phone_key(value, default_region=default_region)
    return name_value(value)


def normalised_fields(
    fields: Mapping[CoreField, str | None], *, default_region: str = "1"
) -> dict[CoreField, str | None]:
    """Every core field in its normal form (missing fields are None)."""
    # Written out (same order as CORE_FIELDS): every contact of a run passes here.
    get = fields.get
    return {
        "first_name": name_value(get("first_name")),
        "last_name": name_value(get("last_name")),
        "email": email_key(get("email")),
        "phone": normalise_phone(get("phone"), default_country_code=default_region),
    }


@lru_cache(maxsize=_NOTE_MEMO)
def note_body(body: str) -> str:
    """The canonical text of a note: NFC, LF line ends, no trailing spaces, no edge blank lines.

    HighLevel may re-render whitespace; two bodies that differ only there are the same note.
    A body already canonical is returned as is (the same string object, not a copy: plans hold
    many bodies, and sharing them with the views costs nothing).
    """
    if (
        "\r" not in body
        and not body.startswith("\n")
        and not body[-1:].isspace()
        and not _SPACE_BEFORE_LF.search(body)
        and unicodedata.is_normalized("NFC", body)
    ):
        return body  # the usual case, found without splitting the text
    text = unicodedata.normalize("NFC", body).replace("\r\n", "\n").replace("\r", "\n")
    lines = [line.rstrip() for line in text.split("\n")]
    canonical = "\n".join(lines).strip("\n")
    return body if canonical == body else canonical


@lru_cache(maxsize=_NOTE_MEMO)
def note_hash(body: str) -> str:
    return hashlib.sha256(note_body(body).encode("utf-8")).hexdigest()[:32]


def value_hash(value: str | None) -> str | None:
    """A short stable hash for explanations (values themselves may be personal data)."""
    if value is None:
        return None
    return hashlib.sha256(value.encode("utf-8")).hexdigest()[:12]
