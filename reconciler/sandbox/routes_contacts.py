"""Contacts: create, get, update, delete, upsert, and the (empty) appointments list.

Unknown ids answer 400 ``{statusCode, message: "Contact with id X not found"}``: the v2 spec
documents 400/401/422 for these operations and no 404.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from reconciler.sandbox.auth import require_location
from reconciler.sandbox.dto import CreateContactDto, UpdateContactDto, UpsertContactDto
from reconciler.sandbox.errors import read_body
from reconciler.sandbox.gateway import current
from reconciler.sandbox.views import contact_view, created_contact_view

router = APIRouter()


@router.post("/contacts/", status_code=201)
@router.post("/contacts", status_code=201, include_in_schema=False)
async def create_contact(request: Request) -> JSONResponse:
    call = current(request)
    dto = await read_body(request, CreateContactDto)
    require_location(call.grant, dto.locationId)
    given = dto.given()
    given.pop("locationId")
    contact = call.location.create_contact(given)
    return JSONResponse({"contact": created_contact_view(contact)}, status_code=201)


@router.post("/contacts/upsert")
async def upsert_contact(request: Request) -> JSONResponse:
    call = current(request)
    dto = await read_body(request, UpsertContactDto)
    require_location(call.grant, dto.locationId)
    given = dto.given()
    given.pop("locationId")
    force_new = bool(given.pop("createNewIfDuplicateAllowed", False))
    contact, new = call.location.upsert_contact(given, force_new=force_new)
    return JSONResponse({"new": new, "contact": contact_view(contact), "traceId": call.trace_id})


@router.get("/contacts/{contactId}")
async def get_contact(contactId: str, request: Request) -> JSONResponse:
    call = current(request)
    return JSONResponse({"contact": contact_view(call.location.contact(contactId))})


@router.put("/contacts/{contactId}")
async def update_contact(contactId: str, request: Request) -> JSONResponse:
    call = current(request)
    dto = await read_body(request, UpdateContactDto)
    contact = call.location.update_contact(contactId, dto.given())
    return JSONResponse({"succeded": True, "contact": contact_view(contact)})


@router.delete("/contacts/{contactId}")
async def delete_contact(contactId: str, request: Request) -> JSONResponse:
    call = current(request)
    call.location.delete_contact(contactId)
    return JSONResponse({"succeded": True})


@router.get("/contacts/{contactId}/appointments")
async def contact_appointments(contactId: str, request: Request) -> JSONResponse:
    call = current(request)
    call.location.contact(contactId)
    # The sandbox keeps no calendars: the list is always empty, in the documented shape.
    return JSONResponse({"events": []})
