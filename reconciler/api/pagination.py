"""Keyset-cursor connections (Relay): ``first``/``after``, at most 100 per page.

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


def connection(
    rows: Sequence[Any],
    *,
    has_more: bool,
    node: Callable[[Any], N],
    key: Callable[[Any], Sequence[Any]],
    count: Callable[[], Awaitable[int]],
    after: str | None,
) -> Connection[N]:
    edges = [Edge(cursor=encode_cursor(key(row)), node=node(row)) for row in rows]
    return Connection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=has_more,
            # Forward paging only: whether rows precede ``after`` is not looked up (Relay
            # allows answering false when paging forward).
            has_previous_page=False,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else after,
        ),
        count_rows=count,
    )
