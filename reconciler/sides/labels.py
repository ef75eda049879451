"""Endpoint labels for request accounting, the same for every side.

The memory side counts its calls under HighLevel's endpoint names so that a benchmark or an
engine test reads the same ``SideUsage`` whichever side it ran against.
"""

from __future__ import annotations

from typing import Final

SEARCH: Final = "POST /contacts/search"
DUPLICATE_CHECK: Final = "GET /contacts/search/duplicate"
GET_CONTACT: Final = "GET /contacts/{contactId}"
CREATE_CONTACT: Final = "POST /contacts/"
UPDATE_CONTACT: Final = "PUT /contacts/{contactId}"
DELETE_CONTACT: Final = "DELETE /contacts/{contactId}"
ADD_TAGS: Final = "POST /contacts/{contactId}/tags"
REMOVE_TAGS: Final = "DELETE /contacts/{contactId}/tags"
LIST_NOTES: Final = "GET /contacts/{contactId}/notes"
CREATE_NOTE: Final = "POST /contacts/{contactId}/notes"
UPDATE_NOTE: Final = "PUT /contacts/{contactId}/notes/{id}"
DELETE_NOTE: Final = "DELETE /contacts/{contactId}/notes/{id}"
LIST_TASKS: Final = "GET /contacts/{contactId}/tasks"
CREATE_TASK: Final = "POST /contacts/{contactId}/tasks"
UPDATE_TASK: Final = "PUT /contacts/{contactId}/tasks/{taskId}"
COMPLETE_TASK: Final = "PUT /contacts/{contactId}/tasks/{taskId}/completed"
DELETE_TASK: Final = "DELETE /contacts/{contactId}/tasks/{taskId}"
OAUTH_REFRESH: Final = "POST /oauth/token"
