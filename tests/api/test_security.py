"""What no caller can do: exhaust the server (depth, cost, page size), read credentials, or
see internals in an error. Includes fuzzing the endpoint with generated operations."""

from __future__ import annotations

import re
from typing import Any

import hypothesis.strategies as st
import pytest
from graphql import GraphQLObjectType
from hypothesis import HealthCheck, given, settings
from hypothesis_graphql import mutations, nodes, queries
from sqlalchemy import update

from reconciler.api.limits import MAX_COST
from reconciler.api.schema import MAX_DEPTH, schema, schema_sdl
from reconciler.store.db import Store
from reconciler.store.schema import table_of
from reconciler.store.tables import ConflictRow
from tests.api.conftest import Gql, gid
from tests.api.seed import SECRET_TOKEN, Seed

LEAKS = re.compile(
    r"Traceback|File \"|\b[A-Z][A-Za-z]*(Error|Exception)\b|sqlalchemy|sqlite3|psycopg|"
    r"\bSELECT\b|\bINSERT\b|\bUPDATE conflict|\bFROM conflict|reconciler/|\.py\b"
)


def assert_no_leak(text: str, gql: Gql) -> None:
    match = LEAKS.search(text)
    assert match is None, f"leaked {match.group(0)!r}: {text[:500]}"
    for secret in (SECRET_TOKEN, gql.keys.viewer, gql.keys.operator, gql.keys.admin):
        assert secret not in text


async def test_depth_limit(gql: Gql, seed: Seed) -> None:
    deep = "pair { name }"
    for _ in range(MAX_DEPTH):
        deep = f"pair {{ lastRun {{ {deep} }} }}"
    deep = f"{{ runs {{ nodes {{ {deep} }} }} }}"
    body = await gql(deep)
    assert "exceeds maximum operation depth" in body["errors"][0]["message"]
    assert body.get("data") is None


async def test_cost_limit_refuses_nested_pages_before_running(gql: Gql, seed: Seed) -> None:
    costly = """{ conflicts(first: 100) { nodes { link { openConflicts { link { openConflicts {
        id } } } } } } }"""
    body = await gql(costly)
    error = body["errors"][0]
    assert error["extensions"]["code"] == "COST_LIMIT"
    assert str(MAX_COST) in error["message"]
    # A variable page size counts as the maximum.
    body = await gql(
        """query($n: Int) { runs(first: $n) { nodes { plan { actions(first: $n) { nodes {
            link { openConflicts { id } } } } } } } }""",
        {"n": 1},
    )
    assert body["errors"][0]["extensions"]["code"] == "COST_LIMIT"
    fine = await gql.data("{ conflicts(first: 50) { nodes { id link { a { notes { id } } } } } }")
    assert len(fine["conflicts"]["nodes"]) == 5


async def test_unexpected_errors_are_masked(gql: Gql, seed: Seed, store: Store) -> None:
    # A row this version cannot read (a kind it does not know) must fail as "Unexpected error."
    # without saying why; the rest of the response still answers.
    async with store.transaction() as s:
        table = table_of(ConflictRow)
        await s.execute(
            update(table).where(table.c.id == seed.email_conflict).values(kind="not-a-kind")
        )
    response = await gql.raw(
        "query($id: ID!) { conflict(id: $id) { id kind } pairs { totalCount } }",
        {"id": gid("Conflict", seed.email_conflict)},
    )
    assert response.status_code == 200
    body = response.json()
    (error,) = body["errors"]
    assert error["message"] == "Unexpected error."
    assert error["extensions"] == {"code": "INTERNAL"}
    assert body["data"]["pairs"] == {"totalCount": 2}
    assert_no_leak(response.text, gql)


def _object_fields() -> list[tuple[str, str]]:
    out = []
    for type_ in schema._schema.type_map.values():
        if isinstance(type_, GraphQLObjectType) and not type_.name.startswith("__"):
            out += [(type_.name, name) for name in type_.fields]
    return out


def test_no_field_can_return_credentials() -> None:
    words = ("credential", "token", "secret", "password", "hash")
    exposed = [
        (type_name, field)
        for type_name, field in _object_fields()
        if any(word in field.lower() for word in words)
    ]
    # Content hashes of notes are not secrets; nothing else may match.
    assert all(
        field == "hash" and type_name in ("SideNote", "NoteLinkBase")
        for type_name, field in exposed
    ), exposed


async def test_credentials_never_appear_in_any_pair_or_node_response(gql: Gql, seed: Seed) -> None:
    query = "{ pairs { nodes { sideA { id label kind locationId authKind connected } } } }"
    response = await gql.raw(query)
    assert_no_leak(response.text, gql)
    account = await gql.raw(
        "query($id: ID!) { node(id: $id) { ... on SideAccount { label connected } } }",
        {"id": gid("SideAccount", seed.account_a_id)},
    )
    assert account.json()["data"]["node"] == {"label": "Acme (A)", "connected": True}
    assert_no_leak(account.text, gql)


async def test_malformed_requests_are_4xx_or_graphql_errors(gql: Gql, seed: Seed) -> None:
    client = gql.client
    auth = {"Authorization": f"Bearer {gql.keys.admin}"}
    for body in (b"{", b"[]", b'{"query": 5}', b'{"query": "{"}', b'{"variables": {}}'):
        response = await client.post(
            "/graphql", content=body, headers={**auth, "content-type": "application/json"}
        )
        assert response.status_code in (200, 400), body
        assert_no_leak(response.text, gql)
    get = await client.get("/graphql", params={"query": "{ viewer { name } }"}, headers=auth)
    assert get.status_code in (400, 405)
    huge = await client.post(
        "/graphql",
        json={"query": "{ viewer { name } }", "variables": {"x": "y" * (2 << 20)}},
        headers=auth,
    )
    assert huge.status_code == 413


# ----------------------------------------------------------------------------------- fuzzing

JSON_VALUES = st.one_of(
    st.builds(nodes.String, st.text(max_size=20)),
    st.builds(nodes.Int, st.integers(-(2**31), 2**31 - 1)),
    st.builds(nodes.Boolean, st.booleans()),
    st.just(nodes.Null),
)
SCALARS: dict[str, Any] = {
    "JSON": JSON_VALUES,
    "DateTime": st.builds(
        nodes.String,
        st.sampled_from(
            ["2030-01-01T00:00:00+00:00", "2020-01-01T00:00:00Z", "2030-01-01T00:00:00", "nope"]
        ),
    ),
}
FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=True,
)


async def _send(gql: Gql, operation: str, role: str | None) -> bool:
    """Post one operation; True if it ran without any error."""
    response = await gql.raw(operation, role=role)
    assert response.status_code != 500, (operation, response.text)
    assert response.status_code in (200, 400), (operation, response.status_code)
    assert_no_leak(response.text, gql)
    body = response.json()
    if role is None and body.get("data") is not None:
        # Anonymous callers only ever get UNAUTHENTICATED, whatever they send.
        assert {e["extensions"]["code"] for e in body["errors"]} == {"UNAUTHENTICATED"}
    return "errors" not in body


@pytest.mark.parametrize("kind", ["query", "mutation"])
async def test_fuzzed_operations_never_500_or_leak(gql: Gql, seed: Seed, kind: str) -> None:
    sdl = schema_sdl()
    make = queries if kind == "query" else mutations
    strategy = make(sdl, custom_scalars=SCALARS)
    operations: list[str] = []

    # Hypothesis draws the operations (synchronously); the loop below sends them.
    @FUZZ
    @given(strategy)
    def collect(operation: str) -> None:
        operations.append(operation)

    collect()
    assert len(operations) >= 30
    clean = 0
    for operation in operations:
        clean += await _send(gql, operation, role="admin")
    # The fuzzing reached the resolvers: many operations ran with no error at all.
    assert clean >= len(operations) // 4, clean
    for operation in operations[:20]:
        await _send(gql, operation, role=None)
