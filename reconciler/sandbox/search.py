"""The search side of a location: a delayed index, the filter grammar, and keyset paging.

HighLevel's search runs on an eventually consistent index, so writes become visible to
``POST /contacts/search`` (and the deprecated list) only after the location's
``search_lag_seconds``. Each write queues a snapshot due at ``now + lag``; before every search
the due snapshots are applied, in write order. Nothing sleeps.

Order: sorted keys ``(sortValueMs, id)`` are kept per sort field (``dateAdded``,
``dateUpdated``), so a page is a bisection plus a slice: the id tie-breaker makes cursors exact.
A filtered query keeps its matching keys cached until the index changes, so paging through a
filtered result costs O(N) once, not per page.

Filter grammar (the one HighLevel documents for Search Contacts)::

    {"field": "email", "operator": "eq", "value": "a@b.c"}
    {"field": "dateUpdated", "operator": "range", "value": {"gte": "2026-01-01T00:00:00Z"}}
    {"field": "phone", "operator": "exists"}
    {"group": "OR", "filters": [ ...filters or groups... ]}

Top-level filters are ANDed. Operators: ``eq``, ``not_eq``, ``contains``, ``not_contains``,
``exists``, ``not_exists``, ``range`` (``gt``/``gte``/``lt``/``lte``). ``tags eq`` matches a
contact having the tag (any of them, for a list).
"""

from __future__ import annotations

import bisect
import json
import math
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from reconciler.sandbox.clock import parse_iso
from reconciler.sandbox.errors import unprocessable
from reconciler.sandbox.records import Contact, normalise_phone, normalise_tags

SORT_FIELDS = ("dateAdded", "dateUpdated")
DATE_FIELDS = frozenset(SORT_FIELDS)
STRING_FIELDS = frozenset(
    {
        "id",
        "email",
        "phone",
        "firstName",
        "lastName",
        "companyName",
        "source",
        "country",
        "city",
        "state",
        "postalCode",
        "assignedTo",
        "type",
        "website",
        "timezone",
        "address1",
        "businessId",
    }
)
FILTER_FIELDS = STRING_FIELDS | DATE_FIELDS | {"tags", "dnd"}
OPERATORS = frozenset({"eq", "not_eq", "contains", "not_contains", "exists", "not_exists", "range"})
RANGE_KEYS = frozenset({"gt", "gte", "lt", "lte"})
MAX_FILTER_DEPTH = 5

Key = tuple[int, str]
Predicate = Callable[[Contact], bool]


@dataclass(frozen=True)
class Page:
    hits: list[tuple[Contact, Key]]
    total: int


def _value_of(contact: Contact, name: str) -> Any:
    if name == "id":
        return contact.id
    if name == "dateAdded":
        return contact.added_ms
    if name == "dateUpdated":
        return contact.updated_ms
    if name == "tags":
        return contact.tags
    return contact.fields.get(name)


def _as_ms(value: Any, where: str) -> int:
    if isinstance(value, bool):
        raise unprocessable([f"{where} must be a date string or epoch milliseconds"])
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return int(value)
    if isinstance(value, str):
        try:
            return int(parse_iso(value) * 1000)
        except (ValueError, OverflowError, OSError):
            pass
    raise unprocessable([f"{where} must be a date string or epoch milliseconds"])


def _normalise_operand(name: str, value: Any, where: str) -> Any:
    if name in DATE_FIELDS:
        return _as_ms(value, where)
    if name == "dnd":
        if not isinstance(value, bool):
            raise unprocessable([f"{where} must be a boolean value"])
        return value
    if name == "tags":
        items = value if isinstance(value, list) else [value]
        if not items or not all(isinstance(v, str) for v in items):
            raise unprocessable([f"{where} must be a string or an array of strings"])
        return set(normalise_tags(items))
    if not isinstance(value, str):
        raise unprocessable([f"{where} must be a string"])
    if name == "phone":
        return normalise_phone(value)
    return value.lower()


def _leaf(spec: dict[str, Any], where: str) -> Predicate:
    extra = set(spec) - {"field", "operator", "value"}
    if extra:
        raise unprocessable([f"property {where}.{sorted(extra)[0]} should not exist"])
    name, op = spec.get("field"), spec.get("operator")
    if not isinstance(name, str) or name not in FILTER_FIELDS:
        raise unprocessable([f"{where}.field must be one of: {', '.join(sorted(FILTER_FIELDS))}"])
    if not isinstance(op, str) or op not in OPERATORS:
        raise unprocessable([f"{where}.operator must be one of: {', '.join(sorted(OPERATORS))}"])
    if op in ("exists", "not_exists"):
        want = op == "exists"
        return lambda c: bool(_value_of(c, name) not in (None, "", [])) == want
    if "value" not in spec:
        raise unprocessable([f"{where}.value should not be empty"])
    value = spec["value"]
    if op == "range":
        if name not in DATE_FIELDS:
            raise unprocessable([f"{where}: range applies to dateAdded and dateUpdated"])
        if not isinstance(value, dict) or not value or set(value) - RANGE_KEYS:
            raise unprocessable([f"{where}.value must be an object of gt, gte, lt, lte"])
        bounds = {k: _as_ms(v, f"{where}.value.{k}") for k, v in value.items()}
        return lambda c: _in_range(_value_of(c, name), bounds)
    operand = _normalise_operand(name, value, f"{where}.value")
    if op in ("contains", "not_contains") and name in DATE_FIELDS | {"dnd"}:
        raise unprocessable([f"{where}: {op} applies to text fields and tags"])
    positive = op in ("eq", "contains")
    if name == "tags":
        wanted: set[str] = operand
        if op in ("contains", "not_contains"):
            return lambda c: any(w in t for t in c.tags for w in wanted) == positive
        return lambda c: bool(wanted & set(c.tags)) == positive
    if op in ("contains", "not_contains"):
        return lambda c: (operand in str(_value_of(c, name) or "").lower()) == positive

    def equals(c: Contact) -> bool:
        current = _value_of(c, name)
        if isinstance(current, str) and name != "phone":
            current = current.lower()
        return bool(current == operand) == positive

    return equals


def _in_range(value: int, bounds: dict[str, int]) -> bool:
    return (
        ("gt" not in bounds or value > bounds["gt"])
        and ("gte" not in bounds or value >= bounds["gte"])
        and ("lt" not in bounds or value < bounds["lt"])
        and ("lte" not in bounds or value <= bounds["lte"])
    )


def compile_filters(filters: Any, where: str = "filters", depth: int = 0) -> Predicate:
    """Turn the ``filters`` array into one predicate (top level: AND); 422 on bad grammar."""
    if depth > MAX_FILTER_DEPTH:
        raise unprocessable([f"{where} nests groups too deeply"])
    if not isinstance(filters, list):
        raise unprocessable([f"{where} must be an array"])
    parts: list[Predicate] = []
    for i, item in enumerate(filters):
        at = f"{where}.{i}"
        if not isinstance(item, dict):
            raise unprocessable([f"each value in {where} must be an object"])
        if "group" in item:
            group = item["group"]
            if group not in ("AND", "OR") or set(item) - {"group", "filters"}:
                raise unprocessable([f"{at}.group must be one of the following values: AND, OR"])
            members = _as_list(item.get("filters"), f"{at}.filters")
            inner = [
                compile_filters([f], f"{at}.filters.{j}", depth + 1) for j, f in enumerate(members)
            ]
            parts.append(_combine(inner, any_of=group == "OR"))
        else:
            parts.append(_leaf(item, at))
    return lambda c: all(p(c) for p in parts)


def _combine(inner: list[Predicate], *, any_of: bool) -> Predicate:
    if any_of:
        return lambda c: any(p(c) for p in inner)
    return lambda c: all(p(c) for p in inner)


def _as_list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise unprocessable([f"{where} must be an array"])
    return value


def text_query(query: str) -> Predicate:
    """The free-text ``query``: a substring of name, email, phone or company name."""
    needle = query.strip().lower()
    digits = "".join(ch for ch in needle if ch.isdigit())

    def matches(c: Contact) -> bool:
        f = c.fields
        hay = " ".join(
            str(f.get(k) or "") for k in ("firstName", "lastName", "email", "companyName")
        ).lower()
        if needle in hay or needle in c.full_name().lower():
            return True
        return bool(digits) and digits in (f.get("phone") or "")

    return matches


class SearchIndex:
    """What search sees of one location: snapshots, applied after the lag."""

    def __init__(self) -> None:
        self.docs: dict[str, Contact] = {}
        self._sorted: dict[str, list[Key]] = {name: [] for name in SORT_FIELDS}
        self._pending: deque[tuple[float, str, Contact | None]] = deque()
        self._version = 0
        self._cache: OrderedDict[tuple[str, str, int], list[Key]] = OrderedDict()

    def stage(self, contact_id: str, snapshot: Contact | None, now: float, lag: float) -> None:
        """Queue a write (``None``: a deletion); applied now when there is no lag."""
        if lag <= 0 and not self._pending:
            self._apply(contact_id, snapshot)
            return
        self._pending.append((now + lag, contact_id, snapshot))

    def apply_due(self, now: float) -> None:
        # Applied strictly in write order, so a shortened lag never reorders two writes.
        while self._pending and self._pending[0][0] <= now:
            _, contact_id, snapshot = self._pending.popleft()
            self._apply(contact_id, snapshot)

    @property
    def pending(self) -> int:
        return len(self._pending)

    def _apply(self, contact_id: str, snapshot: Contact | None) -> None:
        old = self.docs.pop(contact_id, None)
        if old is not None:
            for name in SORT_FIELDS:
                keys = self._sorted[name]
                key = (_value_of(old, name), old.id)
                pos = bisect.bisect_left(keys, key)
                if pos < len(keys) and keys[pos] == key:
                    del keys[pos]
        if snapshot is not None:
            self.docs[contact_id] = snapshot
            for name in SORT_FIELDS:
                bisect.insort(self._sorted[name], (_value_of(snapshot, name), snapshot.id))
        self._version += 1
        self._cache.clear()

    def _matching(self, sort_field: str, signature: str, predicate: Predicate | None) -> list[Key]:
        keys = self._sorted[sort_field]
        if predicate is None:
            return keys
        cache_key = (sort_field, signature, self._version)
        hit = self._cache.get(cache_key)
        if hit is None:
            hit = [k for k in keys if predicate(self.docs[k[1]])]
            self._cache[cache_key] = hit
            while len(self._cache) > 16:
                self._cache.popitem(last=False)
        return hit

    def page(
        self,
        *,
        sort_field: str,
        descending: bool,
        predicate: Predicate | None,
        signature: str,
        after: Key | None,
        offset: int,
        limit: int,
    ) -> Page:
        keys = self._matching(sort_field, signature, predicate)
        if descending:
            end = len(keys) if after is None else bisect.bisect_left(keys, after)
            end = max(0, end - offset)
            chosen = keys[max(0, end - limit) : end][::-1]
        else:
            start = 0 if after is None else bisect.bisect_right(keys, after)
            start += offset
            chosen = keys[start : start + limit]
        return Page([(self.docs[k[1]], k) for k in chosen], len(keys))


def signature_of(*parts: Any) -> str:
    """A cache key for a query's filters (same filters, same matching set)."""
    return json.dumps(parts, sort_keys=True, default=str)
