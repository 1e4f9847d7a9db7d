"""The config's model prices hold for runs served by any app built with ``create_app``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from cadenza.config import get_settings
from cadenza.models.pricing import clear_price_overrides

from .conftest import register, start_server, wait_for_run


@pytest.fixture
def priced(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """One US dollar per input token of the offline model, from CADENZA_PRICES."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CADENZA_CONFIG", raising=False)
    monkeypatch.setenv(
        "CADENZA_PRICES", json.dumps({"offline": {"input_per_mtok": 1_000_000, "output_per_mtok": 0}})
    )
    get_settings.cache_clear()
    clear_price_overrides()
    yield
    get_settings.cache_clear()
    clear_price_overrides()


def test_config_prices_apply_to_runs_started_over_http(priced: None, tmp_path: Path) -> None:
    server = start_server(f"sqlite:///{tmp_path / 'cadenza.db'}")
    try:
        with server.client("operator") as client:
            flow = register(client)
            started = client.post("/v1/runs", json={"workflow_id": flow["id"], "input": "Price me"})
            assert started.status_code == 202, started.text
            run = wait_for_run(client, started.json()["id"])
            cost = client.get(f"/v1/runs/{run['id']}/cost").json()
    finally:
        server.stop()
    input_tokens = cost["input_tokens"] if "input_tokens" in cost else cost["usage"]["input_tokens"]
    assert input_tokens > 0
    assert Decimal(cost["total_cost"]) == Decimal(input_tokens)
