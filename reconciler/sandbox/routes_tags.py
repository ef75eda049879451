"""Tag deltas: ``POST /contacts/{id}/tags`` adds (201), ``DELETE`` with a JSON body removes.

Both answer the contact's resulting tag set (``{tags: [...]}``). ``POST
/contacts/bulk/tags/update/{add|remove}`` applies one delta to many contacts; its
``responses`` are strings (``"<contactId>: <outcome>"``), as the spec types them.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from reconciler.sandbox.auth import require_location
from reconciler.sandbox.dto import BulkTagsDto, TagsDto
from reconciler.sandbox.errors import bad_request, read_body
from reconciler.sandbox.gateway import current

router = APIRouter()


@router.post("/contacts/{contactId}/tags", status_code=201)
async def add_tags(contactId: str, request: Request) -> JSONResponse:
    call = current(request)
    dto = await read_body(request, TagsDto)
    contact = call.location.change_tags(contactId, dto.tags, add=True)
    return JSONResponse({"tags": list(contact.tags)}, status_code=201)


@router.delete("/contacts/{contactId}/tags")
async def remove_tags(contactId: str, request: Request) -> JSONResponse:
    call = current(request)
    dto = await read_body(request, TagsDto)
    contact = call.location.change_tags(contactId, dto.tags, add=False)
    return JSONResponse({"tags": list(contact.tags)})


@router.post("/contacts/bulk/tags/update/{type}", status_code=201)
async def bulk_tags(type: str, request: Request) -> JSONResponse:
    call = current(request)
    if type not in ("add", "remove"):
        raise bad_request("type must be one of the following values: add, remove")
    dto = await read_body(request, BulkTagsDto)
    require_location(call.grant, dto.locationId)
    responses: list[str] = []
    errors = 0
    for contact_id in dto.contacts:
        contact = call.location.contacts.get(contact_id)
        if contact is None:
            errors += 1
            responses.append(f"{contact_id}: contact does not belong to location")
            continue
        if type == "remove" and dto.removeAllTags:
            call.location.change_tags(contact_id, list(contact.tags), add=False)
        else:
            call.location.change_tags(contact_id, dto.tags, add=type == "add")
        responses.append(f"{contact_id}: Tags updated")
    return JSONResponse(
        {"succeded": errors == 0, "errorCount": errors, "responses": responses}, status_code=201
    )
