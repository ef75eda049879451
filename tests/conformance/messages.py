"""httpx requests and responses as openapi-core sees them, and its errors as flat problems.

openapi-core ships adapters for requests, Starlette, Django... but not httpx; these two small
classes satisfy its ``Request``/``Response`` protocols. The host is always the spec's server:
the sandbox stands in for ``services.leadconnectorhq.com`` on whatever address a test uses.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import parse_qsl

import httpx
from openapi_core.datatypes import RequestParameters
from openapi_core.templating.paths.exceptions import PathError
from openapi_core.templating.responses.exceptions import ResponseNotFound
from openapi_core.validation.request.exceptions import (
    MissingRequiredParameter,
    ParameterValidationError,
    SecurityValidationError,
)
from werkzeug.datastructures import Headers, ImmutableMultiDict

from tests.conformance.spec import SPEC_SERVER


@dataclass(frozen=True)
class Wire:
    """One request as sent: enough to validate it, and to validate a variant of it."""

    method: str
    path: str
    query: tuple[tuple[str, str], ...]
    headers: tuple[tuple[str, str], ...]
    body: bytes
    content_type: str

    @classmethod
    def of(cls, request: httpx.Request) -> Wire:
        return cls(
            method=request.method.lower(),
            path=request.url.path,
            query=tuple(parse_qsl(request.url.query.decode(), keep_blank_values=True)),
            headers=tuple(request.headers.multi_items()),
            body=request.content,
            content_type=request.headers.get("content-type", "").lower(),
        )

    def with_body(self, body: bytes) -> Wire:
        return dataclasses.replace(self, body=body)

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        return next((v for k, v in self.headers if k.lower() == lowered), None)


class OpenAPIRequest:
    """openapi-core's ``Request`` protocol over a ``Wire``."""

    def __init__(self, wire: Wire) -> None:
        self.wire = wire
        self.parameters = RequestParameters(
            query=ImmutableMultiDict(list(wire.query)),
            header=Headers(list(wire.headers)),
            cookie=ImmutableMultiDict(),
        )

    @property
    def host_url(self) -> str:
        return SPEC_SERVER

    @property
    def path(self) -> str:
        return self.wire.path

    @property
    def method(self) -> str:
        return self.wire.method

    @property
    def body(self) -> bytes | None:
        # No body at all is None for openapi-core (a required body is then "missing").
        return self.wire.body or None

    @property
    def content_type(self) -> str:
        return self.wire.content_type


class OpenAPIResponse:
    """openapi-core's ``Response`` protocol over a read ``httpx.Response``."""

    def __init__(self, response: httpx.Response) -> None:
        self.status_code = response.status_code
        self.headers = Headers(list(response.headers.multi_items()))
        self.content_type = response.headers.get("content-type", "").lower()
        self.data: bytes | None = response.content or None


class SchemaError(Protocol):
    """What this module reads of a jsonschema ``ValidationError``."""

    message: str
    validator: Any
    instance: Any
    schema: Any

    @property
    def absolute_path(self) -> Sequence[str | int]: ...


@dataclass(frozen=True)
class Problem:
    """One way a message breaks the spec. ``pointer`` locates body problems in the JSON."""

    kind: str  # route | security | parameter | body | status | schema
    message: str
    pointer: tuple[str | int, ...] = ()
    keyword: str = ""  # the JSON Schema keyword that failed (type, required, ...)
    instance: object = None
    # additionalProperties problems: the keys the schema does not document.
    extras: frozenset[str] = frozenset()

    def __str__(self) -> str:
        where = "/".join(str(p) for p in self.pointer)
        return f"{self.kind}{'@' + where if where else ''}: {self.message}"


def _keyword(error: SchemaError) -> str:
    # openapi-core's "forbid" policy reports unknown keys under the ``properties`` keyword.
    if error.message.startswith("Additional properties are not allowed"):
        return "additionalProperties"
    return str(error.validator)


def _extras(error: SchemaError) -> frozenset[str]:
    if _keyword(error) != "additionalProperties" or not isinstance(error.instance, dict):
        return frozenset()
    schema = error.schema if isinstance(error.schema, dict) else {}
    documented = set(schema.get("properties", {}))
    return frozenset(k for k in error.instance if k not in documented)


def schema_problems(kind: str, errors: Iterable[SchemaError]) -> list[Problem]:
    return [
        Problem(
            kind,
            e.message,
            pointer=tuple(e.absolute_path),
            keyword=_keyword(e),
            instance=e.instance,
            extras=_extras(e),
        )
        for e in errors
    ]


def _cause_errors(error: BaseException) -> list[SchemaError]:
    cause = error.__cause__
    found = getattr(cause, "schema_errors", None)
    return list(found) if found else []


def _text(error: BaseException) -> str:
    try:
        return str(error)
    except UnicodeDecodeError:
        # openapi-core decodes a non-UTF-8 body as UTF-8 to describe it.
        return f"{type(error).__name__}: the body is not UTF-8"


def flatten(errors: Iterable[BaseException], side: str) -> list[Problem]:
    """openapi-core's nested errors as problems (the schema errors are pulled out of causes)."""
    problems: list[Problem] = []
    for error in errors:
        if isinstance(error, PathError):
            problems.append(Problem("route", _text(error)))
        elif isinstance(error, SecurityValidationError):
            problems.append(Problem("security", str(error)))
        elif isinstance(error, ResponseNotFound):
            problems.append(Problem("status", str(error)))
        elif isinstance(error, ParameterValidationError):
            detail = _cause_errors(error)
            text = "; ".join(e.message for e in detail) or str(error)
            if isinstance(error, MissingRequiredParameter):
                text = "missing"
            problems.append(Problem("parameter", text, pointer=(error.location, error.name)))
        else:
            detail = _cause_errors(error)
            if detail:
                problems.extend(schema_problems("body" if side == "request" else "schema", detail))
            else:
                kind = "body" if side == "request" else "schema"
                problems.append(Problem(kind, _text(error)))
    return problems
