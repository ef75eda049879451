"""Mutations: resolve, bulk resolve, overrides, exclusion, pair policy; userErrors for every
kind of bad input, and an audit event for every change."""

from __future__ import annotations

from typing import Any

from reconciler.service.events import ConflictResolved, EventBus
from reconciler.store import repo_audit, repo_conflicts, repo_links
from reconciler.store.db import Store
from tests.api.conftest import Gql, gid
from tests.api.seed import Seed

RESOLVE = """
mutation($input: ConflictResolveInput!) { conflictResolve(input: $input) {
  conflict { id status resolution { choice value } resolvedBy }
  run { id }
  userErrors { field code message }
} }
"""


async def _audit_kinds(store: Store) -> list[str]:
    async with store.session() as s:
        return [e.kind for e in await repo_audit.list_events(s, limit=100)]


async def test_resolve_records_choice_audits_and_publishes(
    gql: Gql, seed: Seed, store: Store, bus: EventBus
) -> None:
    async with bus.subscribe() as events:
        data = await gql.data(
            RESOLVE,
            {"input": {"id": gid("Conflict", seed.email_conflict), "choice": "B"}},
            role="operator",
        )
        event = await events.get()
    payload = data["conflictResolve"]
    assert payload["userErrors"] == []
    assert payload["run"] is None
    assert payload["conflict"]["status"] == "RESOLVED"
    assert payload["conflict"]["resolution"] == {"choice": "B", "value": None}
    assert payload["conflict"]["resolvedBy"].startswith("api_key:")
    assert isinstance(event, ConflictResolved)
    assert event.conflict_id == seed.email_conflict
    async with store.session() as s:
        row = await repo_conflicts.get_conflict(s, seed.email_conflict)
        (audit,) = await repo_audit.list_events(s, kind="conflict.resolved")
    assert row is not None
    assert row.status == "resolved"
    assert audit.subject == seed.email_conflict
    assert audit.detail["resolution"] == {"choice": "B"}


async def test_resolve_custom_values_by_kind(gql: Gql, seed: Seed) -> None:
    ok = await gql.data(
        RESOLVE,
        {
            "input": {
                "id": gid("Conflict", seed.tags_conflict),
                "choice": "CUSTOM",
                "value": ["Lead", "Gold"],
            }
        },
    )
    assert ok["conflictResolve"]["conflict"]["resolution"] == {
        "choice": "CUSTOM",
        "value": ["Lead", "Gold"],
    }
    note = await gql.data(
        RESOLVE,
        {
            "input": {
                "id": gid("Conflict", seed.note_conflict),
                "choice": "CUSTOM",
                "value": "Both.",
            }
        },
    )
    assert note["conflictResolve"]["userErrors"] == []


async def _errors(gql: Gql, variables: dict[str, Any]) -> list[dict[str, Any]]:
    data = await gql.data(RESOLVE, {"input": variables})
    payload = data["conflictResolve"]
    assert payload["conflict"] is None
    errors: list[dict[str, Any]] = payload["userErrors"]
    return errors


async def test_resolve_malformed_input_gives_user_errors(
    gql: Gql, seed: Seed, store: Store
) -> None:
    email = gid("Conflict", seed.email_conflict)
    cases = [
        ({"id": "garbage", "choice": "A"}, "NOT_FOUND", ["input", "id"]),
        ({"id": gid("Pair", seed.pair_id), "choice": "A"}, "NOT_FOUND", ["input", "id"]),
        ({"id": gid("Conflict", "nope"), "choice": "A"}, "NOT_FOUND", ["input", "id"]),
        ({"id": email, "choice": "CUSTOM", "value": {"x": 1}}, "INVALID", ["input", "value"]),
        ({"id": email, "choice": "CUSTOM", "value": 42}, "INVALID", ["input", "value"]),
        ({"id": email, "choice": "A", "value": "x"}, "INVALID", ["input", "value"]),
        (
            {"id": gid("Conflict", seed.tags_conflict), "choice": "CUSTOM", "value": "Lead"},
            "INVALID",
            ["input", "value"],
        ),
    ]
    for variables, code, field in cases:
        (error,) = await _errors(gql, variables)
        assert (error["code"], error["field"]) == (code, field), variables
        assert error["message"]
    # Nothing changed, nothing audited.
    assert "conflict.resolved" not in await _audit_kinds(store)


async def test_resolving_twice_is_refused(gql: Gql, seed: Seed) -> None:
    variables = {"id": gid("Conflict", seed.email_conflict), "choice": "A"}
    await gql.data(RESOLVE, {"input": variables})
    (error,) = await _errors(gql, variables)
    assert error["code"] == "CONFLICT"
    assert "resolved" in error["message"]


async def test_apply_now_without_sides_keeps_the_resolution_and_says_why(
    gql: Gql, seed: Seed
) -> None:
    data = await gql.data(
        RESOLVE,
        {"input": {"id": gid("Conflict", seed.email_conflict), "choice": "A", "applyNow": True}},
    )
    payload = data["conflictResolve"]
    assert payload["conflict"]["status"] == "RESOLVED"
    assert payload["run"] is None
    assert payload["userErrors"] == [
        {
            "field": ["input", "applyNow"],
            "code": "UNAVAILABLE",
            "message": "this server was started without access to the sides",
        }
    ]


BULK = """
mutation($input: ConflictsResolveInput!) { conflictsResolve(input: $input) {
  conflicts { id status } userErrors { field code message }
} }
"""


async def test_bulk_resolve_resolves_what_it_can_and_reports_the_rest(
    gql: Gql, seed: Seed, store: Store
) -> None:
    await gql.data(RESOLVE, {"input": {"id": gid("Conflict", seed.email_conflict), "choice": "A"}})
    ids = [
        gid("Conflict", seed.field_conflict_1),
        gid("Conflict", seed.email_conflict),  # already resolved
        gid("Conflict", seed.conflict2),
        gid("Conflict", "missing"),
    ]
    data = await gql.data(BULK, {"input": {"ids": ids, "choice": "A"}}, role="operator")
    payload = data["conflictsResolve"]
    assert sorted(c["id"] for c in payload["conflicts"]) == sorted([ids[0], ids[2]])
    assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [
        (["input", "ids", "1"], "CONFLICT"),
        (["input", "ids", "3"], "NOT_FOUND"),
    ]
    assert (await _audit_kinds(store)).count("conflict.resolved") == 3


async def test_bulk_resolve_refuses_bad_ids_and_too_many(gql: Gql, seed: Seed) -> None:
    data = await gql.data(
        BULK, {"input": {"ids": ["x", gid("Conflict", seed.conflict2)], "choice": "A"}}
    )
    assert data["conflictsResolve"]["userErrors"][0]["field"] == ["input", "ids", "0"]
    assert data["conflictsResolve"]["conflicts"] == []
    many = [gid("Conflict", f"c{i}") for i in range(101)]
    data = await gql.data(BULK, {"input": {"ids": many, "choice": "A"}})
    assert data["conflictsResolve"]["userErrors"][0]["code"] == "INVALID"
    data = await gql.data(BULK, {"input": {"ids": [], "choice": "A"}})
    assert data["conflictsResolve"]["userErrors"][0]["code"] == "INVALID"


CREATE = """
mutation($input: OverrideCreateInput!) { overrideCreate(input: $input) {
  override { id scope pin exclude tagKey fieldName expiresAt active createdBy
             link { aContactId } pair { name } }
  userErrors { field code message }
} }
"""
DELETE = """
mutation($input: OverrideDeleteInput!) { overrideDelete(input: $input) {
  deletedOverrideId override { active deletedAt } userErrors { field code message }
} }
"""
LIST = """
query($pair: ID, $all: Boolean!) { overrides(pairId: $pair, includeDeleted: $all) {
  totalCount nodes { id scope } } }
"""


async def test_override_create_list_delete(gql: Gql, seed: Seed, store: Store) -> None:
    pair = gid("Pair", seed.pair_id)
    made = await gql.data(
        CREATE,
        {
            "input": {
                "pairId": pair,
                "scope": "FIELD",
                "pin": "A",
                "contactId": gid("ContactLink", seed.links[0].id),
                "fieldName": "email",
                "expiresAt": "2030-01-01T00:00:00+00:00",
            }
        },
        role="operator",
    )
    override = made["overrideCreate"]["override"]
    assert made["overrideCreate"]["userErrors"] == []
    assert override["pin"] == "A"
    assert override["active"] is True
    assert override["link"] == {"aContactId": "a1"}
    tag = await gql.data(
        CREATE, {"input": {"pairId": pair, "scope": "TAG", "pin": "B", "tagName": " VIP "}}
    )
    assert tag["overrideCreate"]["override"]["tagKey"] == "vip"
    note = await gql.data(
        CREATE,
        {"input": {"pairId": pair, "scope": "NOTE", "pin": "B", "noteLinkId": seed.note_link_id}},
    )
    assert note["overrideCreate"]["userErrors"] == []
    listed = await gql.data(LIST, {"pair": pair, "all": False})
    assert listed["overrides"]["totalCount"] == 3
    deleted = await gql.data(DELETE, {"input": {"id": override["id"]}}, role="operator")
    assert deleted["overrideDelete"]["deletedOverrideId"] == override["id"]
    assert deleted["overrideDelete"]["override"]["active"] is False
    again = await gql.data(DELETE, {"input": {"id": override["id"]}})
    assert again["overrideDelete"]["userErrors"][0]["code"] == "NOT_FOUND"
    assert (await gql.data(LIST, {"pair": pair, "all": False}))["overrides"]["totalCount"] == 2
    assert (await gql.data(LIST, {"pair": pair, "all": True}))["overrides"]["totalCount"] == 3
    kinds = await _audit_kinds(store)
    assert kinds.count("override.created") == 3
    assert kinds.count("override.deleted") == 1


async def test_override_create_malformed_input(gql: Gql, seed: Seed) -> None:
    pair = gid("Pair", seed.pair_id)
    link = gid("ContactLink", seed.links[0].id)
    cases = [
        ({"pairId": "zz", "scope": "PAIR", "pin": "A"}, ["input", "pairId"]),
        ({"pairId": pair, "scope": "PAIR"}, ["input", "scope"]),  # neither pin nor exclude
        ({"pairId": pair, "scope": "PAIR", "pin": "A", "exclude": True}, ["input", "scope"]),
        ({"pairId": pair, "scope": "CONTACT", "pin": "A"}, ["input", "scope"]),  # no contact
        (
            {"pairId": pair, "scope": "FIELD", "pin": "A", "contactId": link, "fieldName": "age"},
            ["input", "fieldName"],
        ),
        ({"pairId": pair, "scope": "TAG", "pin": "A", "tagName": "  "}, ["input", "tagName"]),
        (
            {"pairId": pair, "scope": "PAIR", "pin": "A", "expiresAt": "2020-01-01T00:00:00+00:00"},
            ["input", "expiresAt"],
        ),
        (
            {"pairId": pair, "scope": "PAIR", "pin": "A", "expiresAt": "2030-01-01T00:00:00"},
            ["input", "expiresAt"],
        ),
        (
            {
                "pairId": gid("Pair", seed.pair2_id),
                "scope": "CONTACT",
                "pin": "A",
                "contactId": link,
            },
            ["input", "linkId"],
        ),
    ]
    for variables, field in cases:
        data = await gql.data(CREATE, {"input": variables})
        payload = data["overrideCreate"]
        assert payload["override"] is None, variables
        assert payload["userErrors"][0]["field"] in (field, ["input", "contactId"]), variables


EXCLUDE = """
mutation($id: ID!) { contactExclude(input: {id: $id}) {
  contactLink { id excluded } userErrors { code field } } }
"""
INCLUDE = """
mutation($id: ID!) { contactInclude(input: {id: $id}) {
  contactLink { id excluded overrides { id } } userErrors { code field } } }
"""


async def test_exclude_and_include_a_contact(gql: Gql, seed: Seed, store: Store) -> None:
    link = gid("ContactLink", seed.links[1].id)
    data = await gql.data(EXCLUDE, {"id": link}, role="operator")
    assert data["contactExclude"]["contactLink"] == {"id": link, "excluded": True}
    # An exclusion override on the same link also ends when the contact is included again.
    await gql.data(
        CREATE,
        {
            "input": {
                "pairId": gid("Pair", seed.pair_id),
                "scope": "CONTACT",
                "exclude": True,
                "contactId": link,
            }
        },
    )
    data = await gql.data(INCLUDE, {"id": link}, role="operator")
    assert data["contactInclude"]["contactLink"]["excluded"] is False
    assert data["contactInclude"]["contactLink"]["overrides"] == []
    async with store.session() as s:
        row = await repo_links.get_link(s, seed.links[1].id)
    assert row is not None
    assert row.excluded is False
    kinds = await _audit_kinds(store)
    assert "contact.excluded" in kinds
    assert "contact.included" in kinds
    bad = await gql.data(EXCLUDE, {"id": gid("Conflict", seed.email_conflict)})
    assert bad["contactExclude"]["userErrors"] == [{"code": "NOT_FOUND", "field": ["input", "id"]}]


POLICY = """
mutation($input: PairPolicyUpdateInput!) { pairPolicyUpdate(input: $input) {
  pair { enabled scheduleIntervalSeconds policy { noteConflict tagsInitial deleteGuardShare } }
  userErrors { field code message } } }
"""


async def test_pair_policy_update_patches_and_audits(gql: Gql, seed: Seed, store: Store) -> None:
    pair = gid("Pair", seed.pair_id)
    data = await gql.data(
        POLICY,
        {
            "input": {
                "pairId": pair,
                "policy": {"noteConflict": "MERGE", "deleteGuardShare": 0.2},
                "enabled": False,
                "scheduleIntervalSeconds": 600,
            }
        },
    )
    payload = data["pairPolicyUpdate"]
    assert payload["userErrors"] == []
    assert payload["pair"] == {
        "enabled": False,
        "scheduleIntervalSeconds": 600,
        "policy": {"noteConflict": "MERGE", "tagsInitial": "UNION", "deleteGuardShare": 0.2},
    }
    async with store.session() as s:
        (event,) = await repo_audit.list_events(s, kind="pair.updated")
    assert event.detail["policy"]["note_conflict"] == {"from": "manual", "to": "merge"}
    for bad in (
        {"pairId": pair, "policy": {"deleteGuardShare": 1.5}},
        {"pairId": pair, "policy": {"deleteGuardMin": -1}},
        {"pairId": pair, "scheduleIntervalSeconds": 1},
        {"pairId": "nope", "enabled": True},
    ):
        result = await gql.data(POLICY, {"input": bad})
        assert result["pairPolicyUpdate"]["pair"] is None
        assert result["pairPolicyUpdate"]["userErrors"], bad


async def test_audit_events_query_pages_newest_first(gql: Gql, seed: Seed) -> None:
    for conflict in (seed.email_conflict, seed.note_conflict):
        await gql.data(RESOLVE, {"input": {"id": gid("Conflict", conflict), "choice": "A"}})
    data = await gql.data(
        """query($pair: ID) { auditEvents(pairId: $pair, kind: "conflict.resolved", first: 1) {
            totalCount pageInfo { hasNextPage endCursor }
            nodes { id kind subject actor detail } } }""",
        {"pair": gid("Pair", seed.pair_id)},
        role="viewer",
    )
    events = data["auditEvents"]
    assert events["totalCount"] == 2
    assert events["nodes"][0]["subject"] == seed.note_conflict
    more = await gql.data(
        """query($after: String) { auditEvents(kind: "conflict.resolved", after: $after) {
            nodes { subject } } }""",
        {"after": events["pageInfo"]["endCursor"]},
    )
    assert [n["subject"] for n in more["auditEvents"]["nodes"]] == [seed.email_conflict]
    node = await gql.data(
        "query($id: ID!) { node(id: $id) { ... on AuditEvent { kind } } }",
        {"id": events["nodes"][0]["id"]},
    )
    assert node["node"] == {"kind": "conflict.resolved"}
