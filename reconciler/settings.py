"""The service's settings: one pydantic-settings ``Settings``, loaded by ``load_settings()``.

Sources, strongest first: keyword arguments, ``RECONCILER_*`` environment variables, the TOML
file named by ``RECONCILER_CONFIG`` (keys are the field names, e.g. ``database_url = "..."``),
then the defaults below. Any invalid or missing setting becomes one ``ConfigError`` whose
one-line message names the environment variable to fix.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from reconciler.errors import ConfigError

ENV_PREFIX = "RECONCILER_"
CONFIG_FILE_VAR = "RECONCILER_CONFIG"

# HighLevel's published key for the legacy ``x-wh-signature`` (RSA-SHA256), from
# docs/oauth/WebhookAuthentication.md.
HIGHLEVEL_WEBHOOK_RSA_KEY = """-----BEGIN PUBLIC KEY-----
MIICIjANBgkqhkiG9w0BAQEFAAOCAg8AMIICCgKCAgEAokvo/r9tVgcfZ5DysOSC
Frm602qYV0MaAiNnX9O8KxMbiyRKWeL9JpCpVpt4XHIcBOK4u3cLSqJGOLaPuXw6
dO0t6Q/ZVdAV5Phz+ZtzPL16iCGeK9po6D6JHBpbi989mmzMryUnQJezlYJ3DVfB
csedpinheNnyYeFXolrJvcsjDtfAeRx5ByHQmTnSdFUzuAnC9/GepgLT9SM4nCpv
uxmZMxrJt5Rw+VUaQ9B8JSvbMPpez4peKaJPZHBbU3OdeCVx5klVXXZQGNHOs8gF
3kvoV5rTnXV0IknLBXlcKKAQLZcY/Q9rG6Ifi9c+5vqlvHPCUJFT5XUGG5RKgOKU
J062fRtN+rLYZUV+BjafxQauvC8wSWeYja63VSUruvmNj8xkx2zE/Juc+yjLjTXp
IocmaiFeAO6fUtNjDeFVkhf5LNb59vECyrHD2SQIrhgXpO4Q3dVNA5rw576PwTzN
h/AMfHKIjE4xQA1SZuYJmNnmVZLIZBlQAF9Ntd03rfadZ+yDiOXCCs9FkHibELhC
HULgCsnuDJHcrGNd5/Ddm5hxGQ0ASitgHeMZ0kcIOwKDOzOU53lDza6/Y09T7sYJ
PQe7z0cvj7aE4B+Ax1ZoZGPzpJlZtGXCsu9aTEGEnKzmsFqwcSsnw3JB31IGKAyk
T1hhTiaCeIY/OwwwNUY2yvcCAwEAAQ==
-----END PUBLIC KEY-----
"""

Environment = Literal["development", "test", "production"]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]

# Plain driver names people type, mapped to the async drivers the store runs on.
_ASYNC_SCHEMES = {
    "sqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
    "postgres": "postgresql+psycopg",
    "postgresql": "postgresql+psycopg",
    "postgresql+psycopg": "postgresql+psycopg",
}


def normalise_database_url(url: str) -> str:
    """The async-driver form of a database URL; ``ValueError`` for an unsupported one."""
    scheme, sep, rest = url.strip().partition("://")
    if not sep or scheme.lower() not in _ASYNC_SCHEMES:
        raise ValueError(
            f"must start with sqlite+aiosqlite:/// or postgresql+psycopg:// (got scheme {scheme!r})"
        )
    return f"{_ASYNC_SCHEMES[scheme.lower()]}://{rest}"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        extra="forbid",
        validate_default=True,
        frozen=True,
    )

    env: Environment = "development"
    data_dir: Path = Path("var")
    # Default (None): a SQLite file in data_dir, filled in by the validator below.
    database_url: str = Field(default="", validate_default=False)
    # Comma-separated Fernet keys, newest first (older ones still decrypt: key rotation).
    # Unset outside production: a key file under data_dir is generated once and reused.
    secret_key: SecretStr | None = None
    log_level: LogLevel = "INFO"
    log_json: bool = False

    # --- the service process (reconciler.service) -------------------------------------------
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    # How people and HighLevel reach this service (OAuth redirect, printed URLs); default
    # http://host:port.
    public_url: str | None = None
    # Names this process in pair leases; default host:pid:random (unique per start).
    instance_id: str | None = Field(default=None, min_length=1, max_length=200)
    # False: serve the API and webhooks only (e.g. an API-only replica); runs happen elsewhere.
    scheduler_enabled: bool = True
    auto_migrate: bool = True
    # Pairs' schedules: new pairs get the default; the scheduler never runs a pair more often
    # than the minimum (a pair's interval below it is raised to it).
    schedule_interval_s: int = Field(default=300, ge=1)
    schedule_min_interval_s: int = Field(default=60, ge=1)
    schedule_max_interval_s: int = Field(default=900, ge=1)
    schedule_jitter_s: float = Field(default=15.0, ge=0)
    schedule_misfire_grace_s: int = Field(default=120, ge=1)
    # How often each process re-reads the pairs (new pairs, changed intervals, paused ones).
    schedule_refresh_s: float = Field(default=30.0, gt=0)
    # A pair's lease lasts this long unless renewed (renewed every third of it during a run);
    # a dead process's pairs are taken over at most this long after its last renewal.
    lease_ttl_s: float = Field(default=60.0, gt=0)
    # At shutdown, runs in progress get this long to finish before they are cancelled (the
    # journal makes a cancelled run safe to finish later).
    shutdown_grace_s: float = Field(default=10.0, ge=0)

    # --- webhooks (POST /webhooks/highlevel) ------------------------------------------------
    webhook_tolerance_s: int = Field(default=300, ge=1)
    webhook_debounce_s: float = Field(default=2.0, ge=0)
    # However many webhooks keep coming, their run starts at most this long after the first.
    webhook_max_wait_s: float = Field(default=10.0, ge=0)
    # Public keys, PEM text or the path of a PEM file. Unset Ed25519: x-ghl-signature cannot
    # be checked (x-wh-signature still can); RSA defaults to HighLevel's published key.
    webhook_ed25519_public_key: str | None = None
    webhook_rsa_public_key: str | None = HIGHLEVEL_WEBHOOK_RSA_KEY

    # --- OAuth install (GET /oauth/start, /oauth/callback) ---------------------------------
    highlevel_base_url: str = "https://services.leadconnectorhq.com"
    oauth_authorize_url: str = "https://marketplace.gohighlevel.com/oauth/chooselocation"
    oauth_client_id: str | None = None
    oauth_client_secret: SecretStr | None = None
    # Default: {public_url}/oauth/callback.
    oauth_redirect_uri: str | None = None
    oauth_scopes: str = "contacts.readonly contacts.write"
    oauth_state_ttl_s: int = Field(default=600, ge=10)

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        return normalise_database_url(value) if value else value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_log_level(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @field_validator("webhook_ed25519_public_key", "webhook_rsa_public_key")
    @classmethod
    def _public_key(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None or not value.strip():
            return None
        ed = info.field_name == "webhook_ed25519_public_key"
        return _public_key_pem(value, "ed25519" if ed else "rsa")

    @field_validator(
        "public_url", "highlevel_base_url", "oauth_authorize_url", "oauth_redirect_uri"
    )
    @classmethod
    def _http_url(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        value = value.strip()
        if not value.startswith(("http://", "https://")) or len(value) < 10:
            raise ValueError("must be an http:// or https:// URL")
        # Base URLs get paths appended: no trailing slash.
        return (
            value.rstrip("/") if info.field_name in ("public_url", "highlevel_base_url") else value
        )

    @model_validator(mode="after")
    def _defaults_and_production(self) -> Settings:
        if not self.database_url:
            path = (self.data_dir / "reconciler.db").as_posix()
            # The model is frozen: set the derived default the one way pydantic allows.
            object.__setattr__(self, "database_url", f"sqlite+aiosqlite:///{path}")
        if self.schedule_min_interval_s > self.schedule_max_interval_s:
            raise ValueError("schedule_min_interval_s: is above schedule_max_interval_s")
        if not self.schedule_min_interval_s <= self.schedule_interval_s:
            raise ValueError("schedule_interval_s: is below schedule_min_interval_s")
        if self.env == "production" and self.secret_key is None:
            # A cross-field check has no location: its message starts with the field it blames.
            raise ValueError("secret_key: required when env=production")
        return self

    @property
    def service_url(self) -> str:
        """Where this service is reached: ``public_url``, else http://host:port."""
        if self.public_url:
            return self.public_url
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def redirect_uri(self) -> str:
        """The OAuth redirect URI registered with the HighLevel app."""
        return self.oauth_redirect_uri or f"{self.service_url}/oauth/callback"

    @property
    def key_file(self) -> Path:
        """Where the generated encryption key lives when ``secret_key`` is unset."""
        return self.data_dir / "secret.key"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = os.environ.get(CONFIG_FILE_VAR)
        if config_file:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=Path(config_file)))
        return tuple(sources)


def _public_key_pem(value: str, kind: Literal["ed25519", "rsa"]) -> str:
    """A webhook public key as PEM text, from PEM text or a PEM file's path; checked."""
    # cryptography is imported here: settings load in every process, keys rarely.
    from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    text = value.strip()
    if not text.startswith("-----BEGIN"):
        try:
            text = Path(text).expanduser().read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise ValueError("is neither PEM text nor a readable PEM file") from exc
    try:
        key = load_pem_public_key(text.encode("ascii"))
    except (ValueError, UnicodeEncodeError, TypeError) as exc:
        raise ValueError("is not a PEM public key") from exc
    expected = ed25519.Ed25519PublicKey if kind == "ed25519" else rsa.RSAPublicKey
    if not isinstance(key, expected):
        raise ValueError(f"is not an {kind.upper()} public key")
    return text + "\n"


def load_settings(**overrides: Any) -> Settings:
    """The settings from the environment (and config file), or one ``ConfigError``."""
    config_file = os.environ.get(CONFIG_FILE_VAR)
    if config_file:
        _check_config_file(Path(config_file))
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise _config_error(exc) from exc


def _check_config_file(path: Path) -> None:
    # TomlConfigSettingsSource silently ignores a missing file and lets TOML syntax errors
    # escape as foreign exceptions; a named config file that cannot be read is an error.
    try:
        with path.open("rb") as handle:
            tomllib.load(handle)
    except OSError as exc:
        raise ConfigError(CONFIG_FILE_VAR, f"cannot read {path}: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(CONFIG_FILE_VAR, f"{path} is not valid TOML: {exc}") from exc


def _config_error(exc: ValidationError) -> ConfigError:
    errors = exc.errors(include_url=False, include_input=False)
    first = errors[0]
    loc = [str(part) for part in first["loc"]]
    field = loc[0] if loc else ""
    message = str(first["msg"]).removeprefix("Value error, ")
    if not field and ": " in message:
        field, _, message = message.partition(": ")
    setting = f"{ENV_PREFIX}{field.upper()}" if field else "settings"
    if first["type"] == "extra_forbidden":
        message = "unknown setting"
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return ConfigError(setting, " ".join(f"{message}{more}".split()))
