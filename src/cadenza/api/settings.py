"""Settings of the HTTP service, read from ``CADENZA_*`` environment variables.

There are no default credentials: the JWT signing secret comes from ``CADENZA_JWT_SECRET`` or,
when that is unset, from a random secret generated once and kept (mode 0600) in the data
directory, so tokens survive a restart of a single instance. Several instances behind a load
balancer must share ``CADENZA_JWT_SECRET``.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from cadenza.errors import ConfigurationError
from cadenza.store.url import data_dir, default_database_url

MIN_SECRET_BYTES = 32


class ApiSettings(BaseSettings):
    """Everything the service can be tuned with; each field is ``CADENZA_<FIELD>`` in the environment."""

    model_config = SettingsConfigDict(env_prefix="CADENZA_", extra="ignore")

    database_url: str = Field(default_factory=default_database_url)
    jwt_secret: str = Field(
        default="", repr=False, description="HMAC key of JWTs; generated and kept if empty."
    )
    jwt_issuer: str = "cadenza"
    jwt_audience: str = "cadenza-api"
    access_token_seconds: int = Field(default=900, ge=10)
    refresh_token_seconds: int = Field(default=7 * 86400, ge=60)
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    max_page_size: int = Field(default=100, ge=1)
    rate_limit_per_second: float = Field(
        default=50.0, gt=0, description="Sustained requests per second per key/user."
    )
    rate_limit_burst: int = Field(default=200, ge=1)
    anonymous_rate_per_second: float = Field(
        default=5.0, gt=0, description="Per client address, for unauthenticated calls."
    )
    anonymous_rate_burst: int = Field(default=20, ge=1)
    request_timeout_seconds: float = Field(default=30.0, gt=0)
    shutdown_grace_seconds: float = Field(
        default=10.0,
        ge=0,
        description="At shutdown, how long running runs may finish; the rest resume at next start.",
    )
    api_key_cache_seconds: float = Field(default=5.0, ge=0)
    allow_python_imports: bool = Field(
        default=False,
        description="Let workflows registered over HTTP import Python (tools, gates): runs code.",
    )
    model_override: str | None = Field(
        default=None, description="Run every agent on this model (e.g. 'offline')."
    )
    upgrade_database: bool | None = None
    metrics_public: bool = Field(
        default=False,
        description="Serve GET /metrics without credentials (for a Prometheus scraper on a private network).",
    )

    @field_validator("jwt_secret")
    @classmethod
    def _long_enough(cls, value: str) -> str:
        if value and len(value.encode()) < MIN_SECRET_BYTES:
            raise ValueError(f"CADENZA_JWT_SECRET must be at least {MIN_SECRET_BYTES} bytes")
        return value

    def signing_secret(self) -> str:
        """The JWT secret: configured, or the one generated and kept in the data directory."""
        return self.jwt_secret or _kept_secret(data_dir() / "jwt_secret")


def _kept_secret(file: Path) -> str:
    try:
        if file.exists():
            secret = file.read_text(encoding="ascii").strip()
            if len(secret) >= MIN_SECRET_BYTES:
                return secret
        file.parent.mkdir(parents=True, exist_ok=True)
        secret = secrets.token_urlsafe(48)
        fd = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as out:
            out.write(secret)
        return secret
    except OSError as exc:
        raise ConfigurationError(
            f"cannot keep a JWT secret in {file}: {exc.strerror or exc}; set CADENZA_JWT_SECRET"
        ) from None
