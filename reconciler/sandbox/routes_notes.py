"""Notes: list, create (201), get, update, delete. Notes carry no ``dateUpdated``."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from reconciler.sandbox.dto import NoteCreateDto, NoteUpdateDto
from reconciler.sandbox.errors import read_body
from reconciler.sandbox.gateway import current
from reconciler.sandbox.views import note_view

router = APIRouter()


@router.get("/contacts/{contactId}/notes")
async def list_notes(contactId: str, request: Request) -> JSONResponse:
    call = current(request)
    return JSONResponse({"notes": [note_view(n) for n in call.location.list_notes(contactId)]})


@router.post("/contacts/{contactId}/notes", status_code=201)
async def create_note(contactId: str, request: Request) -> JSONResponse:
    call = current(request)
    dto = await read_body(request, NoteCreateDto)
    note = call.location.create_note(contactId, dto.given())
    return JSONResponse({"note": note_view(note)}, status_code=201)


@router.get("/contacts/{contactId}/notes/{id}")
async def get_note(contactId: str, id: str, request: Request) -> JSONResponse:
    call = current(request)
    return JSONResponse({"note": note_view(call.location.note(contactId, id))})


@router.put("/contacts/{contactId}/notes/{id}")
async def update_note(contactId: str, id: str, request: Request) -> JSONResponse:
    call = current(request)
    dto = await read_body(request, NoteUpdateDto)
    note = call.location.update_note(contactId, id, dto.given())
    return JSONResponse({"note": note_view(note)})


@router.delete("/contacts/{contactId}/notes/{id}")
async def delete_note(contactId: str, id: str, request: Request) -> JSONResponse:
    call = current(request)
    call.location.delete_note(contactId, id)
    return JSONResponse({"succeded": True})
