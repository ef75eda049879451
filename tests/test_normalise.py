"""The one definition of "same email / same phone", shared by the sides and the engine."""

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reconciler.sides.base import CORE_FIELDS
from reconciler.sides.normalise import normalise_email, normalise_phone
from reconciler.sync.normalise import email_key, normalised_fields, note_body, phone_key


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


def _note_body_by_definition(body: str) -> str:
    text = unicodedata.normalize("NFC", body).replace("\r\n", "\n").replace("\r", "\n")
    return "\n".join(line.rstrip() for line in text.split("\n")).strip("\n")


@given(
    st.text(
        alphabet=st.one_of(
            st.sampled_from(["\r", "\n", " ", "\t", "\x0b", "\x85", "\u2028", "\u00a0", "a"]),
            st.sampled_from(["e", "\u0301", "\u1100", "\u1161", "\u11a8", "\u212b"]),
            st.characters(),
        ),
        max_size=12,
    )
)
def test_note_body_shortcut_for_canonical_text_matches_the_definition(body: str) -> None:
    assert note_body(body) == _note_body_by_definition(body)
    assert note_body(note_body(body)) == note_body(body)
