"""Fixtures of the store tests: a cipher, a clock value, and a pair with its two accounts."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from reconciler.store import repo_pairs
from reconciler.store.crypto import Cipher, generate_key
from reconciler.store.db import Store
from reconciler.store.schema import AccountKind
from reconciler.store.tables import PairRow

NOW = datetime(2025, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)


@pytest.fixture
def cipher() -> Cipher:
    return Cipher([generate_key()])


@pytest.fixture
async def pair(store: Store) -> PairRow:
    async with store.transaction() as s:
        a = await repo_pairs.create_side_account(
            s, label="A", kind=AccountKind.MEMORY, location_id="loc-a", now=NOW
        )
        b = await repo_pairs.create_side_account(
            s, label="B", kind=AccountKind.MEMORY, location_id="loc-b", now=NOW
        )
        return await repo_pairs.create_pair(
            s, name="main", side_a_account_id=a.id, side_b_account_id=b.id, now=NOW
        )
