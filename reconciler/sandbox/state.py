"""The ``Sandbox`` handle: every location, the tokens, limits, faults, webhooks and the clock.

``create_app`` puts one at ``app.state.sandbox``; tests and other engineers drive the sandbox
through it (issue tokens, inject faults, change settings, move the clock, read state).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from typing import Any

from reconciler.sandbox.auth import TokenStore
from reconciler.sandbox.clock import Clock
from reconciler.sandbox.config import (
    CONTACT_SCOPES,
    AppConfig,
    LocationConfig,
    LocationSettings,
    SandboxConfig,
)
from reconciler.sandbox.faults import FaultInjector, FaultSettings
from reconciler.sandbox.ids import IdFactory, secret_token, stable_id
from reconciler.sandbox.persistence import Saver, dump_state, read_state_file, restore_state
from reconciler.sandbox.ratelimit import Limits, RateLimiter
from reconciler.sandbox.seed import seed_location
from reconciler.sandbox.store import Location
from reconciler.sandbox.views import contact_view, note_view, task_view
from reconciler.sandbox.webhooks import WebhookDispatcher, WebhookKeys

log = logging.getLogger(__name__)


class UnknownLocationError(KeyError):
    """A location id the sandbox does not have."""


class Sandbox:
    def __init__(self, config: SandboxConfig | None = None) -> None:
        self.config = config or SandboxConfig()
        cfg = self.config
        self.clock = cfg.clock or Clock()
        self.admin_key = cfg.admin_key or secret_token("sbx-admin-", 32)
        self.apps: dict[str, AppConfig] = {a.client_id: a.model_copy(deep=True) for a in cfg.apps}
        self.company_id = stable_id("company", str(cfg.seed))
        self.tokens = TokenStore(
            clock=self.clock,
            apps=self.apps,
            company_id=self.company_id,
            access_ttl=cfg.access_token_ttl_seconds,
            refresh_ttl=cfg.refresh_token_ttl_seconds,
            code_ttl=cfg.authorization_code_ttl_seconds,
        )
        self.limiter = RateLimiter(self.clock)
        self.keys = WebhookKeys(cfg.rsa_key_bits)
        self.webhooks = WebhookDispatcher(
            self.keys,
            self.clock,
            timeout=cfg.webhook_timeout_seconds,
            retry_delay=cfg.webhook_retry_delay_seconds,
            max_attempts=cfg.webhook_max_attempts,
        )
        self._locations: dict[str, Location] = {}
        self.faults: dict[str, FaultInjector] = {}
        self.saver = Saver(self, cfg.persist_path, cfg.persist_interval_seconds)
        stored = read_state_file(cfg.persist_path) if cfg.persist_path else None
        if stored is not None:
            restore_state(self, stored)
        else:
            self._build_locations()
            # A new state file is written at the first save, even before any write.
            self.saver.dirty = cfg.persist_path is not None
        if any(app.webhook_urls for app in self.apps.values()):
            self.keys.public_pems()  # made now, not inside the first delivery

    # ----- construction --------------------------------------------------------------------
    def _build_locations(self) -> None:
        cfg = self.config
        explicit = cfg.location_configs or [LocationConfig() for _ in range(cfg.locations)]
        location_ids = IdFactory(f"{cfg.seed}:locations")
        for i, lc in enumerate(explicit):
            location_id = lc.id or location_ids.new()
            location = self.add_location(
                location_id, lc.name or f"Sandbox location {i + 1}", lc.settings.model_copy()
            )
            count = cfg.contacts_per_location if lc.contacts is None else lc.contacts
            seed_location(
                location,
                seed=cfg.seed,
                count=count,
                max_notes=cfg.max_notes_per_contact,
                max_tasks=cfg.max_tasks_per_contact,
            )

    def add_location(
        self, location_id: str, name: str, settings: LocationSettings, *, restored: bool = False
    ) -> Location:
        # After a restore the id sequence must not replay ids handed out before the restart.
        id_seed = f"{self.config.seed}:{location_id}" + (f":{uuid.uuid4()}" if restored else "")
        location = Location(
            location_id,
            name,
            settings,
            clock=self.clock,
            ids=IdFactory(id_seed),
            listener=lambda event, payload: self._on_event(location_id, event, payload),
        )
        self._locations[location_id] = location
        self.faults[location_id] = FaultInjector(f"{self.config.seed}:{location_id}")
        return location

    # ----- the public handle ---------------------------------------------------------------
    @property
    def locations(self) -> list[str]:
        return list(self._locations)

    def location(self, location_id: str) -> Location:
        try:
            return self._locations[location_id]
        except KeyError:
            raise UnknownLocationError(location_id) from None

    @property
    def oauth_app(self) -> AppConfig:
        """The first configured app (client_id, client_secret, redirect_uris, scopes)."""
        return next(iter(self.apps.values()))

    def private_token(self, location_id: str, scopes: Iterable[str] = CONTACT_SCOPES) -> str:
        self.location(location_id)
        token = self.tokens.issue_private_token(location_id, list(scopes))
        self.saver.mark_dirty()
        return token

    def set_faults(self, location_id: str, **probabilities: Any) -> FaultSettings:
        """E.g. ``set_faults(loc, server_error=0.5, seed=3)``; see ``faults.FaultSettings``."""
        self.location(location_id)
        return self.faults[location_id].configure(**probabilities)

    def update_settings(self, location_id: str, **settings: Any) -> LocationSettings:
        location = self.location(location_id)
        merged = location.settings.model_dump() | settings
        location.settings = LocationSettings.model_validate(merged)
        self.saver.mark_dirty()
        return location.settings

    def add_webhook(self, url: str, client_id: str | None = None) -> None:
        app = self.apps[client_id] if client_id else self.oauth_app
        if url not in app.webhook_urls:
            app.webhook_urls.append(url)
        # Make the signing keys now (RSA takes a while), not inside the first delivery.
        self.keys.public_pems()
        self.saver.mark_dirty()

    def limits_for(self, location_id: str) -> Limits:
        s = self.location(location_id).settings
        cfg = self.config
        return Limits(
            max=s.rate_limit_max or cfg.rate_limit_max,
            interval_seconds=s.rate_limit_interval_seconds or cfg.rate_limit_interval_seconds,
            daily=s.rate_limit_daily or cfg.rate_limit_daily,
        )

    def default_limits(self) -> Limits:
        cfg = self.config
        return Limits(cfg.rate_limit_max, cfg.rate_limit_interval_seconds, cfg.rate_limit_daily)

    def public_keys(self) -> dict[str, str]:
        return self.keys.public_pems()

    # ----- read access for assertions (live state, no search lag) ---------------------------
    def contacts(self, location_id: str) -> list[dict[str, Any]]:
        location = self.location(location_id)
        ordered = sorted(location.contacts.values(), key=lambda c: (c.added_ms, c.id))
        return [contact_view(c) for c in ordered]

    def notes(self, location_id: str, contact_id: str) -> list[dict[str, Any]]:
        return [note_view(n) for n in self.location(location_id).list_notes(contact_id)]

    def tasks(self, location_id: str, contact_id: str) -> list[dict[str, Any]]:
        return [task_view(t) for t in self.location(location_id).list_tasks(contact_id)]

    def export_state(self) -> dict[str, Any]:
        """Everything but secrets (tokens, private keys): for tests and debugging."""
        return dump_state(self, include_secrets=False)

    # ----- events and lifecycle ------------------------------------------------------------
    def _on_event(self, location_id: str, event: str, payload: dict[str, Any]) -> None:
        self.saver.mark_dirty()
        faults = self.faults[location_id]
        for app in self.apps.values():
            for url in app.webhook_urls:
                if faults.drop_webhook():
                    self.webhooks.dropped(url, payload)
                else:
                    self.webhooks.enqueue(url, payload)

    async def drain_webhooks(self) -> None:
        await self.webhooks.drain()

    async def aclose(self) -> None:
        """Stop background work and save the state file (idempotent)."""
        await self.webhooks.aclose()
        await self.saver.aclose()
