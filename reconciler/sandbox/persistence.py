"""The optional state file: load at start, save at shutdown and at most every few seconds.

The file holds everything needed to resume (records, settings, webhook URLs, tokens, signing
keys), written atomically (temporary file, then rename) so a crash never leaves half a file.
The admin export uses the same dump without the secrets.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reconciler.errors import ConfigError
from reconciler.sandbox.config import LocationSettings
from reconciler.sandbox.records import Contact, Note, Task

if TYPE_CHECKING:
    from reconciler.sandbox.state import Sandbox

log = logging.getLogger(__name__)
FORMAT_VERSION = 1


def dump_state(sandbox: Sandbox, *, include_secrets: bool) -> dict[str, Any]:
    locations = []
    for location_id in sandbox.locations:
        loc = sandbox.location(location_id)
        locations.append(
            {
                "id": loc.id,
                "name": loc.name,
                "settings": loc.settings.model_dump(),
                "faults": sandbox.faults[loc.id].settings.model_dump(),
                "contacts": [
                    {
                        "id": c.id,
                        "addedMs": c.added_ms,
                        "updatedMs": c.updated_ms,
                        "fields": c.fields,
                    }
                    for c in loc.contacts.values()
                ],
                "notes": [
                    {
                        "id": n.id,
                        "contactId": n.contact_id,
                        "body": n.body,
                        "addedMs": n.added_ms,
                        "userId": n.user_id,
                        "title": n.title,
                        "color": n.color,
                        "pinned": n.pinned,
                    }
                    for notes in loc.notes.values()
                    for n in notes.values()
                ],
                "tasks": [
                    {
                        "id": t.id,
                        "contactId": t.contact_id,
                        "title": t.title,
                        "dueDate": t.due_date,
                        "completed": t.completed,
                        "addedMs": t.added_ms,
                        "body": t.body,
                        "assignedTo": t.assigned_to,
                    }
                    for tasks in loc.tasks.values()
                    for t in tasks.values()
                ],
                "searchPending": loc.index.pending,
            }
        )
    data: dict[str, Any] = {
        "version": FORMAT_VERSION,
        "savedAt": sandbox.clock.iso(),
        "webhookUrls": {cid: list(app.webhook_urls) for cid, app in sandbox.apps.items()},
        "locations": locations,
    }
    if include_secrets:
        data["tokens"] = sandbox.tokens.dump()
        data["keys"] = sandbox.keys.private_pems()
    else:
        data["webhookDeliveries"] = [
            {
                "url": d.url,
                "event": d.event,
                "webhookId": d.webhook_id,
                "status": d.status,
                "attempts": d.attempts,
                "outcome": d.outcome,
            }
            for d in sandbox.webhooks.deliveries
        ]
    return data


def read_state_file(path: Path | None) -> dict[str, Any] | None:
    if path is None or not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError("persist_path", f"{path} is not a readable sandbox state: {exc}") from exc
    if not isinstance(data, dict) or data.get("version") != FORMAT_VERSION:
        raise ConfigError("persist_path", f"{path} is not a sandbox state file (version 1)")
    return data


def restore_state(sandbox: Sandbox, data: dict[str, Any]) -> None:
    from reconciler.sandbox.webhooks import WebhookKeys

    for client_id, urls in data.get("webhookUrls", {}).items():
        if client_id in sandbox.apps:
            for url in urls:
                sandbox.add_webhook(url, client_id)
    if "keys" in data:
        sandbox.keys = WebhookKeys(
            sandbox.config.rsa_key_bits,
            ed25519_pem=data["keys"]["ed25519"],
            rsa_pem=data["keys"]["rsa"],
        )
        sandbox.webhooks.keys = sandbox.keys
    sandbox.tokens.load(data.get("tokens", {}))
    for item in data["locations"]:
        loc = sandbox.add_location(
            item["id"],
            item["name"],
            LocationSettings.model_validate(item["settings"]),
            restored=True,
        )
        sandbox.faults[loc.id].configure(**item.get("faults", {}))
        for c in item["contacts"]:
            contact = Contact(c["id"], loc.id, c["addedMs"], c["updatedMs"], c["fields"])
            loc.contacts[contact.id] = contact
            loc._index(contact)
            loc.index.stage(contact.id, contact.snapshot(), sandbox.clock.now(), 0.0)
        for n in item["notes"]:
            note = Note(
                n["id"],
                n["contactId"],
                n["body"],
                n["addedMs"],
                n.get("userId"),
                n.get("title"),
                n.get("color"),
                n.get("pinned"),
            )
            loc.notes.setdefault(note.contact_id, {})[note.id] = note
        for t in item["tasks"]:
            task = Task(
                t["id"],
                t["contactId"],
                t["title"],
                t["dueDate"],
                t["completed"],
                t["addedMs"],
                t.get("body"),
                t.get("assignedTo"),
            )
            loc.tasks.setdefault(task.contact_id, {})[task.id] = task


def write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


class Saver:
    """Debounced saving: a write marks the state dirty; a background task saves it at most
    once per ``interval`` seconds; ``flush()`` saves now (shutdown)."""

    def __init__(self, sandbox: Sandbox, path: Path | None, interval: float) -> None:
        self.sandbox = sandbox
        self.path = path
        self.interval = interval
        self.dirty = False
        self._task: asyncio.Task[None] | None = None

    def mark_dirty(self) -> None:
        if self.path is None:
            return
        self.dirty = True
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        if self._task is None or self._task.done():
            self._task = loop.create_task(self._save_later(), name="sandbox-saver")

    async def _save_later(self) -> None:
        await asyncio.sleep(self.interval)
        await self.flush()

    async def flush(self) -> None:
        if self.path is None or not self.dirty:
            return
        self.dirty = False
        # Serialise on the loop (a consistent snapshot), write in a thread (no blocking).
        text = json.dumps(dump_state(self.sandbox, include_secrets=True), separators=(",", ":"))
        try:
            await asyncio.to_thread(write_atomically, self.path, text)
        except OSError:
            # Keep the state marked unsaved: the next write or the shutdown tries again.
            self.dirty = True
            log.exception("could not save the sandbox state to %s", self.path)

    def flush_sync(self) -> None:
        if self.path is not None:
            text = json.dumps(dump_state(self.sandbox, include_secrets=True))
            write_atomically(self.path, text)
            self.dirty = False

    async def aclose(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._task = None
        await self.flush()
