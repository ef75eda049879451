"""What hangs off a contact besides notes, tasks and tags: followers, campaigns, workflows,
businesses. Kept simple but truthful, so every path of the spec answers in its documented shape.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from reconciler.sandbox.auth import require_location
from reconciler.sandbox.dto import BulkBusinessDto, CampaignDto, FollowersDto, WorkflowDto
from reconciler.sandbox.errors import read_body, unprocessable
from reconciler.sandbox.gateway import current
from reconciler.sandbox.views import list_item_view

router = APIRouter()


@router.post("/contacts/{contactId}/followers", status_code=201)
async def add_followers(contactId: str, request: Request) -> JSONResponse:
    call = current(request)
    dto = await read_body(request, FollowersDto)
    followers, added = call.location.change_followers(contactId, dto.followers, add=True)
    return JSONResponse({"followers": followers, "followersAdded": added}, status_code=201)


@router.delete("/contacts/{contactId}/followers")
async def remove_followers(contactId: str, request: Request) -> JSONResponse:
    call = current(request)
    dto = await read_body(request, FollowersDto)
    followers, removed = call.location.change_followers(contactId, dto.followers, add=False)
    return JSONResponse({"followers": followers, "followersRemoved": removed})


@router.delete("/contacts/{contactId}/campaigns/removeAll")
async def leave_every_campaign(contactId: str, request: Request) -> JSONResponse:
    call = current(request)
    call.location.contact(contactId)
    call.location.campaigns.pop(contactId, None)
    return JSONResponse({"succeded": True})


@router.post("/contacts/{contactId}/campaigns/{campaignId}", status_code=201)
async def join_campaign(contactId: str, campaignId: str, request: Request) -> JSONResponse:
    call = current(request)
    await read_body(request, CampaignDto)
    call.location.contact(contactId)
    call.location.campaigns.setdefault(contactId, set()).add(campaignId)
    return JSONResponse({"succeded": True}, status_code=201)


@router.delete("/contacts/{contactId}/campaigns/{campaignId}")
async def leave_campaign(contactId: str, campaignId: str, request: Request) -> JSONResponse:
    call = current(request)
    call.location.contact(contactId)
    call.location.campaigns.get(contactId, set()).discard(campaignId)
    return JSONResponse({"succeded": True})


@router.post("/contacts/{contactId}/workflow/{workflowId}")
async def join_workflow(contactId: str, workflowId: str, request: Request) -> JSONResponse:
    call = current(request)
    await read_body(request, WorkflowDto)
    call.location.contact(contactId)
    call.location.workflows.setdefault(contactId, set()).add(workflowId)
    return JSONResponse({"succeded": True})


@router.delete("/contacts/{contactId}/workflow/{workflowId}")
async def leave_workflow(contactId: str, workflowId: str, request: Request) -> JSONResponse:
    call = current(request)
    await read_body(request, WorkflowDto)
    call.location.contact(contactId)
    call.location.workflows.get(contactId, set()).discard(workflowId)
    return JSONResponse({"succeded": True})


@router.get("/contacts/business/{businessId}")
async def business_contacts(businessId: str, request: Request) -> JSONResponse:
    """Contacts of one business (a scan: this endpoint is rare and not on any sync path)."""
    call = current(request)
    params = request.query_params
    allowed = {"locationId", "limit", "skip", "query"}
    problems = [f"property {k} should not exist" for k in params if k not in allowed]
    if not params.get("locationId"):
        problems.append("locationId should not be empty")
    numbers: dict[str, int] = {}
    for name, default in (("limit", 25), ("skip", 0)):
        raw = params.get(name, str(default))
        if not raw.isdigit():
            problems.append(f"{name} must be a non-negative integer")
        else:
            numbers[name] = int(raw)
    if problems:
        raise unprocessable(problems)
    require_location(call.grant, params["locationId"])
    needle = (params.get("query") or "").lower()
    matches = [
        c
        for c in sorted(call.location.contacts.values(), key=lambda c: (c.added_ms, c.id))
        if c.fields.get("businessId") == businessId
        and (
            not needle
            or needle in c.full_name().lower()
            or needle in (c.fields.get("email") or "").lower()
        )
    ]
    page = matches[numbers["skip"] : numbers["skip"] + numbers["limit"]]
    return JSONResponse({"contacts": [list_item_view(c) for c in page], "count": len(matches)})


@router.post("/contacts/bulk/business")
async def bulk_business(request: Request) -> JSONResponse:
    call = current(request)
    dto = await read_body(request, BulkBusinessDto)
    require_location(call.grant, dto.locationId)
    done = []
    for contact_id in dict.fromkeys(dto.ids):
        if contact_id in call.location.contacts:
            call.location.set_business(contact_id, dto.businessId)
            done.append(contact_id)
    return JSONResponse({"success": True, "ids": done})
