"""The demo's story: who is on which side before the first sync, and what people change on
both sides afterwards, so that every kind of conflict shows up.

Before the first sync (``seed_scenario``, no webhooks: the data "was there"):

- people only on A, only on B (the sandbox's realistic seed): copied across;
- the same people on both sides with different tags (policy ``tags_initial=manual``): a
  TAGS_INITIAL conflict each; their identical notes are matched, never duplicated;
- one person on A whose email two contacts share on B (a duplicate in the CRM): CONTACT_MATCH;
- people on A with notes, copied to B by the first sync, that the second act edits.

After the first sync (``edit_both_sides``, through the sandbox, so HighLevel's webhooks fire):

- the same note edited differently on both sides: NOTE;
- the same field changed differently on both sides: FIELD;
- a note deleted on A and edited on B: NOTE_DELETE;
- a contact deleted on A and edited on B: CONTACT_DELETE;
- and changes that simply sync: a new note, a tag added on one side and removed on the other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from reconciler.sandbox.store import Location


@dataclass(frozen=True, slots=True)
class Person:
    first: str
    last: str
    email: str
    phone: str
    tags: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    def fields(self, **changes: Any) -> dict[str, Any]:
        fields: dict[str, Any] = {
            "firstName": self.first,
            "lastName": self.last,
            "email": self.email,
            "phone": self.phone,
            "tags": list(self.tags),
            "source": "demo",
            "country": "US",
        }
        fields.update(changes)
        return fields


SHARED_NOTE = (
    "Met Maria at the open house. Interested in the teeth whitening package for her staff; "
    "send the group pricing."
)
# On both sides before the first sync, tags differ: TAGS_INITIAL conflicts (policy: manual).
SHARED = (
    (
        Person(
            "Maria",
            "Gonzalez",
            "maria.gonzalez@brightsmiles.dental",
            "+15125550101",
            ("customer", "vip"),
            (SHARED_NOTE,),
        ),
        ("customer", "newsletter", "churn-risk"),
    ),
    (
        Person("Tom", "O'Neill", "tom.oneill@acme-roofing.com", "+13035550102", ("lead", "warm")),
        ("lead", "hot", "webinar-2026"),
    ),
)
# On A once; on B twice with the same email (duplicates in the CRM): CONTACT_MATCH.
AMBIGUOUS = Person("Dana", "Whitfield", "dana.whitfield@northpeak.io", "+15035550103", ("lead",))
AMBIGUOUS_ON_B = (
    AMBIGUOUS,
    Person("D.", "Whitfield", "dana.whitfield@northpeak.io", "+15035550199", ("newsletter",)),
)

NOTE_CLASH = Person(
    "Priya",
    "Raman",
    "priya.raman@greenleaflaw.com",
    "+16145550104",
    ("customer",),
    ("Called Priya about the renewal. Budget is approved for next quarter.",),
)
FIELD_CLASH = Person("Kenji", "Watanabe", "kenji.watanabe@northpeak.io", "+19195550105", ("trial",))
NOTE_DELETE = Person(
    "Chiara",
    "Rossi",
    "chiara.rossi@proton.me",
    "+16025550106",
    ("lead", "follow-up"),
    ("Left a voicemail for Chiara regarding the spring promotion.",),
)
CONTACT_DELETE = Person(
    "Omar", "Haddad", "omar.haddad@outlook.com", "+16085550107", ("cold",), ("Asked for a quote.",)
)
JUST_SYNCS = Person(
    "Ingrid",
    "Larsen",
    "ingrid.larsen@icloud.com",
    "+12085550108",
    ("customer", "newsletter"),
    ("Booked a follow-up for Tuesday at 10am.",),
)
ON_A_FIRST = (NOTE_CLASH, FIELD_CLASH, NOTE_DELETE, CONTACT_DELETE, JUST_SYNCS)


def _create(location: Location, person: Person, *, tags: tuple[str, ...] | None = None) -> str:
    fields = person.fields() if tags is None else person.fields(tags=list(tags))
    contact = location.create_contact(fields, emit=False)
    for body in person.notes:
        location.create_note(contact.id, {"body": body}, emit=False)
    return contact.id


def seed_scenario(a: Location, b: Location) -> None:
    """The demo's people, on top of the sandbox's seeded contacts (B allows duplicates)."""
    for person, b_tags in SHARED:
        _create(a, person)
        _create(b, person, tags=b_tags)
    _create(a, AMBIGUOUS)
    for person in AMBIGUOUS_ON_B:
        _create(b, person)
    for person in ON_A_FIRST:
        _create(a, person)


@dataclass(frozen=True, slots=True)
class Edit:
    conflict: str  # the conflict it makes, or "" for a change that syncs
    who: str
    what: str


class DemoEditError(LookupError):
    """A contact or note the second act edits is not where the first sync should have put it."""


def _contact_id(location: Location, person: Person) -> str:
    found = location.find_by_email(person.email)
    if found is None:
        raise DemoEditError(f"{person.first} {person.last} is not on {location.name}")
    return found.id


def _note_id(location: Location, contact_id: str, body: str) -> str:
    for note in location.list_notes(contact_id):
        if note.body == body:
            return note.id
    raise DemoEditError(f"note {body[:30]!r}... is not on {location.name}")


def edit_both_sides(a: Location, b: Location) -> list[Edit]:
    """People at work on both sides after the first sync (webhooks fire for each change)."""
    edits: list[Edit] = []

    # NOTE: both sides edit the same note differently.
    body = NOTE_CLASH.notes[0]
    a_contact, b_contact = _contact_id(a, NOTE_CLASH), _contact_id(b, NOTE_CLASH)
    a.update_note(a_contact, _note_id(a, a_contact, body), {"body": body + " Up to $40k."})
    b.update_note(
        b_contact, _note_id(b, b_contact, body), {"body": body + " Decision expected in May."}
    )
    edits.append(Edit("note", "Priya Raman", "the same note edited on A and on B"))

    # FIELD: both sides change the phone number differently.
    a.update_contact(_contact_id(a, FIELD_CLASH), {"phone": "+19195550142"})
    b.update_contact(_contact_id(b, FIELD_CLASH), {"phone": "+19195550177"})
    edits.append(Edit("field", "Kenji Watanabe", "phone changed on A and on B"))

    # NOTE_DELETE: A deletes a note that B edits.
    body = NOTE_DELETE.notes[0]
    a_contact, b_contact = _contact_id(a, NOTE_DELETE), _contact_id(b, NOTE_DELETE)
    a.delete_note(a_contact, _note_id(a, a_contact, body))
    b.update_note(
        b_contact, _note_id(b, b_contact, body), {"body": body + " She called back: interested."}
    )
    edits.append(Edit("note_delete", "Chiara Rossi", "note deleted on A, edited on B"))

    # CONTACT_DELETE: A deletes the contact, B edits it.
    b.update_contact(_contact_id(b, CONTACT_DELETE), {"lastName": "Haddad-Karim"})
    a.delete_contact(_contact_id(a, CONTACT_DELETE))
    edits.append(Edit("contact_delete", "Omar Haddad", "deleted on A, renamed on B"))

    # Changes that simply sync.
    a_contact, b_contact = _contact_id(a, JUST_SYNCS), _contact_id(b, JUST_SYNCS)
    a.create_note(a_contact, {"body": "Sent the case study and the pricing sheet."})
    b.change_tags(b_contact, ["vip"], add=True)
    a.change_tags(a_contact, ["newsletter"], add=False)
    edits.append(Edit("", "Ingrid Larsen", "a note added on A, a tag added on B, one removed on A"))
    return edits
