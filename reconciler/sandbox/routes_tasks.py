"""Tasks: list, create (201), get, update, delete, and ``PUT .../completed``."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from reconciler.sandbox.dto import TaskCreateDto, TaskStatusDto, TaskUpdateDto
from reconciler.sandbox.errors import read_body
from reconciler.sandbox.gateway import current
from reconciler.sandbox.views import task_view

router = APIRouter()


@router.get("/contacts/{contactId}/tasks")
async def list_tasks(contactId: str, request: Request) -> JSONResponse:
    call = current(request)
    return JSONResponse({"tasks": [task_view(t) for t in call.location.list_tasks(contactId)]})


@router.post("/contacts/{contactId}/tasks", status_code=201)
async def create_task(contactId: str, request: Request) -> JSONResponse:
    call = current(request)
    dto = await read_body(request, TaskCreateDto)
    task = call.location.create_task(contactId, dto.given())
    return JSONResponse({"task": task_view(task)}, status_code=201)


@router.get("/contacts/{contactId}/tasks/{taskId}")
async def get_task(contactId: str, taskId: str, request: Request) -> JSONResponse:
    call = current(request)
    return JSONResponse({"task": task_view(call.location.task(contactId, taskId))})


@router.put("/contacts/{contactId}/tasks/{taskId}")
async def update_task(contactId: str, taskId: str, request: Request) -> JSONResponse:
    call = current(request)
    dto = await read_body(request, TaskUpdateDto)
    task = call.location.update_task(contactId, taskId, dto.given())
    return JSONResponse({"task": task_view(task)})


@router.put("/contacts/{contactId}/tasks/{taskId}/completed")
async def complete_task(contactId: str, taskId: str, request: Request) -> JSONResponse:
    call = current(request)
    dto = await read_body(request, TaskStatusDto)
    task = call.location.update_task(contactId, taskId, {"completed": dto.completed})
    return JSONResponse({"task": task_view(task)})


@router.delete("/contacts/{contactId}/tasks/{taskId}")
async def delete_task(contactId: str, taskId: str, request: Request) -> JSONResponse:
    call = current(request)
    call.location.delete_task(contactId, taskId)
    return JSONResponse({"succeded": True})
