"""Seeded, realistic data: names, emails, E.164 phones, tags, notes in plain prose, tasks.

The same seed, location and count always give the same contacts (ids included), so demos,
tests and benchmarks can be compared run to run. Seeded writes send no webhooks.
"""

from __future__ import annotations

import random

from reconciler.sandbox.clock import iso_from_ms
from reconciler.sandbox.store import Location

FIRST_NAMES = (
    "Olivia",
    "Liam",
    "Emma",
    "Noah",
    "Ava",
    "Elijah",
    "Sophia",
    "James",
    "Isabella",
    "Lucas",
    "Mia",
    "Mateo",
    "Amelia",
    "Benjamin",
    "Harper",
    "Henry",
    "Evelyn",
    "Theodore",
    "Abigail",
    "Jack",
    "Emily",
    "Levi",
    "Ella",
    "Alexander",
    "Chloe",
    "Jackson",
    "Grace",
    "Samuel",
    "Nora",
    "Daniel",
    "Zoe",
    "Owen",
    "Hannah",
    "Gabriel",
    "Layla",
    "Carter",
    "Aria",
    "Julian",
    "Priya",
    "Wei",
    "Fatima",
    "Diego",
    "Aisha",
    "Kenji",
    "Ingrid",
    "Tomás",
    "Chiara",
    "Omar",
)
LAST_NAMES = (
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Gonzalez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Perez",
    "Thompson",
    "White",
    "Harris",
    "Sanchez",
    "Clark",
    "Ramirez",
    "Lewis",
    "Robinson",
    "Walker",
    "Young",
    "Allen",
    "King",
    "Wright",
    "Scott",
    "Nguyen",
    "Hill",
    "Flores",
    "Green",
    "Adams",
    "Nelson",
    "Baker",
    "Patel",
    "Kim",
    "O'Brien",
    "Schmidt",
    "Rossi",
    "Okafor",
    "Larsen",
)
DOMAINS = (
    "gmail.com",
    "yahoo.com",
    "outlook.com",
    "icloud.com",
    "hotmail.com",
    "proton.me",
    "acme-roofing.com",
    "brightsmiles.dental",
    "northpeak.io",
    "greenleaflaw.com",
)
COMPANIES = (
    "Acme Roofing",
    "Bright Smiles Dental",
    "Northpeak Software",
    "Greenleaf Law",
    "Summit Fitness",
    "Blue Harbor Realty",
    "Cedar & Sage Interiors",
    "Pioneer HVAC",
    "Lumen Photography",
    "Riverbend Veterinary",
    "Atlas Logistics",
    "Maple Street Bakery",
)
TAGS = (
    "lead",
    "customer",
    "vip",
    "newsletter",
    "webinar-2026",
    "referral",
    "facebook-ad",
    "google-ads",
    "cold",
    "warm",
    "hot",
    "follow-up",
    "appointment-booked",
    "no-show",
    "paid",
    "trial",
    "churn-risk",
    "upsell",
    "event-attendee",
    "partner",
)
SOURCES = ("public api", "website form", "facebook lead ad", "manual", "csv import", "referral")
CITIES = (
    ("Austin", "TX", "78701"),
    ("Denver", "CO", "80202"),
    ("Portland", "OR", "97205"),
    ("Tampa", "FL", "33602"),
    ("Columbus", "OH", "43215"),
    ("Raleigh", "NC", "27601"),
    ("Phoenix", "AZ", "85004"),
    ("Madison", "WI", "53703"),
    ("Boise", "ID", "83702"),
)
AREA_CODES = ("512", "303", "503", "813", "614", "919", "602", "608", "208", "415", "212")
NOTE_OPENERS = (
    "Called {first} about the {topic}.",
    "Met {first} at the {event}.",
    "{first} emailed asking about the {topic}.",
    "Left a voicemail for {first} regarding the {topic}.",
    "Follow-up with {first} on the {topic}.",
)
NOTE_MIDDLES = (
    "They are comparing us with two other vendors and want a proposal by Friday.",
    "Budget is approved for next quarter, but the decision sits with their operations lead.",
    "They liked the demo and asked for references from similar businesses.",
    "Pricing was the main concern; offered the annual plan with the onboarding credit.",
    "They need the integration with their booking calendar before they can switch.",
    "Their current contract ends in March, so timing is good for a trial.",
    "Asked for a simpler onboarding checklist for the front-desk staff.",
)
NOTE_CLOSERS = (
    "Next step: send the quote and book a call for next week.",
    "Will check in again after the holidays.",
    "No action needed until they reply.",
    "Sent the case study and the pricing sheet.",
    "Booked a follow-up for Tuesday at 10am.",
)
TOPICS = (
    "renewal",
    "spring promotion",
    "kitchen remodel quote",
    "membership upgrade",
    "teeth whitening package",
    "website redesign",
    "quarterly review",
    "invoice",
)
EVENTS = ("trade show", "open house", "chamber of commerce breakfast", "webinar")
TASK_TITLES = (
    "Call back",
    "Send proposal",
    "Confirm appointment",
    "Collect payment",
    "Request review",
    "Schedule onboarding",
)


def note_body(rng: random.Random, first: str) -> str:
    opener = rng.choice(NOTE_OPENERS).format(
        first=first, topic=rng.choice(TOPICS), event=rng.choice(EVENTS)
    )
    middle = " ".join(rng.sample(NOTE_MIDDLES, rng.randint(1, 2)))
    return f"{opener} {middle} {rng.choice(NOTE_CLOSERS)}"


def _free_phone(location: Location, rng: random.Random) -> str:
    # Re-draw on a clash: the location refuses duplicate phones by default.
    while True:
        phone = f"+1{rng.choice(AREA_CODES)}{rng.randint(2000000, 9999999)}"
        if phone not in location.by_phone:
            return phone


def seed_location(
    location: Location,
    *,
    seed: int,
    count: int,
    max_notes: int = 3,
    max_tasks: int = 1,
) -> None:
    """Add ``count`` contacts with notes and tasks, spread over the year before now."""
    rng = random.Random(f"seed:{seed}:{location.id}")
    now_ms = location.clock.now_ms()
    year_ms = 365 * 86400 * 1000
    added = sorted(now_ms - rng.randint(60_000, year_ms) for _ in range(count))
    for i in range(count):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        handle = f"{first}.{last}".lower().replace("'", "").replace("á", "a")
        city, state, postal = rng.choice(CITIES)
        fields: dict[str, object] = {
            "firstName": first,
            "lastName": last,
            "email": f"{handle}{i}@{rng.choice(DOMAINS)}",
            "phone": _free_phone(location, rng),
            "tags": rng.sample(TAGS, rng.randint(0, 4)),
            "source": rng.choice(SOURCES),
            "city": city,
            "state": state,
            "postalCode": postal,
            "country": "US",
            "timezone": "America/Chicago",
        }
        if rng.random() < 0.4:
            fields["companyName"] = rng.choice(COMPANIES)
        contact = location.create_contact(fields, added_ms=added[i], emit=False)
        for _ in range(rng.randint(0, max_notes)):
            note_ms = rng.randint(added[i], now_ms)
            location.create_note(
                contact.id, {"body": note_body(rng, first)}, added_ms=note_ms, emit=False
            )
        for _ in range(rng.randint(0, max_tasks)):
            due = now_ms + rng.randint(1, 30) * 86400 * 1000
            location.create_task(
                contact.id,
                {
                    "title": f"{rng.choice(TASK_TITLES)}: {first} {last}",
                    "body": "Created by the sandbox seed.",
                    "dueDate": iso_from_ms(due),
                    "completed": rng.random() < 0.2,
                },
                added_ms=added[i],
                emit=False,
            )
