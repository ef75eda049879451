"""The one definition of "same email / same phone", shared by the sides and the engine."""

import pytest

from reconciler.sides.normalise import normalise_email, normalise_phone
from reconciler.sync.normalise import email_key, phone_key


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("+1 (555) 010-0200", "1", "+15550100200"),
        ("555-010-0200", "1", "+15550100200"),
        ("1 555 010 0200", "1", "+15550100200"),
        ("0015550100200", "1", "+15550100200"),
        ("020 7946 0018", "44", "+442079460018"),
        ("+44 20 7946 0018", "1", "+442079460018"),
        ("12", "1", None),
        ("", "1", None),
        ("call me", "1", None),
    ],
)
def test_phone_normal_form(raw: str, region: str, expected: str | None) -> None:
    assert normalise_phone(raw, default_country_code=region) == expected
    assert phone_key(raw, default_region=region) == expected


def test_engine_and_sides_agree_on_email() -> None:
    for raw in ["  Ann@Example.COM ", "", "x@y.z"]:
        assert email_key(raw) == normalise_email(raw)
