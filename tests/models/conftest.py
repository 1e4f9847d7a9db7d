"""Provider tests: a clean environment (no real keys or base URLs leak in) and closed clients."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from cadenza.models._clients import close_clients
from cadenza.models.registry import OPENAI_COMPATIBLE

PROVIDER_ENV = {
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_AUTH_TOKEN",
    "ANTHROPIC_BASE_URL",
    "ANTHROPIC_PROFILE",
    "ANTHROPIC_CONFIG_DIR",
    "ANTHROPIC_FEDERATION_RULE_ID",
    "ANTHROPIC_ORGANIZATION_ID",
    "ANTHROPIC_IDENTITY_TOKEN",
    "ANTHROPIC_IDENTITY_TOKEN_FILE",
    "AZURE_OPENAI_AD_TOKEN",
    "OPENAI_API_VERSION",
    *(spec.key_env for spec in OPENAI_COMPATIBLE.values()),
    *(spec.base_url_env for spec in OPENAI_COMPATIBLE.values() if spec.base_url_env),
}


@pytest.fixture(autouse=True)
def _clean_provider_env(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    for name in PROVIDER_ENV:
        monkeypatch.delenv(name, raising=False)
    # The Anthropic SDK also looks for profiles on disk: give it an empty home.
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))


@pytest.fixture(autouse=True)
async def _close_pooled_clients() -> AsyncIterator[None]:
    yield
    await close_clients()
