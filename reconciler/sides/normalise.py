"""Normal forms for the keys contacts are matched on: email and phone.

HighLevel stores emails lower-cased and phones in E.164, but what users type (and what other
apps send) is neither; lookups by the raw text miss. Every side matches on these forms.
"""

from __future__ import annotations

import re

_NOT_DIGIT = re.compile(r"\D")
# E.164: a country code and subscriber number, at most 15 digits in all.
_E164_MIN_DIGITS = 8
_E164_MAX_DIGITS = 15
# National numbers without a country code are read as North American (HighLevel's default
# country for a location without one); a 10-digit number is then +1 and the number.
_NANP_DIGITS = 10


def normalise_email(raw: str | None) -> str | None:
    """Trimmed and case-folded; ``None`` for an empty or absent email."""
    if raw is None:
        return None
    email = raw.strip().casefold()
    return email or None


def normalise_phone(raw: str | None, *, default_country_code: str = "1") -> str | None:
    """E.164 (``+15550100200``) or ``None`` when the text cannot be a phone number.

    Accepts ``+1 (555) 010-0200``, ``0015550100200``, ``555-010-0200`` (national numbers get
    ``default_country_code``). No carrier or range validation: the aim is a stable key.
    """
    if raw is None:
        return None
    text = raw.strip()
    if not text:
        return None
    digits = _NOT_DIGIT.sub("", text)
    if text.startswith("+"):
        number = digits
    elif digits.startswith("00"):
        number = digits[2:]
    elif default_country_code == "1":
        # North America has no trunk prefix: 10 digits, or 11 starting with the country code.
        if len(digits) == _NANP_DIGITS:
            number = "1" + digits
        elif len(digits) == _NANP_DIGITS + 1 and digits.startswith("1"):
            number = digits
        else:
            number = digits
    else:
        # Elsewhere a national number drops its trunk prefix ("020 7946 0018" in the UK is
        # +44 20 7946 0018) and takes the country code.
        number = default_country_code + digits.lstrip("0")
    if not _E164_MIN_DIGITS <= len(number) <= _E164_MAX_DIGITS or number.startswith("0"):
        return None
    return "+" + number
