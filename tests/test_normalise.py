"""The one definition of "same email / same phone", shared by the sides and the engine."""

import pytest

from reconciler.sides.base import CORE_FIELDS
from reconciler.sides.normalise import normalise_email, normalise_phone
from reconciler.sync.normalise import email_key, normalised_fields, phone_key


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


def test_normalised_fields_are_every_core_field_in_order() -> None:
    assert tuple(normalised_fields({})) == CORE_FIELDS
    assert normalised_fields({"phone": "555-010-0200", "first_name": " Ann  Lee "}) == {
        "first_name": "Ann Lee",
        "last_name": None,
        "email": None,
        "phone": "+15550100200",
    }
