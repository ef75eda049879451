"""Finding contacts: ``POST /contacts/search``, the deprecated ``GET /contacts/`` and
``GET /contacts/search/duplicate``.

Search body: ``locationId`` and ``pageLimit`` (1..500) are required (422 otherwise); ``page``
paging reaches only the first 10,000 hits (a page starting past them answers 400); every hit
carries ``searchAfter`` = ``[sortValueMs, id]`` (as strings: the spec types the items as
strings; numbers are accepted back) and passing the last one continues after it, without limit.
``sort`` takes one ``{field: dateAdded|dateUpdated, direction: asc|desc}`` (default
``dateAdded`` descending); ties are broken by id. Answer: ``{contacts, total}``.
"""

from __future__ import annotations

import math
from typing import Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from reconciler.sandbox.auth import require_location
from reconciler.sandbox.errors import bad_request, parse_json, unprocessable, validate
from reconciler.sandbox.gateway import current
from reconciler.sandbox.search import (
    Key,
    Predicate,
    compile_filters,
    signature_of,
    text_query,
)
from reconciler.sandbox.views import contact_view, list_item_view, search_hit_view

router = APIRouter()

PAGE_WINDOW = 10_000
MAX_PAGE_LIMIT = 500
MAX_LIST_LIMIT = 100


class SortSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    field: Literal["dateAdded", "dateUpdated"]
    direction: Literal["asc", "desc"] = "desc"


class SearchBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    locationId: str = Field(min_length=1)
    pageLimit: int = Field(ge=1, le=MAX_PAGE_LIMIT)
    page: int | None = Field(default=None, ge=1)
    searchAfter: list[str | int | float] | None = Field(default=None, min_length=2, max_length=2)
    query: str | None = None
    filters: list[Any] | None = None
    sort: list[SortSpec] | None = Field(default=None, max_length=1)


def _cursor(values: list[str | int | float]) -> Key:
    raw_ms, raw_id = values
    try:
        ms = int(float(raw_ms))
    except (ValueError, OverflowError):
        raise unprocessable(["searchAfter must be [sortValue, id] as the last hit gave"]) from None
    return (ms, str(raw_id))


def _predicate(filters: list[Any] | None, query: str | None) -> tuple[Predicate | None, str]:
    parts: list[Predicate] = []
    if filters:
        parts.append(compile_filters(filters))
    if query and query.strip():
        parts.append(text_query(query))
    if not parts:
        return None, ""
    return (lambda c: all(p(c) for p in parts)), signature_of(filters, query)


@router.post("/contacts/search")
async def search_contacts(request: Request) -> JSONResponse:
    call = current(request)
    body = validate(SearchBody, parse_json(await request.body()))
    require_location(call.grant, body.locationId)
    predicate, signature = _predicate(body.filters, body.query)
    sort = body.sort[0] if body.sort else SortSpec(field="dateAdded", direction="desc")
    after = _cursor(body.searchAfter) if body.searchAfter else None
    offset = 0
    limit = body.pageLimit
    if after is None and body.page:
        offset = (body.page - 1) * body.pageLimit
        if offset >= PAGE_WINDOW:
            raise bad_request(
                f"page paging reaches only the first {PAGE_WINDOW} records: "
                "continue with searchAfter"
            )
        limit = min(limit, PAGE_WINDOW - offset)
    index = call.location.search_view()
    # One extra hit tells whether more exist (for the truncated-page fault).
    page = index.page(
        sort_field=sort.field,
        descending=sort.direction == "desc",
        predicate=predicate,
        signature=signature,
        after=after,
        offset=offset,
        limit=limit + 1,
    )
    hits = page.hits[:limit]
    if call.plan.truncated_page and len(page.hits) > limit and len(hits) > 1:
        hits = hits[: len(hits) // 2]
    contacts = [search_hit_view(doc, [str(key[0]), key[1]]) for doc, key in hits]
    return JSONResponse({"contacts": contacts, "total": page.total})


_LIST_PARAMS = frozenset({"locationId", "startAfterId", "startAfter", "query", "limit"})


def _number(name: str, raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise unprocessable([f"{name} must be a number conforming to the specified constraints"])
    return value


@router.get("/contacts/")
@router.get("/contacts", include_in_schema=False)
async def list_contacts(request: Request) -> JSONResponse:
    """The deprecated list: by ``dateAdded`` ascending, cursor ``startAfter``/``startAfterId``."""
    call = current(request)
    params = request.query_params
    problems = [f"property {k} should not exist" for k in params if k not in _LIST_PARAMS]
    if not params.get("locationId"):
        problems.append("locationId should not be empty")
    limit = 20.0
    if "limit" in params:
        limit = _number("limit", params["limit"])
        if limit > MAX_LIST_LIMIT:
            problems.append(f"limit must not be greater than {MAX_LIST_LIMIT}")
        elif limit < 1 or limit != int(limit):
            problems.append("limit must be a positive integer")
    start_after = _number("startAfter", params["startAfter"]) if "startAfter" in params else None
    if problems:
        raise unprocessable(problems)
    require_location(call.grant, params["locationId"])
    index = call.location.search_view()
    after: Key | None = None
    start_id = params.get("startAfterId")
    if start_id:
        doc = index.docs.get(start_id)
        if doc is not None:
            after = (doc.added_ms, doc.id)
        elif start_after is not None:
            after = (int(start_after), start_id)
        else:
            raise bad_request(f"Contact with id {start_id} not found")
    elif start_after is not None:
        after = (int(start_after), "\uffff")
    query = params.get("query")
    predicate, signature = _predicate(None, query)
    size = int(limit)
    page = index.page(
        sort_field="dateAdded",
        descending=False,
        predicate=predicate,
        signature=signature,
        after=after,
        offset=0,
        limit=size + 1,
    )
    hits = page.hits[:size]
    meta: dict[str, Any] = {"total": page.total, "prevPage": None}
    if hits:
        last_doc, last_key = hits[-1]
        meta["startAfterId"] = last_doc.id
        meta["startAfter"] = last_key[0]
        if len(page.hits) > size:
            query_string: dict[str, str] = {
                "locationId": call.location.id,
                "startAfter": str(last_key[0]),
                "startAfterId": last_doc.id,
                "limit": str(size),
            }
            if query:
                query_string["query"] = query
            base = str(request.base_url).rstrip("/")
            meta["nextPageUrl"] = f"{base}/contacts/?{urlencode(query_string)}"
    return JSONResponse(
        {
            "contacts": [list_item_view(doc) for doc, _ in hits],
            "count": page.total,
            "meta": meta,
        }
    )


@router.get("/contacts/search/duplicate")
async def find_duplicate(request: Request) -> JSONResponse:
    """Email first, then phone (``number``), on live data, as the duplicate check itself."""
    call = current(request)
    params = request.query_params
    problems = [
        f"property {k} should not exist"
        for k in params
        if k not in {"locationId", "number", "email"}
    ]
    if not params.get("locationId"):
        problems.append("locationId should not be empty")
    if problems:
        raise unprocessable(problems)
    require_location(call.grant, params["locationId"])
    location = call.location
    match = location.find_by_email(params.get("email")) or location.find_by_phone(
        params.get("number")
    )
    return JSONResponse({"contact": contact_view(match) if match else None})
