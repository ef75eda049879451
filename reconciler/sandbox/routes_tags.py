"""Tag deltas: ``POST /contacts/{id}/tags`` adds (201), ``DELETE`` with a JSON body removes.

Both answer the contact's resulting tag set (``{tags: [...]}``).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from reconciler.sandbox.dto import TagsDto
from reconciler.sandbox.errors import read_body
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
