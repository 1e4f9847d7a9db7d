"""Settings: environment variables prefixed ``CADENZA_``, then an optional TOML config file.

The config file is ``$CADENZA_CONFIG`` if set, else ``./cadenza.toml`` if it exists, else
``~/.config/cadenza/config.toml`` if that exists. Environment variables win over the file.
Provider keys and base URLs set here are exported to the variables the providers read
(``OPENAI_API_KEY``, ...) unless those are already set, so one place configures everything.
Model prices (a fine-tune, a negotiated rate) override the price list::

    [prices."openai:ft:gpt-4.1-mini:acme"]
    input_per_mtok = 0.80
    output_per_mtok = 3.20

or ``CADENZA_PRICES='{"openai:ft:gpt-4.1-mini:acme": {"input_per_mtok": 0.8, ...}}'``.

Import it lazily: pydantic-settings is not part of ``import cadenza``.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from cadenza.models.price_spec import ModelName, PriceSpec

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]

# setting name -> the environment variable the provider code reads
_PROVIDER_ENV = {
    "openai_api_key": "OPENAI_API_KEY",
    "openai_base_url": "OPENAI_BASE_URL",
    "anthropic_api_key": "ANTHROPIC_API_KEY",
    "anthropic_base_url": "ANTHROPIC_BASE_URL",
    "azure_openai_api_key": "AZURE_OPENAI_API_KEY",
    "azure_openai_endpoint": "AZURE_OPENAI_ENDPOINT",
    "groq_api_key": "GROQ_API_KEY",
    "openrouter_api_key": "OPENROUTER_API_KEY",
    "ollama_base_url": "OLLAMA_BASE_URL",
    "vllm_base_url": "VLLM_BASE_URL",
    "lmstudio_base_url": "LMSTUDIO_BASE_URL",
}


def _default_database_url() -> str:
    from cadenza.store.url import default_database_url

    return default_database_url()


def config_file() -> Path | None:
    """The config file in use, if any (see the module docstring for the search order)."""
    explicit = os.environ.get("CADENZA_CONFIG")
    if explicit:
        return Path(explicit)
    for candidate in (Path("cadenza.toml"), Path.home() / ".config" / "cadenza" / "config.toml"):
        if candidate.is_file():
            return candidate
    return None


class Settings(BaseSettings):
    """Everything Cadenza reads from its environment. Secrets are ``SecretStr``: never printed."""

    model_config = SettingsConfigDict(env_prefix="CADENZA_", extra="forbid", validate_default=True)

    database_url: str = Field(
        default_factory=_default_database_url,
        description="Where runs are stored: a SQLAlchemy URL; default a SQLite file in the data directory.",
    )
    default_model: str = Field("offline", description="The model of agents that name none.")
    log_level: LogLevel = "WARNING"
    openai_api_key: SecretStr | None = None
    openai_base_url: str | None = None
    anthropic_api_key: SecretStr | None = None
    anthropic_base_url: str | None = None
    azure_openai_api_key: SecretStr | None = None
    azure_openai_endpoint: str | None = None
    groq_api_key: SecretStr | None = None
    openrouter_api_key: SecretStr | None = None
    ollama_base_url: str | None = None
    vllm_base_url: str | None = None
    lmstudio_base_url: str | None = None
    prices: dict[ModelName, PriceSpec] = Field(
        default_factory=dict,
        description="Prices per model (USD per million tokens) that win over the price list.",
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        file = config_file()
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if file is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=file))
        return tuple(sources)

    def export_provider_env(self, environ: Any = None) -> None:
        """Set the providers' own variables from these settings where they are not set yet."""
        target = os.environ if environ is None else environ
        for field, variable in _PROVIDER_ENV.items():
            value = getattr(self, field)
            if value is None or target.get(variable):
                continue
            target[variable] = value.get_secret_value() if isinstance(value, SecretStr) else value

    def apply_prices(self) -> None:
        """Make the configured prices the process's price overrides (``set_price`` for each)."""
        from cadenza.models.pricing import set_price

        for model, spec in self.prices.items():
            set_price(model, **spec.model_dump())

    def redacted(self) -> dict[str, Any]:
        """The settings as data, secrets shown as ``'**********'`` (safe to print or log)."""
        return {k: ("**********" if isinstance(v, SecretStr) else v) for k, v in self if v is not None}


@cache
def get_settings() -> Settings:
    """The process's settings, read once. ``ConfigurationError`` names a bad value and its source."""
    from pydantic import ValidationError

    from cadenza.errors import ConfigurationError

    try:
        return Settings()  # type: ignore[call-arg]  # values come from the environment
    except ValidationError as exc:
        problems = "; ".join(f"{_setting_name(e['loc'])}: {e['msg']}" for e in exc.errors())
        file = config_file()
        where = f" (environment or {file})" if file else " (environment)"
        raise ConfigurationError(f"bad settings{where}: {problems}") from None
    except (OSError, ValueError) as exc:
        raise ConfigurationError(f"cannot read the config file {config_file()}: {exc}") from None


def _setting_name(loc: tuple[int | str, ...]) -> str:
    """``CADENZA_LOG_LEVEL``; a price as ``prices."openai:x".input_per_mtok`` (its TOML key)."""
    if loc and loc[0] == "prices" and len(loc) > 1:
        return "prices." + ".".join(f'"{p}"' if ":" in str(p) else str(p) for p in loc[1:])
    return f"CADENZA_{'_'.join(str(p) for p in loc).upper()}"
