"""The official HighLevel specs, loaded once for the conformance suite.

``shared/`` sits beside the repository (``/work/shared`` next to ``/work/main``), in CI too.
Two kinds of validator come out of here:

- ``operations()``: openapi-core ``OpenAPI`` objects for the contacts v2 spec and the OAuth spec.
  Loading needs ``Config(spec_validator_cls=None)``: the official security schemes carry
  ``name``/``in`` next to ``type: http``, which openapi-spec-validator refuses, and the rest of
  the document is usable as it is.
- ``schema_errors(ref, value)``: a JSON Schema check of one named schema (``file#/pointer``),
  for bodies the operations do not type: the search answer (only in the 2025-09-08 spec) and
  the error DTOs of ``common-schemas.json`` where an operation lists no such status.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from openapi_core import Config, OpenAPI
from openapi_schema_validator import OAS30Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from tests.spec import API_DOCS

SPEC_ROOT = API_DOCS
CONTACTS = SPEC_ROOT / "apps" / "contacts.json"
CONTACTS_2025 = SPEC_ROOT / "apps" / "contacts.2025-09-08.5f8673c.json"
OAUTH = SPEC_ROOT / "apps" / "oauth.json"
COMMON = SPEC_ROOT / "common" / "common-schemas.json"

# The specs' only server; the sandbox stands in for it, whatever host a test reaches it on.
SPEC_SERVER = "https://services.leadconnectorhq.com"


@dataclass(frozen=True)
class Specs:
    """The operations of every spec the sandbox serves, by the path prefix that selects them."""

    contacts: OpenAPI
    oauth: OpenAPI

    def for_path(self, path: str) -> OpenAPI:
        return self.oauth if path.startswith("/oauth/") else self.contacts


def _load(path: Path) -> OpenAPI:
    # additionalProperties: the specs never say false, yet HighLevel's whitelisting validator
    # refuses unknown properties (``property X should not exist``); "forbid" makes the request
    # side as strict as the real service, and keeps the sandbox from inventing response keys.
    config = Config(spec_validator_cls=None, additional_properties_default_policy="forbid")
    return OpenAPI.from_file_path(str(path), config=config)


@cache
def specs() -> Specs:
    return Specs(contacts=_load(CONTACTS), oauth=_load(OAUTH))


@cache
def raw(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(path.read_text())
    return document


def ref(path: Path, schema_name: str) -> str:
    return f"{path.as_uri()}#/components/schemas/{schema_name}"


def _forbid_extras(node: Any) -> Any:
    """The same additionalProperties policy as ``_load`` applies, for the plain JSON Schema path."""
    if isinstance(node, dict):
        out = {k: _forbid_extras(v) for k, v in node.items()}
        if out.get("type") == "object" and "properties" in out:
            out.setdefault("additionalProperties", False)
        return out
    if isinstance(node, list):
        return [_forbid_extras(v) for v in node]
    return node


@cache
def _registry() -> Registry:
    resources = [
        (p.as_uri(), Resource.from_contents(_forbid_extras(raw(p)), default_specification=DRAFT4))
        for p in (CONTACTS, CONTACTS_2025, OAUTH, COMMON)
    ]
    return Registry().with_resources(resources)


def schema_errors(schema: str | dict[str, Any], value: Any) -> Iterator[Any]:
    """Every way ``value`` breaks a schema: a ``file#/pointer`` reference to a named one, or a
    schema object built from such references (OpenAPI 3.0 dialect)."""
    root = {"$ref": schema} if isinstance(schema, str) else schema
    validator = OAS30Validator(root, registry=_registry())
    yield from validator.iter_errors(value)


def resolve(schema_ref: str) -> dict[str, Any]:
    """The schema object a ``file#/pointer`` reference names (as written in the spec)."""
    uri, _, pointer = schema_ref.partition("#")
    node: Any = next(raw(p) for p in (CONTACTS, CONTACTS_2025, OAUTH, COMMON) if p.as_uri() == uri)
    for part in pointer.strip("/").split("/"):
        node = node[part]
    resolved: dict[str, Any] = node
    return resolved


def properties_of(schema_ref: str) -> frozenset[str]:
    return frozenset(resolve(schema_ref).get("properties", {}))
