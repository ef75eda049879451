"""Who may do what: the full role matrix (anonymous, viewer, operator, admin x every
mutation), unauthenticated and forbidden calls as GraphQL errors with ``extensions.code``,
revoked and malformed keys, and the keys CLI."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from typer.testing import CliRunner

from reconciler.cli import app as cli_app
from reconciler.service import keys
from reconciler.store.db import Store
from reconciler.store.schema import ApiKeyRole
from tests.api.conftest import Gql, gid
from tests.api.seed import Seed

MISSING = {
    "conflict": gid("Conflict", "missing"),
    "pair": gid("Pair", "missing"),
    "override": gid("Override", "missing"),
    "link": gid("ContactLink", "missing"),
    "plan": gid("Plan", "missing"),
}

# mutation name -> (operation, the least role allowed)
MUTATIONS: dict[str, tuple[str, ApiKeyRole]] = {
    "conflictResolve": (
        f'mutation {{ conflictResolve(input: {{id: "{MISSING["conflict"]}", choice: A}}) '
        "{ userErrors { code } } }",
        ApiKeyRole.OPERATOR,
    ),
    "conflictsResolve": (
        f'mutation {{ conflictsResolve(input: {{ids: ["{MISSING["conflict"]}"], choice: B}}) '
        "{ userErrors { code } } }",
        ApiKeyRole.OPERATOR,
    ),
    "overrideCreate": (
        f'mutation {{ overrideCreate(input: {{pairId: "{MISSING["pair"]}", scope: PAIR, pin: A}}) '
        "{ userErrors { code } } }",
        ApiKeyRole.OPERATOR,
    ),
    "overrideDelete": (
        f'mutation {{ overrideDelete(input: {{id: "{MISSING["override"]}"}}) '
        "{ userErrors { code } } }",
        ApiKeyRole.OPERATOR,
    ),
    "contactExclude": (
        f'mutation {{ contactExclude(input: {{id: "{MISSING["link"]}"}}) '
        "{ userErrors { code } } }",
        ApiKeyRole.OPERATOR,
    ),
    "contactInclude": (
        f'mutation {{ contactInclude(input: {{id: "{MISSING["link"]}"}}) '
        "{ userErrors { code } } }",
        ApiKeyRole.OPERATOR,
    ),
    "syncRunStart": (
        f'mutation {{ syncRunStart(input: {{pairId: "{MISSING["pair"]}"}}) '
        "{ userErrors { code } } }",
        ApiKeyRole.OPERATOR,
    ),
    "planApply": (
        f'mutation {{ planApply(input: {{planId: "{MISSING["plan"]}"}}) '
        "{ userErrors { code } } }",
        ApiKeyRole.OPERATOR,
    ),
    "pairPolicyUpdate": (
        f'mutation {{ pairPolicyUpdate(input: {{pairId: "{MISSING["pair"]}", enabled: false}}) '
        "{ userErrors { code } } }",
        ApiKeyRole.ADMIN,
    ),
}
RANK = {None: 0, "viewer": 1, "operator": 2, "admin": 3}
QUERIES = [
    "{ viewer { name } }",
    "{ pairs { totalCount } }",
    '{ pair(id: "x") { id } }',
    '{ node(id: "x") { id } }',
    '{ nodes(ids: ["x"]) { id } }',
    "{ contactLinks { totalCount } }",
    "{ conflicts { totalCount } }",
    '{ conflict(id: "x") { id } }',
    "{ runs { totalCount } }",
    '{ plan(id: "x") { id } }',
    "{ overrides { totalCount } }",
    "{ auditEvents { totalCount } }",
]


@pytest.mark.parametrize("role", [None, "viewer", "operator", "admin"])
async def test_mutation_role_matrix(gql: Gql, seed: Seed, role: str | None) -> None:
    for name, (operation, least) in MUTATIONS.items():
        body = await gql(operation, role=role)
        allowed = RANK[role] >= RANK[least.value]
        if allowed:
            assert "errors" not in body, (name, role, body)
            assert body["data"][name]["userErrors"], (name, role)  # reached the service
        else:
            (error,) = body["errors"]
            expected = "UNAUTHENTICATED" if role is None else "FORBIDDEN"
            assert error["extensions"]["code"] == expected, (name, role)
            assert error["path"] == [name]
            assert body["data"] is None


@pytest.mark.parametrize("role", [None, "viewer"])
async def test_every_query_needs_a_key(gql: Gql, seed: Seed, role: str | None) -> None:
    for query in QUERIES:
        body = await gql(query, role=role)
        if role is None:
            assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED", query
            assert "Bearer" in body["errors"][0]["message"]
        else:
            assert "errors" not in body, (query, body)


async def test_unknown_malformed_and_revoked_keys_are_unauthenticated(
    gql: Gql, seed: Seed, store: Store
) -> None:
    query = {"query": "{ viewer { name } }"}
    for header in (
        "Bearer rk_nope_nope",
        "Bearer " + "x" * 5000,
        "Basic dXNlcjpwYXNz",
        "Bearer",
        gql.keys.admin,  # no scheme
    ):
        response = await gql.client.post("/graphql", json=query, headers={"Authorization": header})
        assert response.status_code == 200
        assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED", header
    row, plain = await keys.create_key(store, name="temp", role=ApiKeyRole.ADMIN)
    ok = await gql.client.post("/graphql", json=query, headers={"Authorization": f"Bearer {plain}"})
    assert ok.json()["data"]["viewer"]["name"] == "temp"
    assert await keys.revoke_key(store, row.id)
    gone = await gql.client.post(
        "/graphql", json=query, headers={"Authorization": f"Bearer {plain}"}
    )
    assert gone.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


def test_keys_cli_creates_a_working_key_stored_hashed(
    store_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    # Settings come from the environment, as in production (no code is patched).
    monkeypatch.setenv("RECONCILER_DATABASE_URL", store_url)
    monkeypatch.setenv("RECONCILER_DATA_DIR", str(tmp_path))
    runner = CliRunner()
    result = runner.invoke(cli_app, ["keys", "create", "--role", "operator", "--name", "console"])
    assert result.exit_code == 0, result.output
    plain = result.output.strip().splitlines()[-1]
    assert plain.startswith("rk_")
    bad = runner.invoke(cli_app, ["keys", "create", "--role", "root"])
    assert bad.exit_code == 2
    assert "viewer, operator, admin" in bad.output
    listed = runner.invoke(cli_app, ["keys", "list"])
    assert "console" in listed.output
    assert plain not in listed.output

    async def check() -> None:
        store = Store(store_url)
        try:
            principal = await keys.authenticate(store, plain)
            assert principal is not None
            assert principal.role is ApiKeyRole.OPERATOR
            rows = await keys.list_keys(store)
            assert all(plain not in (r.key_hash, r.prefix) for r in rows)
        finally:
            await store.dispose()

    asyncio.run(check())
