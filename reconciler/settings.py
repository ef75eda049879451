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

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from reconciler.errors import ConfigError

ENV_PREFIX = "RECONCILER_"
CONFIG_FILE_VAR = "RECONCILER_CONFIG"

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

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        return normalise_database_url(value) if value else value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_log_level(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _defaults_and_production(self) -> Settings:
        if not self.database_url:
            path = (self.data_dir / "reconciler.db").as_posix()
            # The model is frozen: set the derived default the one way pydantic allows.
            object.__setattr__(self, "database_url", f"sqlite+aiosqlite:///{path}")
        if self.env == "production" and self.secret_key is None:
            # A cross-field check has no location: its message starts with the field it blames.
            raise ValueError("secret_key: required when env=production")
        return self

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
