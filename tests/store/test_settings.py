"""Settings: environment and TOML sources, one-line errors naming the setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.errors import ConfigError
from reconciler.settings import Settings, load_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    # Settings read the process environment: start each test from none of ours.
    for name in (
        "ENV",
        "DATA_DIR",
        "DATABASE_URL",
        "SECRET_KEY",
        "LOG_LEVEL",
        "LOG_JSON",
        "CONFIG",
    ):
        monkeypatch.delenv(f"RECONCILER_{name}", raising=False)


def test_defaults_put_the_database_under_data_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECONCILER_DATA_DIR", "/srv/rec")
    settings = load_settings()
    assert settings.database_url == "sqlite+aiosqlite:////srv/rec/reconciler.db"
    assert settings.env == "development"
    assert settings.key_file == Path("/srv/rec/secret.key")


def test_plain_driver_urls_become_async_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECONCILER_DATABASE_URL", "postgresql://u@db:5432/rec")
    assert load_settings().database_url == "postgresql+psycopg://u@db:5432/rec"


def test_toml_file_below_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "reconciler.toml"
    config.write_text('log_level = "debug"\nlog_json = true\nenv = "test"\n')
    monkeypatch.setenv("RECONCILER_CONFIG", str(config))
    monkeypatch.setenv("RECONCILER_ENV", "development")
    settings = load_settings()
    assert (settings.log_level, settings.log_json, settings.env) == ("DEBUG", True, "development")


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("RECONCILER_LOG_LEVEL", "chatty", "invalid setting RECONCILER_LOG_LEVEL: Input should be"),
        ("RECONCILER_DATABASE_URL", "mysql://x/y", "invalid setting RECONCILER_DATABASE_URL: must"),
        ("RECONCILER_LOG_JSON", "maybe", "invalid setting RECONCILER_LOG_JSON:"),
        ("RECONCILER_ENV", "production", "invalid setting RECONCILER_SECRET_KEY: required when"),
    ],
)
def test_invalid_settings_are_one_line_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    text = str(caught.value)
    assert text.startswith(message)
    assert "\n" not in text


def test_production_with_a_key_is_fine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECONCILER_ENV", "production")
    monkeypatch.setenv("RECONCILER_SECRET_KEY", "sekrit-value")
    settings = load_settings()
    assert settings.secret_key is not None
    assert settings.secret_key.get_secret_value() == "sekrit-value"
    assert "sekrit-value" not in repr(settings)


def test_unknown_key_in_config_file_is_named(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = tmp_path / "reconciler.toml"
    config.write_text('databse_url = "sqlite:///x.db"\n')
    monkeypatch.setenv("RECONCILER_CONFIG", str(config))
    with pytest.raises(ConfigError, match="RECONCILER_DATABSE_URL: unknown setting"):
        load_settings()


def test_missing_or_broken_config_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("RECONCILER_CONFIG", str(tmp_path / "absent.toml"))
    with pytest.raises(ConfigError, match="RECONCILER_CONFIG: cannot read"):
        load_settings()
    broken = tmp_path / "broken.toml"
    broken.write_text("log_level = \n")
    monkeypatch.setenv("RECONCILER_CONFIG", str(broken))
    with pytest.raises(ConfigError, match=r"RECONCILER_CONFIG: .* is not valid TOML"):
        load_settings()


def test_keyword_overrides_win() -> None:
    settings = load_settings(env="test", data_dir=Path("/tmp/x"))
    assert isinstance(settings, Settings)
    assert settings.database_url.endswith("/tmp/x/reconciler.db")
