"""The documented deviations: where the official spec is wrong or silent, and what we check instead.

The validator is strict everywhere else (requests and responses, unknown properties refused on
both sides, every error body checked). Each entry below is as narrow as the evidence allows:
named operations, named statuses, named keys, and a body shape that is still validated against
``common-schemas.json`` or another official schema. Nothing here switches a check off globally.

Evidence: ``HIGHLEVEL.md`` (shared/), ``DESIGN.md`` (shared/), the specs themselves
(``apps/contacts.json``, ``apps/contacts.2025-09-08.5f8673c.json``, ``apps/oauth.json``), and the
installed official SDK (``highlevel``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tests.conformance.messages import Problem
from tests.conformance.spec import COMMON, CONTACTS, CONTACTS_2025, ref

BAD_REQUEST = ref(COMMON, "BadRequestDTO")
UNAUTHORIZED = ref(COMMON, "UnauthorizedDTO")
UNPROCESSABLE = ref(COMMON, "UnprocessableDTO")
# common-schemas.json has no DTO for 404, 429 or 5xx. NestJS (HighLevel's framework) answers
# every HttpException as {statusCode, message, error: <reason phrase>}; UnauthorizedDTO is the
# one common DTO spelling out exactly that shape, so the undocumented statuses are held to it.
HTTP_EXCEPTION = UNAUTHORIZED

SEARCH = "search-contacts-advanced"


@dataclass(frozen=True)
class Deviation:
    key: str
    reason: str
    evidence: str


@dataclass(frozen=True)
class UndocumentedStatus(Deviation):
    """A status the operation's ``responses`` omit; its body must still match ``body``."""

    operations: frozenset[str] | None  # None: every operation
    statuses: frozenset[int]
    body: str
    # Opt-in: only while a test has injected faults (``Conformance.allow(key)``).
    opt_in: bool = False


@dataclass(frozen=True)
class UntypedResponse(Deviation):
    """A documented status whose answer the spec leaves untyped: validated against ``bodies``."""

    operation: str
    bodies: Mapping[int, str | dict[str, Any]]


@dataclass(frozen=True)
class ExtraKeys(Deviation):
    """Response keys beyond the schema at ``at`` (``"*"`` = every array item).

    ``typed_by``: when set, the extra keys are validated against that official schema too.
    """

    operations: frozenset[str]
    status: int
    at: tuple[str, ...]
    keys: frozenset[str] | None  # None: exactly the properties ``typed_by`` documents
    typed_by: str | None = None


@dataclass(frozen=True)
class RequestBodyLeeway(Deviation):
    """A request body problem the real service does not have (the spec types the field wrong)."""

    operations: frozenset[str]
    pointer: tuple[str, ...]
    keyword: str
    instance_type: type


UNDOCUMENTED_STATUSES: tuple[UndocumentedStatus, ...] = (
    UndocumentedStatus(
        key="search-422",
        reason="A search body without locationId or pageLimit, or with pageLimit > 500, is a "
        "422 class-validator answer; the spec lists only 200/400/401 for search.",
        evidence="HIGHLEVEL.md, 'What a reconciler needs': search 'body needs locationId and "
        "pageLimit (max 500) or it answers 422'.",
        operations=frozenset({SEARCH}),
        statuses=frozenset({422}),
        body=UNPROCESSABLE,
    ),
    UndocumentedStatus(
        key="duplicate-422",
        reason="GET /contacts/search/duplicate validates its query DTO with the same "
        "class-validator pipe as the other query-DTO operations (missing locationId, unknown "
        "parameters: 422), but its responses omit 422.",
        evidence="contacts.json: the sibling query-DTO operations get-contacts and "
        "get-contacts-by-businessId list 422 UnprocessableDTO for the same kind of query.",
        operations=frozenset({"get-duplicate-contact"}),
        statuses=frozenset({422}),
        body=UNPROCESSABLE,
    ),
    UndocumentedStatus(
        key="bulk-auth",
        reason="The bulk operations declare no security and no 401 (bulk business not even "
        "400), yet, like every /contacts call, they need the bearer token and Version header: "
        "a missing token is 401, a missing Version 400.",
        evidence="HIGHLEVEL.md, 'Wire basics': 'Every contacts call carries Authorization: "
        "Bearer <token> and Version: 2021-07-28'.",
        operations=frozenset({"create-association", "add-remove-contact-from-business"}),
        statuses=frozenset({400, 401}),
        body=UNAUTHORIZED,  # the stricter of the two: BadRequestDTO plus ``error``
    ),
    UndocumentedStatus(
        key="rate-limit-429",
        reason="Over 100 requests per 10 s (or the daily quota) per app per location the "
        "service answers 429; no operation lists it.",
        evidence="HIGHLEVEL.md, 'Limits': 'Over the limit: 429'; docs/oauth/Authorization.md "
        "(rate limits FAQ).",
        operations=None,
        statuses=frozenset({429}),
        body=HTTP_EXCEPTION,
    ),
    UndocumentedStatus(
        key="injected-5xx",
        reason="Injected faults answer 500/503/504 in JSON and 502 as the gateway's HTML page; "
        "no operation lists a 5xx. Accepted only while a test has injected faults.",
        evidence="DESIGN.md, 'The HighLevel sandbox': fault injection (429 bursts, 5xx, 5xx "
        "after a successful write, latency, truncated pages).",
        operations=None,
        statuses=frozenset({500, 502, 503, 504}),
        body=HTTP_EXCEPTION,
        opt_in=True,
    ),
)

UNTYPED_RESPONSES: tuple[UntypedResponse, ...] = (
    UntypedResponse(
        key="search-untyped",
        reason="The current spec gives search's 200/400/401 no content at all (and its body "
        "DTO no properties); the answer {contacts, total} with searchAfter on each hit is only "
        "in the older spec.",
        evidence="HIGHLEVEL.md, 'Wire basics': 'The search response shape and the searchAfter "
        "cursor are only in the older apps/contacts.2025-09-08.5f8673c.json'.",
        operation=SEARCH,
        bodies={
            200: ref(CONTACTS_2025, "SearchContactSuccessResponseDto"),
            400: BAD_REQUEST,
            401: UNAUTHORIZED,
        },
    ),
    UntypedResponse(
        key="duplicate-untyped",
        reason="GET /contacts/search/duplicate documents its 200 with no content in either "
        "spec. The answer is {contact}: the matching contact as GetContectByIdSchema documents "
        "it (the record get-contact answers), or null when there is none.",
        evidence="contacts.json get-duplicate-contact: summary 'Get Duplicate Contact', 200 "
        "without content; GetContectByIdSchema.",
        operation="get-duplicate-contact",
        bodies={
            200: {
                "type": "object",
                "properties": {
                    "contact": {
                        "anyOf": [
                            {"$ref": ref(CONTACTS, "GetContectByIdSchema")},
                            {"enum": [None]},
                        ]
                    }
                },
                "required": ["contact"],
                "additionalProperties": False,
            }
        },
    ),
)

EXTRA_KEYS: tuple[ExtraKeys, ...] = (
    ExtraKeys(
        key="duplicate-write-meta",
        reason="A write refused by the location's no-duplicates rule names the existing "
        "contact in meta {contactId, contactName, matchingField}. Observed on create; the "
        "sandbox applies the same rule, with the same answer, when an update or an upsert "
        "would give a contact another one's email or phone (found by the fuzzer).",
        evidence="HIGHLEVEL.md, 'Wire basics': 'Observed in the wild: a duplicate-create 400 "
        "carrying meta.contactId of the existing contact'.",
        operations=frozenset({"create-contact", "update-contact", "upsert-contact"}),
        status=400,
        at=(),
        keys=frozenset({"meta"}),
    ),
    ExtraKeys(
        key="list-meta",
        reason="The deprecated list pages with startAfter/startAfterId, which only the "
        "previous page can give: its answer carries them in meta (with total, nextPageUrl).",
        evidence="contacts.json get-contacts: the startAfterId/startAfter query parameters; "
        "HIGHLEVEL.md, 'Known traps': 'The deprecated GET /contacts/ cursor can repeat'.",
        operations=frozenset({"get-contacts"}),
        status=200,
        at=(),
        keys=frozenset({"meta"}),
    ),
    ExtraKeys(
        key="list-items-whole-contact",
        reason="ContactsSearchSchema (the list items) documents 12 keys, not even the names, "
        "email's siblings or phone a contact list is read for; the items carry the contact as "
        "GetContectByIdSchema documents it, and only keys that schema has, typed by it.",
        evidence="contacts.json: ContactsSearchSchema vs GetContectByIdSchema (same record).",
        operations=frozenset({"get-contacts", "get-contacts-by-businessId"}),
        status=200,
        at=("contacts", "*"),
        keys=None,
        typed_by=ref(CONTACTS, "GetContectByIdSchema"),
    ),
    ExtraKeys(
        key="oauth-error-code",
        reason="The token endpoint is OAuth 2.0's: a refused grant names the RFC 6749 §5.2 "
        "error code (invalid_grant, unsupported_grant_type) besides statusCode and message.",
        evidence="oauth.json: grant_type authorization_code | refresh_token | "
        "client_credentials (RFC 6749 grants); HIGHLEVEL.md, 'Auth': refresh tokens are spent "
        "on use, a second use is refused.",
        operations=frozenset({"get-access-token"}),
        status=400,
        at=(),
        keys=frozenset({"error", "error_description"}),
    ),
)

REQUEST_LEEWAY: tuple[RequestBodyLeeway, ...] = (
    RequestBodyLeeway(
        key="date-of-birth-string",
        reason="dateOfBirth is typed object in the request DTOs, but it is a date string: the "
        "spec's own example is '1990-09-25' and its description lists date string formats.",
        evidence="contacts.json CreateContactDto/UpsertContactDto/UpdateContactDto.dateOfBirth "
        "(type object, example '1990-09-25'); GetContectByIdSchema.dateOfBirth is a string.",
        operations=frozenset({"create-contact", "upsert-contact", "update-contact"}),
        pointer=("dateOfBirth",),
        keyword="type",
        instance_type=str,
    ),
    RequestBodyLeeway(
        key="search-body-untyped",
        reason="SearchBodyV2DTO is {type: object, properties: {}}: the body is not described, "
        "not empty. Search bodies are checked by the sandbox's tests and by HIGHLEVEL.md's "
        "rules (locationId, pageLimit <= 500), not by the spec.",
        evidence="contacts.json and contacts.2025-09-08.5f8673c.json: SearchBodyV2DTO.",
        operations=frozenset({SEARCH}),
        pointer=(),
        keyword="additionalProperties",
        instance_type=dict,
    ),
)

# The official SDK's refresh helper posts the token form with camelCase names (refreshToken,
# clientId, clientSecret, grantType, userType); oauth.json names them in snake_case. The sandbox
# reads both. The request is judged after renaming; only the SDK test opts in.
SDK_CAMEL_FORM = Deviation(
    key="sdk-camel-case-token-form",
    reason="The official Python SDK's Oauth.refresh_token posts camelCase form names.",
    evidence="highlevel/services/oauth/oauth.py (gohighlevel-api-client 3.0.0), refresh_token.",
)
CAMEL_FORM_NAMES = {
    "clientId": "client_id",
    "clientSecret": "client_secret",
    "grantType": "grant_type",
    "refreshToken": "refresh_token",
    "userType": "user_type",
    "redirectUri": "redirect_uri",
}

# Not API operations: the marketplace consent page the sandbox stands in for.
CONSENT_PAGE = Deviation(
    key="consent-page",
    reason="GET /oauth/chooselocation is HighLevel's marketplace consent page, not an API "
    "operation; the sandbox serves a stand-in that redirects (302) to the registered "
    "redirect_uri with ?code=. It is checked for that, not against the API spec.",
    evidence="docs/oauth/Authorization.md: https://marketplace.gohighlevel.com/v2/oauth/"
    "chooselocation?...; the SDK's Oauth.get_authorization_url builds the same URL.",
)
CONSENT_PATH = "/oauth/chooselocation"

UNKNOWN_ROUTE = Deviation(
    key="unknown-route-404",
    reason="A method and path the spec does not have answer NestJS's 404 'Cannot <METHOD> "
    "<path>'; only tests that send such requests on purpose (invalid_requests()) reach it.",
    evidence="HIGHLEVEL.md names the API as NestJS-shaped (class-validator 422 messages); "
    "reconciler/sandbox/errors.py.",
)

ALL: tuple[Deviation, ...] = (
    *UNDOCUMENTED_STATUSES,
    *UNTYPED_RESPONSES,
    *EXTRA_KEYS,
    *REQUEST_LEEWAY,
    SDK_CAMEL_FORM,
    CONSENT_PAGE,
    UNKNOWN_ROUTE,
)
OPT_IN = frozenset([d.key for d in UNDOCUMENTED_STATUSES if d.opt_in] + [SDK_CAMEL_FORM.key])


def undocumented_status(
    operation: str, status: int, allowed: frozenset[str]
) -> UndocumentedStatus | None:
    for d in UNDOCUMENTED_STATUSES:
        if d.opt_in and d.key not in allowed:
            continue
        if (d.operations is None or operation in d.operations) and status in d.statuses:
            return d
    return None


def untyped_response(operation: str) -> UntypedResponse | None:
    return next((d for d in UNTYPED_RESPONSES if d.operation == operation), None)


def _matches(pattern: tuple[str, ...], pointer: tuple[str | int, ...]) -> bool:
    return len(pattern) == len(pointer) and all(
        (p == "*" and isinstance(q, int)) or p == q for p, q in zip(pattern, pointer, strict=True)
    )


def extra_keys(operation: str, status: int, problem: Problem) -> ExtraKeys | None:
    if problem.keyword != "additionalProperties":
        return None
    for d in EXTRA_KEYS:
        if operation in d.operations and status == d.status and _matches(d.at, problem.pointer):
            return d
    return None


def request_leeway(operation: str, problem: Problem) -> RequestBodyLeeway | None:
    for d in REQUEST_LEEWAY:
        if (
            operation in d.operations
            and problem.kind == "body"
            and problem.pointer == d.pointer
            and problem.keyword == d.keyword
            and isinstance(problem.instance, d.instance_type)
        ):
            return d
    return None
