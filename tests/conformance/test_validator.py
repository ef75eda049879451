"""The gate itself: it must catch what it is there to catch, or the conformance suite proves
nothing. The answers here are hand-made off-spec answers (the sandbox, being conformant, cannot
give them), served by httpx.MockTransport; the requests are real ones."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.conformance import deviations as dev
from tests.conformance.conftest import auth
from tests.conformance.validator import RATE_LIMIT_HEADERS, Conformance, NonConformance

LIMITS = {name: "1" for name in RATE_LIMIT_HEADERS}
HEADERS = auth("pit-token")
CONTACT = {"id": "c1", "locationId": "l1", "tags": [], "dateAdded": "2026-01-05T09:00:00.000Z"}


def _answering(status: int, body: Any, headers: dict[str, str] | None = None) -> httpx.AsyncClient:
    def reply(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json=body, headers={**LIMITS, **(headers or {})})

    return httpx.AsyncClient(transport=httpx.MockTransport(reply), base_url="http://sandbox.test")


async def _through_gate(
    client: httpx.AsyncClient, conformance: Conformance, send: Callable[..., Any]
) -> httpx.Response:
    conformance.install(client)
    async with client:
        response: httpx.Response = await send(client)
        return response


async def test_a_conformant_answer_passes() -> None:
    gate = Conformance()
    r = await _through_gate(
        _answering(200, {"contact": CONTACT}),
        gate,
        lambda c: c.get("/contacts/c1", headers=HEADERS),
    )
    assert r.status_code == 200
    assert [e.operation for e in gate.exchanges] == ["get-contact"]


@pytest.mark.parametrize(
    ("status", "body", "caught"),
    [
        (200, {"contact": {**CONTACT, "tags": "vip"}}, "is not of type 'array'"),
        (200, {"contact": {**CONTACT, "favouriteColour": "red"}}, "favouriteColour"),
        (418, {"statusCode": 418, "message": "teapot"}, "status"),
        (500, {"statusCode": 500, "message": "boom"}, "status"),
        (400, {"statusCode": 401, "message": "wrong code"}, "statusCode 401"),
        (400, {"statusCode": 400}, "says nothing"),
        (422, {"statusCode": 422, "message": "not a list"}, "is not of type 'array'"),
    ],
)
async def test_off_spec_answers_are_caught(status: int, body: Any, caught: str) -> None:
    with pytest.raises(NonConformance, match=caught):
        await _through_gate(
            _answering(status, body),
            Conformance(),
            lambda c: c.get("/contacts/c1", headers=HEADERS),
        )


async def test_rate_limit_headers_are_required() -> None:
    def reply(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"contact": CONTACT})

    client = httpx.AsyncClient(transport=httpx.MockTransport(reply), base_url="http://x")
    with pytest.raises(NonConformance, match="X-RateLimit-Max missing"):
        await _through_gate(client, Conformance(), lambda c: c.get("/contacts/c1", headers=HEADERS))


async def test_deviations_are_narrow() -> None:
    # search-422 covers search only: the same 422 on get-all-notes is still caught.
    unprocessable = {"statusCode": 422, "message": ["x"], "error": "Unprocessable Entity"}
    with pytest.raises(NonConformance, match="status"):
        await _through_gate(
            _answering(422, unprocessable),
            Conformance(),
            lambda c: c.get("/contacts/c1/notes", headers=HEADERS),
        )
    # list-items-whole-contact admits GetContectByIdSchema's keys, typed by it, nothing else.
    item = {**CONTACT, "firstName": 7}
    with pytest.raises(NonConformance, match="is not of type 'string'"):
        await _through_gate(
            _answering(200, {"contacts": [item], "count": 1}),
            Conformance(),
            lambda c: c.get("/contacts/", params={"locationId": "l1"}, headers=HEADERS),
        )
    # The search answer is held to the 2025-09-08 schema.
    with pytest.raises(NonConformance, match="'total' is a required property"):
        await _through_gate(
            _answering(200, {"contacts": []}),
            Conformance(),
            lambda c: c.post(
                "/contacts/search", json={"locationId": "l1", "pageLimit": 1}, headers=HEADERS
            ),
        )


async def test_injected_5xx_needs_the_opt_in() -> None:
    gate = Conformance()
    body = {"statusCode": 503, "message": "Service Unavailable", "error": "Service Unavailable"}
    with gate.allow("injected-5xx"):
        r = await _through_gate(
            _answering(503, body), gate, lambda c: c.get("/contacts/c1", headers=HEADERS)
        )
    assert r.status_code == 503
    assert gate.deviations_used() == {"injected-5xx"}


async def test_requests_are_judged_before_they_leave() -> None:
    sent: list[httpx.Request] = []

    def reply(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(422, json={"statusCode": 422, "message": ["x"]}, headers=LIMITS)

    gate = Conformance()
    client = httpx.AsyncClient(transport=httpx.MockTransport(reply), base_url="http://x")
    gate.install(client)
    async with client:
        # A test's own mistake (a body the spec refuses) fails before anything is sent.
        with pytest.raises(NonConformance, match="the test sent a request"):
            await client.post("/contacts/", json={"firstName": 5}, headers=HEADERS)
        assert sent == []
        # A negative test whose request is in fact valid tests nothing: refused too.
        with gate.invalid_requests(), pytest.raises(NonConformance, match="tests nothing"):
            await client.post("/contacts/", json={"locationId": "l1"}, headers=HEADERS)
        assert sent == []
        # A request that breaks the spec must be refused with a 4xx.
        with gate.invalid_requests():
            r = await client.post("/contacts/", json={"firstName": 5}, headers=HEADERS)
        assert r.status_code == 422


async def test_an_invalid_request_must_be_refused() -> None:
    gate = Conformance()
    created = {"contact": {**CONTACT, "deleted": False}}
    with pytest.raises(NonConformance, match="was not refused"):
        await _through_gate(
            _answering(201, created),
            gate,
            lambda c: _invalid_create(gate, c),
        )


async def _invalid_create(gate: Conformance, client: httpx.AsyncClient) -> httpx.Response:
    with gate.invalid_requests():
        return await client.post("/contacts/", json={"firstName": 5}, headers=HEADERS)


def test_every_deviation_says_why_and_on_what_evidence() -> None:
    keys = [d.key for d in dev.ALL]
    assert len(keys) == len(set(keys))
    for deviation in dev.ALL:
        assert len(deviation.reason) > 40, deviation.key
        assert len(deviation.evidence) > 20, deviation.key
    assert set(dev.OPT_IN) <= set(keys)
