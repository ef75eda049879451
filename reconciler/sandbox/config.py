"""Configuration of one sandbox: apps, locations, seeded data, limits, keys and persistence.

Everything has a default, so ``SandboxConfig()`` is a one-location sandbox with one OAuth app,
no seeded contacts, HighLevel's rate limits and a running wall clock.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from reconciler.sandbox.clock import Clock

READ_SCOPE = "contacts.readonly"
WRITE_SCOPE = "contacts.write"
CONTACT_SCOPES: tuple[str, ...] = (READ_SCOPE, WRITE_SCOPE)


class LocationSettings(BaseModel):
    """Per-location behaviour, changeable at run time (admin endpoint or ``update_settings``).

    The ``rate_limit_*`` fields override the sandbox-wide limits for this location when set.
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    allow_duplicates: bool = False
    search_lag_seconds: float = Field(default=0.0, ge=0)
    note_changes_touch_contact: bool = False
    rate_limit_max: int | None = Field(default=None, ge=1)
    rate_limit_interval_seconds: float | None = Field(default=None, gt=0)
    rate_limit_daily: int | None = Field(default=None, ge=1)


class LocationConfig(BaseModel):
    """One location given explicitly; unset fields fall back to the sandbox-wide values."""

    model_config = ConfigDict(extra="forbid")

    id: str | None = Field(default=None, min_length=1)
    name: str | None = None
    contacts: int | None = Field(default=None, ge=0)
    settings: LocationSettings = Field(default_factory=LocationSettings)


class AppConfig(BaseModel):
    """A marketplace app: OAuth credentials, allowed redirect URIs and scopes, webhook URLs."""

    model_config = ConfigDict(extra="forbid")

    client_id: str = Field(min_length=1)
    client_secret: str = Field(min_length=1)
    name: str = "Sandbox app"
    redirect_uris: list[str] = Field(
        default_factory=lambda: ["http://127.0.0.1:8000/oauth/callback"]
    )
    scopes: list[str] = Field(default_factory=lambda: list(CONTACT_SCOPES))
    webhook_urls: list[str] = Field(default_factory=list)


def default_app(seed: int) -> AppConfig:
    """The app a sandbox gets when none is configured; derived from the seed (reproducible)."""
    digest = hashlib.sha256(f"sandbox-app:{seed}".encode()).hexdigest()
    return AppConfig(
        client_id=f"{digest[:24]}-{digest[24:32]}",
        client_secret=f"{digest[32:40]}-{digest[40:44]}-{digest[44:48]}-{digest[48:64]}",
        name="Reconciler sandbox app",
    )


class SandboxConfig(BaseModel):
    """The whole sandbox. ``locations`` is a count; ``location_configs`` lists them explicitly
    (when given, it wins and its length is the number of locations)."""

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)

    seed: int = 7
    locations: int = Field(default=1, ge=1)
    location_configs: list[LocationConfig] = Field(default_factory=list)
    contacts_per_location: int = Field(default=0, ge=0)
    max_notes_per_contact: int = Field(default=3, ge=0)
    max_tasks_per_contact: int = Field(default=1, ge=0)
    apps: list[AppConfig] = Field(default_factory=list)

    rate_limit_max: int = Field(default=100, ge=1)
    rate_limit_interval_seconds: float = Field(default=10.0, gt=0)
    rate_limit_daily: int = Field(default=200_000, ge=1)

    access_token_ttl_seconds: int = Field(default=86399, ge=1)
    refresh_token_ttl_seconds: int = Field(default=365 * 86400, ge=1)
    authorization_code_ttl_seconds: int = Field(default=600, ge=1)

    # None: a random key is made at start (the CLI prints it).
    admin_key: str | None = None
    persist_path: Path | None = None
    persist_interval_seconds: float = Field(default=2.0, gt=0)
    # None: a running wall clock.
    clock: Clock | None = None

    webhook_timeout_seconds: float = Field(default=5.0, gt=0)
    webhook_retry_delay_seconds: float = Field(default=1.0, ge=0)
    webhook_max_attempts: int = Field(default=3, ge=1)
    # RSA key size for the legacy x-wh-signature (HighLevel's own key is 4096 bits).
    rsa_key_bits: int = Field(default=2048, ge=1024)

    @model_validator(mode="after")
    def _fill_defaults(self) -> SandboxConfig:
        if not self.apps:
            self.apps = [default_app(self.seed)]
        if self.location_configs:
            self.locations = len(self.location_configs)
        return self
