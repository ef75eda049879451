"""HighLevel's error shapes and the FastAPI handlers that produce them.

Shapes (``common/common-schemas.json``): 400 ``{statusCode, message}``; 401 ``{statusCode,
message, error: "Unauthorized"}``; 422 ``{statusCode, message: [str, ...], error}`` with
class-validator style messages (HighLevel's API is NestJS: ``property X should not exist``,
``X must be a string``...). Unknown routes answer NestJS's ``Cannot GET /path`` 404.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)

ModelT = TypeVar("ModelT", bound=BaseModel)


class ApiError(Exception):
    """An answer in HighLevel's error shape; raised by handlers, rendered by the handler below."""

    def __init__(
        self,
        status: int,
        message: str | list[str],
        *,
        error: str | None = None,
        extra: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message if isinstance(message, str) else "; ".join(message))
        self.status = status
        self.body: dict[str, Any] = {"statusCode": status, "message": message}
        if error is not None:
            self.body["error"] = error
        if extra:
            self.body.update(extra)
        self.headers = dict(headers or {})

    def response(self) -> JSONResponse:
        return JSONResponse(self.body, status_code=self.status, headers=self.headers)


def bad_request(message: str, **extra: Any) -> ApiError:
    return ApiError(400, message, extra=extra)


def unauthorized(message: str) -> ApiError:
    return ApiError(401, message, error="Unauthorized")


def unprocessable(messages: Sequence[str]) -> ApiError:
    return ApiError(422, list(messages), error="Unprocessable Entity")


def not_found_entity(kind: str, entity_id: str) -> ApiError:
    """Unknown ids: the v2 spec documents 400 (never 404) for these operations."""
    return bad_request(f"{kind} with id {entity_id} not found")


def _path(loc: Sequence[int | str]) -> str:
    return ".".join(str(part) for part in loc)


# Pydantic names the member of a union that failed (``str``, ``int``...) in the location;
# class-validator has no such thing, so those errors collapse into one message per field.
_UNION_TAGS = {
    "str": "string",
    "int": "integer",
    "float": "number",
    "bool": "boolean",
    "list": "array",
    "dict": "object",
    "none": "null",
}


def _split_union(loc: tuple[int | str, ...]) -> tuple[tuple[int | str, ...], str | None]:
    if loc and isinstance(loc[-1], str) and loc[-1] in _UNION_TAGS:
        return loc[:-1], _UNION_TAGS[loc[-1]]
    return loc, None


def _subject(loc: tuple[int | str, ...]) -> str:
    if loc and isinstance(loc[-1], int):
        return f"each value in {_path(loc[:-1])}"
    return _path(loc) or "body"


def _message(err: Mapping[str, Any]) -> str:
    loc: tuple[int | str, ...] = tuple(err.get("loc", ()))
    kind = err.get("type", "")
    ctx = err.get("ctx") or {}
    path = _path(loc) or "body"
    if kind == "extra_forbidden":
        return f"property {path} should not exist"
    if kind == "missing":
        return f"{path} should not be empty"
    if loc and isinstance(loc[-1], int):
        each = {
            "string_type": "must be a string",
            "dict_type": "must be an object",
            "model_type": "must be an object",
        }.get(kind)
        if each:
            return f"{_subject(loc)} {each}"
    simple = {
        "string_type": "must be a string",
        "bool_type": "must be a boolean value",
        "int_type": "must be an integer number",
        "int_from_float": "must be an integer number",
        "float_type": "must be a number conforming to the specified constraints",
        "list_type": "must be an array",
        "string_too_short": "should not be empty",
        "finite_number": "must be a number conforming to the specified constraints",
    }.get(kind)
    if simple:
        return f"{path} {simple}"
    if kind in {"dict_type", "model_type", "model_attributes_type"}:
        return f"nested property {path} must be either object or array"
    if kind in {"less_than_equal", "less_than"}:
        return f"{path} must not be greater than {ctx.get('le', ctx.get('lt'))}"
    if kind in {"greater_than_equal", "greater_than"}:
        return f"{path} must not be less than {ctx.get('ge', ctx.get('gt'))}"
    if kind == "too_short":
        return f"{path} must contain at least {ctx.get('min_length')} elements"
    if kind == "too_long":
        return f"{path} must contain no more than {ctx.get('max_length')} elements"
    if kind in {"literal_error", "enum"}:
        expected = str(ctx.get("expected", "")).replace("'", "")
        return f"{path} must be one of the following values: {expected}"
    if kind == "value_error":
        return str(ctx.get("error", err.get("msg", "is invalid")))
    return f"{path} is invalid"


def messages_from(exc: ValidationError | RequestValidationError) -> list[str]:
    seen: list[str] = []
    unions: dict[tuple[int | str, ...], list[str]] = {}
    for err in exc.errors():
        loc, member = _split_union(tuple(err.get("loc", ())))
        if member is not None:
            unions.setdefault(loc, []).append(member)
            continue
        text = _message(err)
        if text not in seen:
            seen.append(text)
    for loc, members in unions.items():
        text = f"{_subject(loc)} must be one of: {', '.join(dict.fromkeys(members))}"
        if text not in seen:
            seen.append(text)
    return seen


def _refuse_constant(name: str) -> Any:
    # JSON has no NaN or Infinity (JavaScript's JSON.parse refuses them); Python accepts them.
    raise ValueError(f"Unexpected token {name[0]} in JSON")


def parse_json(raw: bytes) -> Any:
    """Decode a request body; malformed JSON is a 400 in the spec's ``BadRequestDTO`` shape
    (``{statusCode, message}``: the DTO has no ``error`` key)."""
    if not raw.strip():
        return {}
    try:
        return json.loads(raw, parse_constant=_refuse_constant)
    except (UnicodeDecodeError, ValueError) as exc:
        raise bad_request(f"Unexpected token in JSON at position {getattr(exc, 'pos', 0)}") from exc


def validate(model: type[ModelT], data: Any) -> ModelT:
    """Validate a decoded body against a DTO; every problem becomes one 422 message."""
    if not isinstance(data, dict):
        raise unprocessable(["request body must be an object"])
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise unprocessable(messages_from(exc)) from exc


async def read_body(request: Request, model: type[ModelT]) -> ModelT:
    return validate(model, parse_json(await request.body()))


def install_error_handlers(app: FastAPI) -> None:
    async def on_api_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiError)
        return exc.response()

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return unprocessable(messages_from(exc)).response()

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code in (404, 405):
            # NestJS answers an unknown method+path pair with this 404.
            return ApiError(
                404, f"Cannot {request.method} {request.url.path}", error="Not Found"
            ).response()
        return ApiError(exc.status_code, str(exc.detail)).response()

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("sandbox bug on %s %s", request.method, request.url.path)
        return ApiError(500, "Internal server error").response()

    app.add_exception_handler(ApiError, on_api_error)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(Exception, on_unexpected)
