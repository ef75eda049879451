"""Keyset-cursor connections (Relay): ``first``/``after`` or ``last``/``before``, at most
100 per page.

A cursor is the opaque base64 of the sort key of the row it stands for (e.g. detection time
and id), so "the page after this cursor" is an index range scan whatever the depth, and rows
inserted meanwhile never shift a page (as offsets would).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any, Generic, TypeVar

import strawberry

from reconciler.api.errors import bad_input
from reconciler.store.repo_console import Page, Window

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20
MAX_CURSOR_LENGTH = 300

N = TypeVar("N")


@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type
class Edge(Generic[N]):
    cursor: str
    node: N


@strawberry.type
class Connection(Generic[N]):
    edges: list[Edge[N]]
    page_info: PageInfo
    count_rows: strawberry.Private[Callable[[], Awaitable[int]]]

    @strawberry.field
    async def total_count(self) -> int:
        return await self.count_rows()

    @strawberry.field
    def nodes(self) -> list[N]:
        return [edge.node for edge in self.edges]


def page_size(first: int | None) -> int:
    if first is None:
        return DEFAULT_PAGE_SIZE
    if first < 0 or first > MAX_PAGE_SIZE:
        raise bad_input(f"first must be within 0..{MAX_PAGE_SIZE}")
    return first


def encode_cursor(key: Sequence[Any]) -> str:
    plain = [value.isoformat() if isinstance(value, datetime) else value for value in key]
    return base64.b64encode(json.dumps(plain, separators=(",", ":")).encode()).decode("ascii")


def _decode(cursor: str) -> list[Any]:
    if len(cursor) > MAX_CURSOR_LENGTH:
        raise bad_input("invalid cursor")
    try:
        value = json.loads(base64.b64decode(cursor.encode("ascii"), validate=True))
    except (binascii.Error, UnicodeError, ValueError):
        raise bad_input("invalid cursor") from None
    if not isinstance(value, list):
        raise bad_input("invalid cursor")
    return value


def time_key(cursor: str | None) -> tuple[datetime, str] | None:
    """The (time, string id) key of a cursor made by ``encode_cursor``."""
    if cursor is None:
        return None
    value = _decode(cursor)
    try:
        at, key = value
        moment = datetime.fromisoformat(at)
    except (TypeError, ValueError):
        raise bad_input("invalid cursor") from None
    if moment.tzinfo is None or not isinstance(key, str):
        raise bad_input("invalid cursor")
    return moment, key


def time_int_key(cursor: str | None) -> tuple[datetime, int] | None:
    if cursor is None:
        return None
    value = _decode(cursor)
    try:
        at, key = value
        moment = datetime.fromisoformat(at)
    except (TypeError, ValueError):
        raise bad_input("invalid cursor") from None
    if moment.tzinfo is None or not isinstance(key, int) or isinstance(key, bool):
        raise bad_input("invalid cursor")
    return moment, key


def scalar_key(cursor: str | None, kind: type[str] | type[int]) -> Any:
    if cursor is None:
        return None
    value = _decode(cursor)
    if len(value) != 1 or not isinstance(value[0], kind) or isinstance(value[0], bool):
        raise bad_input("invalid cursor")
    return value[0]


def window(
    first: int | None,
    after: str | None,
    last: int | None,
    before: str | None,
    key: Callable[[str | None], Any],
) -> Window:
    """The rows asked for: ``first``/``after`` forward, or ``last``/``before`` backward."""
    backward = last is not None or before is not None
    if backward and (first is not None or after is not None):
        raise bad_input("page forward (first, after) or backward (last, before), not both")
    return Window(
        limit=page_size(last if backward else first),
        after=key(after),
        before=key(before),
        backward=backward,
    )


def connection(
    page: Page,
    window: Window,
    *,
    node: Callable[[Any], N],
    key: Callable[[Any], Sequence[Any]],
    count: Callable[[], Awaitable[int]],
) -> Connection[N]:
    edges = [Edge(cursor=encode_cursor(key(row)), node=node(row)) for row in page.rows]
    # Only the direction of travel is looked up; the other answers false, as Relay allows
    # when it cannot be told cheaply.
    return Connection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=page.has_more and not window.backward,
            has_previous_page=page.has_more and window.backward,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
        count_rows=count,
    )
