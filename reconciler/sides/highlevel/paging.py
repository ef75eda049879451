"""Listing contacts: ``POST /contacts/search`` pages, chained by ``searchAfter`` cursors.

Offset paging (``page``) stops at 10,000 records, so every page after the first passes the
last hit's ``searchAfter`` (its sort key ``[dateUpdated ms, id]``). The paginator is an object
that remembers every cursor it sent: one coming back means the listing loops, and the listing
cannot be trusted (``CursorLoopError``).

Completeness: a page shorter than ``pageLimit`` while fewer than ``total`` hits were seen is a
truncated page (HighLevel's index answered short); a listing that ends (an empty page) before
``total`` is reached ends with an empty page marked incomplete. Either way the engine learns the
snapshot may miss records and must not believe any absence.

Hits that do not parse become ``Rejected`` entries on their page; the listing goes on.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from reconciler.errors import CursorLoopError, MalformedDataError
from reconciler.sides import labels
from reconciler.sides.base import Contact, ContactPage, Rejected
from reconciler.sides.highlevel.client import LocationClient
from reconciler.sides.highlevel.records import parse_contact, parse_time, rejected

MAX_PAGE_LIMIT = 500


class ContactSearch:
    """One listing over the search endpoint; iterate ``pages()`` once."""

    def __init__(
        self,
        client: LocationClient,
        *,
        location_id: str,
        page_limit: int = MAX_PAGE_LIMIT,
        filters: Sequence[Mapping[str, Any]] = (),
        query: str | None = None,
    ) -> None:
        if not 1 <= page_limit <= MAX_PAGE_LIMIT:
            raise ValueError(f"page_limit must be within 1..{MAX_PAGE_LIMIT}")
        self._client = client
        self._body: dict[str, Any] = {
            "locationId": location_id,
            "pageLimit": page_limit,
            "sort": [{"field": "dateUpdated", "direction": "asc"}],
        }
        if filters:
            self._body["filters"] = [dict(f) for f in filters]
        if query:
            self._body["query"] = query
        self._page_limit = page_limit
        self._cursors: set[str] = set()
        self.seen = 0  # hits received (parsed or not)
        self.total: int | None = None
        self.pages_read = 0

    async def pages(self) -> AsyncIterator[ContactPage]:
        body = dict(self._body)
        while True:
            data = await self._client.call(
                "POST", "/contacts/search", label=labels.SEARCH, body=body
            )
            self.pages_read += 1
            hits = data.get("contacts")
            if not isinstance(hits, list):
                raise MalformedDataError("search answer without a contacts array")
            total = data.get("total")
            if isinstance(total, int | float) and not isinstance(total, bool):
                self.total = int(total)
            self.seen += len(hits)
            short_of_total = self.total is not None and self.seen < self.total
            if not hits:
                if short_of_total:
                    yield ContactPage(contacts=(), complete=False)
                return
            truncated = len(hits) < self._page_limit and short_of_total
            contacts, bad = _parse_hits(hits)
            yield ContactPage(contacts=contacts, complete=not truncated, rejected=bad)
            if len(hits) < self._page_limit and not truncated:
                return
            body["searchAfter"] = self._next_cursor(hits[-1])

    def _next_cursor(self, last_hit: object) -> list[Any]:
        cursor = _cursor_of(last_hit)
        key = json.dumps(cursor, sort_keys=True, default=str)
        if key in self._cursors:
            raise CursorLoopError(f"search cursor {key} came back: the listing loops")
        self._cursors.add(key)
        return cursor


def _parse_hits(hits: list[Any]) -> tuple[list[Contact], list[Rejected]]:
    contacts: list[Contact] = []
    bad: list[Rejected] = []
    for hit in hits:
        try:
            contacts.append(parse_contact(hit))
        except MalformedDataError as exc:
            bad.append(rejected(hit, exc))
    return contacts, bad


def _cursor_of(hit: object) -> list[Any]:
    """The hit's own ``searchAfter``, else its sort key rebuilt from ``dateUpdated`` and id."""
    if isinstance(hit, dict):
        given = hit.get("searchAfter")
        if isinstance(given, list) and given:
            return given
        updated, hit_id = hit.get("dateUpdated"), hit.get("id")
        if isinstance(updated, str) and isinstance(hit_id, str):
            try:
                return [int(parse_time(updated).timestamp() * 1000), hit_id]
            except ValueError:
                pass
    raise CursorLoopError("the last hit of a page carries no usable cursor: cannot go on")
