"""Every query of the API against seeded data (SQLite and PostgreSQL)."""

from __future__ import annotations

from tests.api.conftest import Gql, gid
from tests.api.seed import SECRET_TOKEN, Seed

PAIRS = """
query { pairs(first: 10) { totalCount edges { cursor node {
  id name enabled scheduleIntervalSeconds openConflictCount
  sideA { id label kind locationId authKind connected }
  sideB { label kind connected }
  policy { tagsInitial noteConflict fieldConflict delete create deleteGuardShare }
  lastRun { id status requestsSpent }
  budget { side requestsLastRun dailyLimit remainingDaily }
} } pageInfo { hasNextPage endCursor } } }
"""


async def test_pairs_show_sides_policy_last_run_counts_and_budget(gql: Gql, seed: Seed) -> None:
    data = await gql.data(PAIRS, role="viewer")
    pairs = data["pairs"]
    assert pairs["totalCount"] == 2
    main = pairs["edges"][0]["node"]
    assert main["id"] == gid("Pair", seed.pair_id)
    assert main["name"] == "main"
    assert main["openConflictCount"] == 4
    assert main["sideA"] == {
        "id": gid("SideAccount", seed.account_a_id),
        "label": "Acme (A)",
        "kind": "HIGHLEVEL",
        "locationId": "loc-a",
        "authKind": "pit",
        "connected": True,
    }
    assert main["sideB"]["connected"] is False
    assert main["policy"]["noteConflict"] == "MANUAL"
    assert main["lastRun"] == {
        "id": gid("Run", seed.run_id),
        "status": "succeeded",
        "requestsSpent": 9,
    }
    budget = {b["side"]: b for b in main["budget"]}
    # A is a HighLevel location: 200k a day, 7 spent by the run within the last 24 hours.
    assert budget["A"] == {
        "side": "A",
        "requestsLastRun": 7,
        "dailyLimit": 200000,
        "remainingDaily": 199993,
    }
    assert budget["B"]["dailyLimit"] is None
    assert pairs["edges"][1]["node"]["lastRun"] is None
    assert SECRET_TOKEN not in str(data)


async def test_pairs_page_by_keyset_cursor(gql: Gql, seed: Seed) -> None:
    first = await gql.data(
        "{ pairs(first: 1) { edges { cursor node { name } } pageInfo { hasNextPage endCursor } } }"
    )
    assert [e["node"]["name"] for e in first["pairs"]["edges"]] == ["main"]
    assert first["pairs"]["pageInfo"]["hasNextPage"] is True
    after = first["pairs"]["pageInfo"]["endCursor"]
    second = await gql.data(
        """query($after: String) { pairs(first: 1, after: $after) {
            nodes { name } pageInfo { hasNextPage } } }""",
        {"after": after},
    )
    assert second["pairs"]["nodes"] == [{"name": "second"}]
    assert second["pairs"]["pageInfo"]["hasNextPage"] is False


LINKS = """
query($pair: ID, $open: Boolean, $search: String, $tag: String, $first: Int, $after: String) {
  contactLinks(pairId: $pair, hasOpenConflicts: $open, search: $search, tag: $tag,
               first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    nodes {
      id aContactId bContactId excluded displayName
      a { contactId firstName email tags notes { id body } }
      b { contactId tags notes { id body } }
      base { email tags notes { id aNoteId bNoteId body } }
      openConflicts { kind scope }
    }
  }
}
"""


async def test_contact_links_with_side_values_and_base(gql: Gql, seed: Seed) -> None:
    data = await gql.data(LINKS, {"pair": gid("Pair", seed.pair_id)}, role="viewer")
    links = data["contactLinks"]
    assert links["totalCount"] == 3
    by_a = {n["aContactId"]: n for n in links["nodes"]}
    ann = by_a["a1"]
    assert ann["displayName"] == "Ann Lee"
    assert ann["a"] == {
        "contactId": "a1",
        "firstName": "Ann",
        "email": "ann@example.com",
        "tags": ["Lead", "VIP"],
        "notes": [{"id": "na1", "body": "Called Ann.\nShe wants a demo."}],
    }
    assert ann["b"]["notes"] == [{"id": "nb1", "body": "Called Ann.\nShe wants pricing."}]
    assert ann["base"] == {
        "email": "ann@old.com",
        "tags": ["Lead"],
        "notes": [{"id": "nl-1", "aNoteId": "na1", "bNoteId": "nb1", "body": "Called Ann."}],
    }
    assert sorted(c["kind"] for c in ann["openConflicts"]) == ["FIELD", "NOTE", "TAGS_INITIAL"]
    # Notes of a contact never read are null (unknown), not an empty list.
    assert by_a["a2"]["a"]["notes"] is None
    assert by_a["a3"]["base"] is None


async def test_contact_links_filters(gql: Gql, seed: Seed) -> None:
    pair = gid("Pair", seed.pair_id)

    async def a_ids(**variables: object) -> list[str]:
        data = await gql.data(LINKS, {"pair": pair, **variables})
        return sorted(n["aContactId"] for n in data["contactLinks"]["nodes"])

    assert await a_ids(open=True) == ["a1", "a2"]
    assert await a_ids(open=False) == ["a3"]
    assert await a_ids(search="CARA") == ["a3"]
    assert await a_ids(search="example.com") == ["a1", "a2", "a3"]
    assert await a_ids(search="old.com") == ["a1"]  # the base's email
    assert await a_ids(search="100%") == []  # wildcards are literal
    assert await a_ids(tag="vip") == ["a1"]
    assert await a_ids(tag="Lead") == ["a1", "a2"]
    all_pairs = await gql.data(LINKS, {})
    assert all_pairs["contactLinks"]["totalCount"] == 4


async def test_contact_links_keyset_pages_cover_everything_once(gql: Gql, seed: Seed) -> None:
    seen: list[str] = []
    after = None
    for _ in range(5):
        data = await gql.data(LINKS, {"first": 1, "after": after})
        page = data["contactLinks"]
        seen += [n["id"] for n in page["nodes"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert len(seen) == len(set(seen)) == 4


CONFLICTS = """
query($pair: ID, $status: ConflictStatus, $kind: ConflictKind, $contact: ID, $first: Int,
      $after: String) {
  conflicts(pairId: $pair, status: $status, kind: $kind, contactId: $contact, first: $first,
            after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { cursor node { id kind scope status detectedAt } }
  }
}
"""


async def test_conflicts_filters_and_order(gql: Gql, seed: Seed) -> None:
    data = await gql.data(CONFLICTS, {"pair": gid("Pair", seed.pair_id)}, role="viewer")
    nodes = [e["node"] for e in data["conflicts"]["edges"]]
    assert data["conflicts"]["totalCount"] == 4
    # Newest detected first.
    assert [n["scope"] for n in nodes] == ["first_name", "tags", "nl-1", "email"]
    only_notes = await gql.data(CONFLICTS, {"kind": "NOTE"})
    assert [e["node"]["scope"] for e in only_notes["conflicts"]["edges"]] == ["nl-1"]
    by_contact = await gql.data(CONFLICTS, {"contact": gid("ContactLink", seed.links[1].id)})
    assert [e["node"]["scope"] for e in by_contact["conflicts"]["edges"]] == ["first_name"]
    everywhere = await gql.data(CONFLICTS, {"status": "OPEN"})
    assert everywhere["conflicts"]["totalCount"] == 5
    closed = await gql.data(CONFLICTS, {"status": "CLOSED"})
    assert closed["conflicts"]["totalCount"] == 0


async def test_conflicts_page_forward_without_gaps(gql: Gql, seed: Seed) -> None:
    first = await gql.data(CONFLICTS, {"first": 2})
    page = first["conflicts"]
    assert page["pageInfo"]["hasNextPage"] is True
    rest = await gql.data(CONFLICTS, {"first": 10, "after": page["pageInfo"]["endCursor"]})
    ids = [e["node"]["id"] for e in page["edges"] + rest["conflicts"]["edges"]]
    assert len(ids) == len(set(ids)) == 5
    assert rest["conflicts"]["pageInfo"]["hasNextPage"] is False


DETAIL = """
query($id: ID!) { node(id: $id) { id ... on Conflict {
  kind scope status baseValue aValue bValue
  reason { rule policy compared detail }
  proposed { choice } resolution { choice }
  diff { format baseToA baseToB aToB }
  pair { name }
  link { aContactId a { email } b { email } base { email } }
} } }
"""


async def test_conflict_detail_with_values_reason_and_field_diff(gql: Gql, seed: Seed) -> None:
    data = await gql.data(DETAIL, {"id": gid("Conflict", seed.email_conflict)}, role="viewer")
    node = data["node"]
    assert node["kind"] == "FIELD"
    assert (node["baseValue"], node["aValue"], node["bValue"]) == (
        "ann@old.com",
        "ann@example.com",
        "ann@work.com",
    )
    assert node["reason"]["rule"] == "field.changed_both_differently"
    assert node["reason"]["policy"] == "field_conflict=manual"
    assert node["reason"]["compared"] == {"base": "h0", "a": "h1", "b": "h2"}
    assert node["diff"]["format"] == "changes"
    assert node["diff"]["aToB"] == 'email: "ann@example.com" -> "ann@work.com"'
    assert node["pair"] == {"name": "main"}
    assert node["link"]["base"] == {"email": "ann@old.com"}


async def test_note_conflict_diff_is_unified_and_tags_diff_is_by_set(gql: Gql, seed: Seed) -> None:
    note = (await gql.data(DETAIL, {"id": gid("Conflict", seed.note_conflict)}))["node"]
    assert note["diff"]["format"] == "unified"
    assert "+She wants a demo." in note["diff"]["baseToA"]
    assert "-She wants a demo.\n+She wants pricing." in note["diff"]["aToB"]
    tags = (await gql.data(DETAIL, {"id": gid("Conflict", seed.tags_conflict)}))["node"]
    assert tags["diff"]["aToB"] == 'tags: removed "VIP"'


async def test_runs_and_plan_with_actions_and_reasons(gql: Gql, seed: Seed) -> None:
    runs = await gql.data(
        """query($pair: ID) { runs(pairId: $pair) { totalCount nodes {
            id trigger dryRun status startedAt finishedAt durationMs aComplete bComplete
            counts { kind count } requests { side total byEndpoint } requestsSpent
            conflictsOpened errors plan { id status actionCount }
        } } }""",
        {"pair": gid("Pair", seed.pair_id)},
        role="viewer",
    )
    (run,) = runs["runs"]["nodes"]
    assert run["trigger"] == "schedule"
    assert run["durationMs"] == 3000
    assert run["counts"] == [
        {"kind": "add_tags", "count": 1},
        {"kind": "update_fields", "count": 1},
    ]
    assert run["requests"][0] == {
        "side": "A",
        "total": 7,
        "byEndpoint": {"contacts.search": 4, "notes.list": 3},
    }
    assert run["plan"] == {"id": gid("Plan", seed.plan_id), "status": "PENDING", "actionCount": 2}
    plan = await gql.data(
        """query($id: ID!) { plan(id: $id) { status counts { kind count }
            actions(first: 1) { totalCount pageInfo { hasNextPage endCursor }
              nodes { seq kind side contactId payload reason { rule } link { bContactId } }
            } } }""",
        {"id": gid("Plan", seed.plan_id)},
    )
    actions = plan["plan"]["actions"]
    assert actions["totalCount"] == 2
    assert actions["nodes"] == [
        {
            "seq": 1,
            "kind": "add_tags",
            "side": "B",
            "contactId": "b3",
            "payload": {"tags": ["New"], "keys": ["new"]},
            "reason": {"rule": "tags.three_way_merge"},
            "link": {"bContactId": "b3"},
        }
    ]
    rest = await gql.data(
        """query($id: ID!, $after: String) { plan(id: $id) { actions(first: 5, after: $after) {
            nodes { seq kind } pageInfo { hasNextPage } } } }""",
        {"id": gid("Plan", seed.plan_id), "after": actions["pageInfo"]["endCursor"]},
    )
    assert rest["plan"]["actions"]["nodes"] == [{"seq": 2, "kind": "update_fields"}]


async def test_node_and_nodes_resolve_every_type_and_refuse_nonsense(gql: Gql, seed: Seed) -> None:
    ids = [
        gid("Pair", seed.pair_id),
        gid("SideAccount", seed.account_a_id),
        gid("ContactLink", seed.links[0].id),
        gid("Conflict", seed.email_conflict),
        gid("Run", seed.run_id),
        gid("Plan", seed.plan_id),
        gid("Pair", "no-such-pair"),
        "not base64!",
        gid("Secret", "x"),
    ]
    data = await gql.data(
        "query($ids: [ID!]!) { nodes(ids: $ids) { __typename id } }", {"ids": ids}
    )
    types = [n["__typename"] if n else None for n in data["nodes"]]
    assert types == [
        "Pair",
        "SideAccount",
        "ContactLink",
        "Conflict",
        "Run",
        "Plan",
        None,
        None,
        None,
    ]
    assert [n["id"] for n in data["nodes"][:6]] == ids[:6]


async def test_viewer_says_who_calls(gql: Gql, seed: Seed) -> None:
    data = await gql.data("{ viewer { name role } }", role="operator")
    assert data["viewer"] == {"name": "operator-key", "role": "OPERATOR"}


async def test_page_size_above_100_is_a_graphql_error(gql: Gql, seed: Seed) -> None:
    body = await gql("{ conflicts(first: 101) { totalCount } }")
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "0..100" in body["errors"][0]["message"]
    body = await gql('{ conflicts(after: "bm90IGEgY3Vyc29y") { totalCount } }')
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    body = await gql('{ conflicts(pairId: "bm9wZQ==") { totalCount } }')
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


BACKWARD = """
query($last: Int, $before: String) { conflicts(last: $last, before: $before) {
  pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  edges { cursor node { id detectedAt } } } }
"""


async def test_backward_paging_with_last_and_before(gql: Gql, seed: Seed) -> None:
    forward = await gql.data(CONFLICTS, {"first": 100})
    order = [e["node"]["id"] for e in forward["conflicts"]["edges"]]
    # The last two of the list (the oldest), in list order (newest first).
    tail = await gql.data(BACKWARD, {"last": 2})
    page = tail["conflicts"]
    assert [e["node"]["id"] for e in page["edges"]] == order[-2:]
    assert page["pageInfo"]["hasPreviousPage"] is True
    assert page["pageInfo"]["hasNextPage"] is False
    # Walking backward from there covers the rest, without gaps or repeats.
    seen = [e["node"]["id"] for e in page["edges"]]
    before = page["pageInfo"]["startCursor"]
    while True:
        more = (await gql.data(BACKWARD, {"last": 2, "before": before}))["conflicts"]
        seen = [e["node"]["id"] for e in more["edges"]] + seen
        if not more["pageInfo"]["hasPreviousPage"]:
            break
        before = more["pageInfo"]["startCursor"]
    assert seen == order
    pairs = await gql.data("{ pairs(last: 1) { nodes { name } pageInfo { hasPreviousPage } } }")
    assert pairs["pairs"] == {"nodes": [{"name": "second"}], "pageInfo": {"hasPreviousPage": True}}
    actions = await gql.data(
        "query($id: ID!) { plan(id: $id) { actions(last: 1) { nodes { seq } } } }",
        {"id": gid("Plan", seed.plan_id)},
    )
    assert actions["plan"]["actions"]["nodes"] == [{"seq": 2}]


async def test_paging_both_ways_at_once_is_refused(gql: Gql, seed: Seed) -> None:
    body = await gql("{ conflicts(first: 2, last: 2) { totalCount } }")
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    forward = await gql.data(CONFLICTS, {"first": 1})
    cursor = forward["conflicts"]["pageInfo"]["endCursor"]
    body = await gql(
        "query($c: String) { runs(after: $c, before: $c) { totalCount } }", {"c": cursor}
    )
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
