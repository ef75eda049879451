"""The HighLevel sandbox: an emulator of HighLevel's Contacts API v2 for one or more locations.

Same paths, bodies, status codes and error shapes as the official spec
(``tests/spec/ghl-openapi/highlevel-api-docs/apps/contacts.json``; search hits and ``searchAfter``
from ``contacts.2025-09-08.5f8673c.json``; OAuth from ``oauth.json``), so HighLevel's SDK and
our connector cannot tell it from the real service. It is the test mode users try before going
live, and what the demo, the tests and the benchmarks run against.

Entry points: ``app.create_app(config) -> FastAPI`` (``app.state.sandbox`` is the
``state.Sandbox`` handle), ``server.running_server(app)`` (uvicorn in the current loop),
``config.SandboxConfig``, and the ``reconciler sandbox`` / ``reconciler demo`` commands.

Decisions where the official material leaves a choice (each documented where it is made):

- Unknown ids (contact, note, task): 400 ``{statusCode, message: "<Kind> with id X not
  found"}``. The v2 spec lists 400/401/422 for these operations and never 404.
- ``Version`` header: required on every ``/contacts`` call; ``2021-07-28`` and ``v3`` are
  accepted. Missing: 400 ``Version header was not found``; unknown: 400 ``Version header is
  invalid: X`` (the header is a required parameter and every operation documents 400).
- Scopes: reads need ``contacts.readonly``, writes ``contacts.write`` (search is a read). A
  missing scope is 401 ``{statusCode, message: "The token is not authorized for this scope.",
  error: "Unauthorized"}``; a token used for another location's ``locationId`` is 401
  ``The token does not have access to this location.`` (the v2 spec documents no 403).
- Validation: unknown top-level properties, wrong types and missing required fields are 422
  with class-validator messages (``property X should not exist``); malformed JSON is 400
  ``{statusCode, message}`` (``BadRequestDTO``). The
  search body's 422 (missing ``locationId``/``pageLimit``, ``pageLimit`` > 500) follows
  HighLevel's observed behaviour although the spec lists only 200/400/401 for search.
- Tags are stored trimmed and lower-cased, without repeats. ``tags`` on PUT/upsert replace the
  set; the tag endpoints are deltas.
- ``dateUpdated`` moves (strictly increasing per contact) when a field or the tags actually
  change; a no-op write leaves it and sends no webhook. Note writes move it only when the
  location's ``note_changes_touch_contact`` is on (unconfirmed upstream; default off).
- ``searchAfter`` on each hit is ``[sortValueMs, id]`` as strings (the spec types the items as
  strings); numbers are accepted back. Default sort: ``dateAdded`` descending, ties by id.
- Custom field values are strings in API answers (``CustomFieldSchema``), JSON text for other
  values; webhooks carry them unchanged (their schema allows numbers, arrays, objects).
- ``dateOfBirth`` is typed ``object`` in the spec but is a date in practice: date strings are
  accepted (stored as ``YYYY-MM-DDT00:00:00.000Z``), anything else is 422.
- ``Version: v3`` is served by the same v2 handlers (the v3 spec has the same paths and
  bodies); v3's lower-case ``dndSettings`` channel names are read, answers use v2's names.
- ``POST /oauth/token`` reads the spec's snake_case form names and the camelCase ones the
  official SDK's refresh helper sends (``refreshToken``, ``clientId``...).
- Campaign and workflow memberships are kept in memory only (not in the state file).
- Answers carry only the keys their response schema documents: ``gender`` and
  ``inboundDndSettings`` are kept but never shown (no response schema has them), the create
  answer has no ``name``/``timezone`` (``CreateContactSchema``), search hits no
  ``timezone``/``website`` (``Contact``). Where the spec is silent or partial (search answer,
  list items, paging ``meta``, duplicate ``meta``...), ``tests/conformance/deviations.py``
  documents what is sent instead, and the conformance suite validates it.
"""
