"""What the console added to the API: the inbox's contact-text and age filters on
``conflicts`` (``search``, ``detectedBefore``) and ``Run.conflictsClosed`` for the runs chart."""

from __future__ import annotations

from datetime import timedelta

from reconciler.store import repo_runs
from reconciler.store.db import Store
from reconciler.store.schema import RunStatus, RunTrigger
from tests.api.conftest import Gql, gid
from tests.api.seed import NOW, Seed

OPEN = """
query($search: String, $before: DateTime, $pair: ID) {
  conflicts(status: OPEN, search: $search, detectedBefore: $before, pairId: $pair) {
    totalCount nodes { id scope link { displayName } }
  }
}
"""


async def test_search_matches_the_contact_on_either_side_or_the_base(gql: Gql, seed: Seed) -> None:
    by_name = await gql.data(OPEN, {"search": "  ANN "}, role="viewer")
    ids = {node["id"] for node in by_name["conflicts"]["nodes"]}
    assert ids == {
        gid("Conflict", seed.email_conflict),
        gid("Conflict", seed.note_conflict),
        gid("Conflict", seed.tags_conflict),
    }
    assert by_name["conflicts"]["totalCount"] == 3
    # Only the base still holds the old address: the base is searched too.
    by_old_email = await gql.data(OPEN, {"search": "ann@old"}, role="viewer")
    assert by_old_email["conflicts"]["totalCount"] == 3
    bob = await gql.data(OPEN, {"search": "stone", "pair": gid("Pair", seed.pair_id)})
    assert [n["id"] for n in bob["conflicts"]["nodes"]] == [gid("Conflict", seed.field_conflict_1)]
    nobody = await gql.data(OPEN, {"search": "100%_nobody"})
    assert nobody["conflicts"] == {"totalCount": 0, "nodes": []}


async def test_detected_before_keeps_older_conflicts(gql: Gql, seed: Seed) -> None:
    # The seed detects its conflicts at NOW + 0..3 s (pair main) and NOW + 10 s (second).
    cut = (NOW + timedelta(seconds=2)).isoformat()
    older = await gql.data(OPEN, {"before": cut})
    assert {n["id"] for n in older["conflicts"]["nodes"]} == {
        gid("Conflict", seed.email_conflict),
        gid("Conflict", seed.note_conflict),
    }
    everything = await gql.data(OPEN, {"before": (NOW + timedelta(hours=1)).isoformat()})
    assert everything["conflicts"]["totalCount"] == 5


async def test_bad_filters_are_refused_clearly(gql: Gql, seed: Seed) -> None:
    long = await gql(OPEN, {"search": "x" * 201})
    assert long["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    naive = await gql(OPEN, {"before": "2025-03-01T12:00:00"})
    assert naive["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "time zone" in naive["errors"][0]["message"]


async def test_run_reports_the_conflicts_it_closed(gql: Gql, seed: Seed, store: Store) -> None:
    async with store.transaction() as s:
        run = await repo_runs.start_run(s, seed.pair_id, trigger=RunTrigger.MANUAL, now=NOW)
        await repo_runs.finish_run(
            s,
            run.id,
            status=RunStatus.SUCCEEDED,
            now=NOW + timedelta(seconds=1),
            a_complete=True,
            b_complete=True,
            counts={},
            requests={},
            errors=[],
            conflicts_opened=0,
            conflicts_closed=2,
        )
    data = await gql.data(
        "query($pair: ID) { runs(pairId: $pair) { nodes { id conflictsClosed } } }",
        {"pair": gid("Pair", seed.pair_id)},
        role="viewer",
    )
    closed = {n["id"]: n["conflictsClosed"] for n in data["runs"]["nodes"]}
    assert closed[gid("Run", run.id)] == 2
