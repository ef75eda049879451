"""Property-based fuzzing of every contacts operation from the official spec (schemathesis 4).

Each operation gets schemathesis' positive and negative cases (bodies, query and path values;
negative ones include non-JSON bytes, wrong types, missing required fields, unknown properties),
with a real bearer token and ``Version`` fixed. Hypothesis also chooses, per case, whether the
path carries a real contact/note/task id and whether ``locationId`` is the token's own, so the
cases reach the handlers and not only the 400/401 guards.

Checks on every answer:
- ``not_a_server_error`` (schemathesis): bad input never gets a 5xx;
- the conformance gate (``validator.py``, in ``any_requests()`` mode): a documented status with a
  body matching its schema, or a documented deviation (``deviations.py``);
- ``status_code_conformance`` and ``response_schema_conformance`` (schemathesis) as a second
  opinion on every exchange no deviation touched.

"invalid-but-accepted" (shown with ``-v``) counts cases the spec calls invalid that the sandbox
served anyway: nulls in optional nested fields, empty query values, non-string custom field
values. class-validator's ``@IsOptional()`` lets null through the same way; they are reported,
not failed.

CI budget: ``CONFORMANCE_EXAMPLES`` cases per operation and mode (default 30: about 1,700 cases,
~20 s), derandomized, so a run is reproducible. A longer run, for a deliberate hunt (300: about
17,000 cases, ~8 minutes on 2 busy cores), with the per-operation figures::

    CONFORMANCE_EXAMPLES=300 .venv/bin/pytest tests/conformance/test_fuzz.py -q -v
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    response_schema_conformance,
    status_code_conformance,
)

from reconciler.sandbox.app import create_app
from reconciler.sandbox.clock import Clock
from reconciler.sandbox.state import Sandbox
from tests.conformance.conftest import auth, sandbox_config
from tests.conformance.spec import COMMON, CONTACTS, OAUTH, raw
from tests.conformance.validator import Conformance

EXAMPLES = int(os.environ.get("CONFORMANCE_EXAMPLES", "30"))
COMMON_PREFIX = "../common/common-schemas.json#/components/schemas/"


def _inline_common(node: Any) -> Any:
    """The common DTOs copied in, so schemathesis needs no file resolution."""
    if isinstance(node, dict):
        out = {k: _inline_common(v) for k, v in node.items()}
        target = out.get("$ref")
        if isinstance(target, str) and target.startswith(COMMON_PREFIX):
            out["$ref"] = "#/components/schemas/Common" + target.removeprefix(COMMON_PREFIX)
        if out.get("type") == "object" and out.get("properties"):
            # The gate's policy (spec.py): HighLevel refuses unknown properties, so positive
            # cases must not invent them. An empty ``properties`` (the search body) stays open.
            out.setdefault("additionalProperties", False)
        return out
    if isinstance(node, list):
        return [_inline_common(v) for v in node]
    return node


def fuzz_spec(path: Path) -> dict[str, Any]:
    spec: dict[str, Any] = _inline_common(copy.deepcopy(raw(path)))
    for name, schema in raw(COMMON)["components"]["schemas"].items():
        spec["components"]["schemas"]["Common" + name] = _inline_common(copy.deepcopy(schema))
    return spec


# oauth.json's other two operations (location tokens from an agency token, installed
# locations) are agency-only and not served by the sandbox: only the token endpoint is fuzzed.
SERVED_OAUTH = frozenset({"POST /oauth/token"})


@cache
def operations() -> dict[str, Any]:
    found = {}
    for path in (CONTACTS, OAUTH):
        schema = schemathesis.openapi.from_dict(fuzz_spec(path))
        for result in schema.get_all_operations():
            assert isinstance(result, Ok), result  # the official specs load whole
            operation = result.ok()
            if path == OAUTH and operation.label not in SERVED_OAUTH:
                continue
            found[operation.label] = operation
    return found


def _negatable(label: str) -> bool:
    """Whether schemathesis can make an invalid case: path ids are any string, and the
    headers are fixed, so only a body or query parameters can be negated."""
    definition = operations()[label].definition.raw
    return "requestBody" in definition or any(
        p.get("in") == "query" for p in definition.get("parameters", [])
    )


LABELS = sorted(operations())
NEGATABLE = [label for label in LABELS if _negatable(label)]


@dataclass
class Tally:
    """What one operation's run saw, printed for the report (``-s``)."""

    cases: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    invalid_accepted: list[str] = field(default_factory=list)

    def line(self, label: str, mode: GenerationMode) -> str:
        return f"{label} {mode.value}: {self.cases} cases, statuses {sorted(self.statuses.items())}"


@dataclass
class Target:
    app: FastAPI
    sandbox: Sandbox
    client: httpx.AsyncClient
    conformance: Conformance
    location: str
    headers: dict[str, str]
    contact_ids: list[str]
    note_ids: list[tuple[str, str]]
    task_ids: list[tuple[str, str]]
    tally: Tally = field(default_factory=Tally)


# Every fuzz test's tally by test id, printed at the end of the run (conftest.py).
TALLIES: dict[str, Tally] = {}


@pytest.fixture
async def target(request: pytest.FixtureRequest) -> AsyncIterator[Target]:
    clock = Clock.frozen_at("2026-01-05T09:00:00Z")
    # A frozen clock never refills the burst window: lift the limit for the fuzzer.
    app = create_app(sandbox_config(clock, contacts_per_location=4, rate_limit_max=10**9))
    sandbox: Sandbox = app.state.sandbox
    location = sandbox.locations[0]
    conformance = Conformance()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox.test") as client:
        conformance.install(client)
        contacts = [c["id"] for c in sandbox.contacts(location)]
        fuzzing = Target(
            app,
            sandbox,
            client,
            conformance,
            location,
            auth(sandbox.private_token(location)),
            contacts,
            [(c, n["id"]) for c in contacts for n in sandbox.notes(location, c)],
            [(c, t["id"]) for c in contacts for t in sandbox.tasks(location, c)],
        )
        TALLIES[request.node.name] = fuzzing.tally
        yield fuzzing
    await sandbox.aclose()


def _real_path(target: Target, path: str) -> st.SearchStrategy[dict[str, str]]:
    """Path values naming things that exist (earlier cases may have deleted them)."""
    if path.endswith("/{type}"):
        return st.sampled_from([{"type": "add"}, {"type": "remove"}])
    if "{taskId}" in path and target.task_ids:
        return st.sampled_from(target.task_ids).map(lambda p: {"contactId": p[0], "taskId": p[1]})
    if "{id}" in path and target.note_ids:
        return st.sampled_from(target.note_ids).map(lambda p: {"contactId": p[0], "id": p[1]})
    return st.sampled_from(target.contact_ids).map(lambda c: {"contactId": c})


# Strings the spec leaves free but the service parses (an email, a phone, a date): random text
# is refused with a 422, so a case may get a plausible value instead, to reach the handler.
PLAUSIBLE = {
    "email": "fuzz@example.com",
    "phone": "+15125550100",
    "dueDate": "2026-02-01T10:00:00Z",
    "dateOfBirth": "1990-09-25",
    "eventStartTime": "2026-02-01T10:00:00Z",
}


def _plausible(case: Any) -> None:
    if isinstance(case.body, dict):
        for name, value in PLAUSIBLE.items():
            if isinstance(case.body.get(name), str):
                case.body[name] = value


def _own_identity(case: Any, target: Target) -> None:
    """The token's own location, the app's own credentials: past the 401s to the handler."""
    app = target.sandbox.oauth_app
    own = {
        "locationId": target.location,
        "client_id": app.client_id,
        "client_secret": app.client_secret,
    }
    for part in (case.body, case.query):
        if isinstance(part, dict):
            part.update({k: v for k, v in own.items() if k in part})


async def _send(target: Target, case: Any) -> httpx.Response:
    kwargs = case.as_transport_kwargs(base_url="http://sandbox.test")
    body: dict[str, Any] = {}
    if "json" in kwargs:
        body["json"] = kwargs["json"]
    elif "data" in kwargs:
        data = kwargs["data"]
        if isinstance(data, dict):
            body["data"] = data  # a form (the token endpoint)
        else:
            body["content"] = data if isinstance(data, bytes) else str(data).encode()
    return await target.client.request(
        kwargs["method"],
        kwargs["url"],
        headers=kwargs["headers"],
        params=kwargs.get("params"),
        **body,
    )


async def fuzz_case(target: Target, label: str, mode: GenerationMode, data: st.DataObject) -> None:
    operation = operations()[label]
    case = data.draw(operation.as_strategy(generation_mode=mode, headers=target.headers))
    if "{" in operation.path and data.draw(st.booleans()):
        real = data.draw(_real_path(target, operation.path))
        case.path_parameters.update({k: v for k, v in real.items() if k in case.path_parameters})
    if data.draw(st.integers(0, 3)) > 0:
        _own_identity(case, target)
    if mode is GenerationMode.POSITIVE and data.draw(st.booleans()):
        _plausible(case)
    with target.conformance.any_requests():
        response = await _send(target, case)  # the gate raises NonConformance here
    exchange = target.conformance.exchanges[-1]
    tally = target.tally
    tally.cases += 1
    tally.statuses[response.status_code] = tally.statuses.get(response.status_code, 0) + 1
    if not exchange.request_valid and response.status_code < 300:
        tally.invalid_accepted.append(exchange.describe())
    checks: list[Any] = [not_a_server_error]
    if not exchange.deviations:
        checks += [status_code_conformance, response_schema_conformance]
    case.validate_response(response, checks=checks)


FUZZ = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)


@pytest.mark.parametrize("label", LABELS)
@FUZZ
@given(data=st.data())
async def test_positive_cases(target: Target, label: str, data: st.DataObject) -> None:
    await fuzz_case(target, label, GenerationMode.POSITIVE, data)


@pytest.mark.parametrize("label", NEGATABLE)
@FUZZ
@given(data=st.data())
async def test_negative_cases(target: Target, label: str, data: st.DataObject) -> None:
    await fuzz_case(target, label, GenerationMode.NEGATIVE, data)


# ----- search: the spec leaves its body untyped, so its cases come from HIGHLEVEL.md's rules ----
# A valid body (locationId, pageLimit 1..500, page, searchAfter, sort, filters, query), then at
# most one key replaced by junk: most cases reach the search, the rest probe one refusal each.
OWN = "<own location>"
_junk = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=12),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)
_dates = st.integers(0, 2**42).map(lambda ms: f"{ms}")
_filter_leaves = st.one_of(
    st.fixed_dictionaries(
        {
            "field": st.sampled_from(["email", "phone", "firstName", "tags", "city", "id"]),
            "operator": st.sampled_from(["eq", "not_eq", "contains", "not_contains"]),
            "value": st.one_of(st.text(max_size=12), st.lists(st.text(max_size=8), max_size=2)),
        }
    ),
    st.fixed_dictionaries(
        {
            "field": st.sampled_from(["email", "phone", "dnd", "businessId"]),
            "operator": st.sampled_from(["exists", "not_exists"]),
        }
    ),
    st.fixed_dictionaries(
        {
            "field": st.sampled_from(["dateAdded", "dateUpdated"]),
            "operator": st.just("range"),
            "value": st.dictionaries(
                st.sampled_from(["gt", "gte", "lt", "lte"]),
                st.sampled_from(["2026-01-05T09:00:00Z", "2020-01-01", "2030-12-31T23:59:59.999Z"]),
                min_size=1,
            ),
        }
    ),
)
_filters = st.recursive(
    _filter_leaves,
    lambda inner: st.fixed_dictionaries(
        {
            "group": st.sampled_from(["AND", "OR"]),
            "filters": st.lists(inner, min_size=1, max_size=3),
        }
    ),
    max_leaves=6,
)
_valid_search = st.fixed_dictionaries(
    {"locationId": st.just(OWN), "pageLimit": st.integers(1, 500)},
    optional={
        "page": st.integers(1, 30),
        "searchAfter": st.tuples(_dates, st.text(max_size=20)).map(list),
        "sort": st.lists(
            st.fixed_dictionaries(
                {
                    "field": st.sampled_from(["dateAdded", "dateUpdated"]),
                    "direction": st.sampled_from(["asc", "desc"]),
                }
            ),
            max_size=1,
        ),
        "filters": st.lists(_filters, max_size=3),
        "query": st.text(max_size=20),
    },
)
_SEARCH_KEYS = ["locationId", "pageLimit", "page", "searchAfter", "sort", "filters", "query"]
_one_junk_key = st.tuples(st.sampled_from([*_SEARCH_KEYS, "favouriteColour"]), _junk)
search_bodies = st.tuples(
    _valid_search,
    # One case in three carries junk.
    st.integers(0, 2).flatmap(lambda n: _one_junk_key if n == 0 else st.none()),
)


@FUZZ
@given(drawn=search_bodies)
async def test_search_bodies(
    target: Target, drawn: tuple[dict[str, Any], tuple[str, Any] | None]
) -> None:
    body, junk = drawn
    body = {**body, "locationId": target.location}
    if junk is not None:
        body[junk[0]] = junk[1]
    # Python's encoder writes NaN and Infinity, which JSON lacks: those bodies probe the
    # service's JSON parser (a 400), as a JavaScript client's could not.
    response = await target.client.post(
        "/contacts/search",
        content=json.dumps(body).encode(),
        headers={**target.headers, "Content-Type": "application/json"},
    )
    tally = target.tally
    tally.cases += 1
    tally.statuses[response.status_code] = tally.statuses.get(response.status_code, 0) + 1
    assert response.status_code < 500, response.text
