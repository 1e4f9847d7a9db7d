"""Settings from CADENZA_ variables and an optional TOML file; secrets stay secret."""

from __future__ import annotations

from pathlib import Path

import pytest

from cadenza.config import Settings, config_file, get_settings
from cadenza.errors import ConfigurationError


@pytest.fixture(autouse=True)
def fresh_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    for name in ("CADENZA_CONFIG", "CADENZA_DEFAULT_MODEL", "CADENZA_LOG_LEVEL", "CADENZA_OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_defaults_without_any_configuration() -> None:
    settings = get_settings()
    assert settings.default_model == "offline" and settings.log_level == "WARNING"
    assert config_file() is None


def test_environment_overrides_the_config_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "cadenza.toml").write_text(
        'default_model = "openai:gpt-4.1-mini"\nlog_level = "INFO"\nopenai_api_key = "sk-file"\n'
    )
    settings = get_settings()
    assert settings.default_model == "openai:gpt-4.1-mini" and settings.log_level == "INFO"
    monkeypatch.setenv("CADENZA_DEFAULT_MODEL", "offline")
    get_settings.cache_clear()
    assert get_settings().default_model == "offline"
    assert get_settings().log_level == "INFO"


def test_explicit_config_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    file = tmp_path / "elsewhere.toml"
    file.write_text('database_url = "postgresql+asyncpg://u@h/db"\n')
    monkeypatch.setenv("CADENZA_CONFIG", str(file))
    assert get_settings().database_url == "postgresql+asyncpg://u@h/db"


def test_secrets_are_redacted_and_exported_to_providers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CADENZA_OPENAI_API_KEY", "sk-secret-value")
    settings = get_settings()
    assert "sk-secret-value" not in repr(settings) and "sk-secret-value" not in str(settings.redacted())
    assert settings.redacted()["openai_api_key"] == "**********"
    environ: dict[str, str] = {}
    settings.export_provider_env(environ)
    assert environ == {"OPENAI_API_KEY": "sk-secret-value"}
    preset = {"OPENAI_API_KEY": "sk-already-set"}
    settings.export_provider_env(preset)
    assert preset["OPENAI_API_KEY"] == "sk-already-set"


def test_bad_values_name_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CADENZA_LOG_LEVEL", "LOUD")
    with pytest.raises(ConfigurationError, match="CADENZA_LOG_LEVEL"):
        get_settings()


def test_unknown_key_in_the_config_file_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "cadenza.toml").write_text('defualt_model = "offline"\n')
    with pytest.raises(ConfigurationError, match="DEFUALT_MODEL"):
        get_settings()


def test_the_default_model_applies_to_agents_without_one(monkeypatch: pytest.MonkeyPatch) -> None:
    from cadenza.workflows import load_workflow_text

    monkeypatch.setenv("CADENZA_DEFAULT_MODEL", "anthropic:claude-3-5-haiku-latest")
    flow = load_workflow_text("name: t\nagents: {a: {}}\nworkflow: a\n")
    assert flow.step.model.name.startswith("anthropic:")
    assert isinstance(Settings.model_fields["default_model"].default, str)
