"""429s and injected 5xx: undocumented by the spec, so each is held to its documented deviation
(``rate-limit-429``, ``injected-5xx``) and to the common error shape; 5xx only where a test asked
for faults."""

from __future__ import annotations

import pytest

from tests.conformance.conftest import Api
from tests.conformance.validator import Conformance, NonConformance


async def test_over_the_limit_is_a_429_in_the_error_shape(
    api: Api, conformance: Conformance
) -> None:
    api.sandbox.update_settings(api.location, rate_limit_max=3)
    statuses = [(await api.search(pageLimit=1)).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    r = await api.call("GET", f"/contacts/{'x' * 20}")
    assert r.status_code == 429
    assert r.json() == {"statusCode": 429, "message": "Too Many Requests"}
    assert "rate-limit-429" in conformance.deviations_used()


async def test_injected_server_errors_pass_only_when_allowed(
    api: Api, conformance: Conformance
) -> None:
    api.sandbox.set_faults(api.location, server_error=1.0, seed=11)
    with pytest.raises(NonConformance, match="-> 50"):
        await api.search(pageLimit=1)
    statuses = set()
    with conformance.allow("injected-5xx"):
        for i in range(12):
            r = await api.call(
                "POST", "/contacts/", json={"locationId": api.location, "email": f"e{i}@x.com"}
            )
            statuses.add(r.status_code)
    assert statuses == {500, 502, 503}
    assert api.sandbox.contacts(api.location) == []


async def test_timeouts_and_errors_after_writes(api: Api, conformance: Conformance) -> None:
    api.sandbox.set_faults(api.location, timeout=1.0, timeout_seconds=0)
    with conformance.allow("injected-5xx"):
        r = await api.call("GET", f"/contacts/{'x' * 20}")
        assert r.status_code == 504
        api.sandbox.set_faults(api.location, timeout=0.0, error_after_write=1.0)
        r = await api.call(
            "POST", "/contacts/", json={"locationId": api.location, "email": "w@x.com"}
        )
        assert r.status_code == 502
    assert [c["email"] for c in api.sandbox.contacts(api.location)] == ["w@x.com"]


async def test_truncated_and_slow_pages_stay_in_shape(api: Api) -> None:
    for i in range(6):
        await api.create(email=f"t{i}@example.com")
    api.sandbox.set_faults(api.location, truncated_page=1.0, latency=1.0, latency_ms=0)
    r = await api.search(pageLimit=4)
    assert len(r.json()["contacts"]) == 2
    assert r.json()["total"] == 6
