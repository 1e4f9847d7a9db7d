"""Model prices from the config file, ``CADENZA_PRICES`` and a workflow file's ``prices:``.

The runs talk to a real HTTP server that speaks OpenAI's wire format and reports a fixed usage,
so the exact Decimal cost of each run is known in advance.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from tests.fakes.llm_server import FakeLLMServer, Reply, llm_server

from cadenza.config import Settings, get_settings
from cadenza.errors import ConfigurationError
from cadenza.models.pricing import clear_price_overrides, cost_of
from cadenza.types.usage import Usage
from cadenza.workflows import WorkflowFileError, load_workflow_text

__all__ = ["llm_server"]

CADENZA = shutil.which("cadenza", path=str(Path(sys.executable).parent)) or "cadenza"
MODEL = "openai:ft:gpt-4.1-mini:acme"
# What the fake server reports for every call: 1,000 prompt tokens (200 of them cached), 500 out.
USAGE = {"prompt_tokens": 1000, "completion_tokens": 500, "prompt_tokens_details": {"cached_tokens": 200}}
FLOW = """\
version: 1
name: priced
agents:
  writer: {instructions: Write it., model: "openai:ft:gpt-4.1-mini:acme"}
workflow: writer
"""


def expected(input_rate: str, output_rate: str, cache_read_rate: str) -> Decimal:
    return (
        800 * Decimal(input_rate) + 200 * Decimal(cache_read_rate) + 500 * Decimal(output_rate)
    ) / Decimal(1_000_000)


@pytest.fixture(autouse=True)
def clean(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    monkeypatch.chdir(tmp_path)
    for name in ("CADENZA_CONFIG", "CADENZA_PRICES"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    clear_price_overrides()
    yield
    get_settings.cache_clear()
    clear_price_overrides()


def test_config_file_prices_price_a_cadenza_run(llm_server: FakeLLMServer, tmp_path: Path) -> None:
    llm_server.set_default("openai", Reply(text="A finished piece.", usage=USAGE))
    (tmp_path / "flow.yaml").write_text(FLOW)
    (tmp_path / "cadenza.toml").write_text(
        textwrap.dedent(f"""\
            [prices."{MODEL}"]
            input_per_mtok = 0.15
            output_per_mtok = "0.6"
            cache_read_per_mtok = 0.075
            """)
    )
    env = {
        **os.environ,
        "CADENZA_CONFIG": str(tmp_path / "cadenza.toml"),
        "OPENAI_BASE_URL": llm_server.openai_url,
        "OPENAI_API_KEY": "test-key",
    }
    ran = subprocess.run(
        [CADENZA, "run", "flow.yaml", "-i", "Cargo bikes", "--json", "--no-store"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert ran.returncode == 0, ran.stderr
    doc = json.loads(ran.stdout)
    assert len(llm_server.requests("openai")) == 1
    assert Decimal(doc["cost_usd"]) == expected("0.15", "0.6", "0.075") == Decimal("0.000435")


def test_prices_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CADENZA_PRICES", json.dumps({MODEL: {"input_per_mtok": "2", "output_per_mtok": "8"}}))
    settings = get_settings()
    assert cost_of(MODEL, Usage(1000, 500)) == 0  # unknown to the price list, and not applied yet
    settings.apply_prices()
    assert cost_of(MODEL, Usage(1000, 500)) == Decimal("0.006")


def test_a_bad_configured_price_names_the_model_and_field(tmp_path: Path) -> None:
    (tmp_path / "cadenza.toml").write_text(f'[prices."{MODEL}"]\ninput_per_mtok = -1\noutput_per_mtok = 1\n')
    with pytest.raises(ConfigurationError) as info:
        get_settings()
    assert f'prices."{MODEL}".input_per_mtok' in str(info.value) and "cadenza.toml" in str(info.value)
    with pytest.raises(ValueError):
        Settings(prices={"no-provider": {"input_per_mtok": 1, "output_per_mtok": 1}})  # type: ignore[call-arg,dict-item]


async def test_workflow_file_prices_hold_for_its_runs_only(
    llm_server: FakeLLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", llm_server.openai_url)
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    llm_server.set_default("openai", Reply(text="A finished piece.", usage=USAGE))
    from cadenza.models import set_price

    set_price(MODEL, input_per_mtok=100, output_per_mtok=100)  # the config's price: the file's wins
    priced = FLOW + f'prices:\n  "{MODEL}":\n    input_per_mtok: 1.1\n    output_per_mtok: 4.4\n'
    workflow = load_workflow_text(priced, "flow.yaml")
    result = await workflow.run("Cargo bikes")
    assert result.status == "succeeded"
    # No cache_read rate given: cached tokens cost the input rate.
    assert result.cost == expected("1.1", "4.4", "1.1") == Decimal("0.00330")
    # Outside the workflow's runs the process-wide price holds again.
    assert cost_of(MODEL, Usage(1000, 0)) == Decimal("0.1")
    plain = await load_workflow_text(FLOW, "flow.yaml").run("Cargo bikes")
    assert plain.cost == expected("100", "100", "100")


def test_bad_workflow_prices_are_positioned_errors() -> None:
    text = (
        FLOW
        + "prices:\n  gpt-4.1:\n    input_per_mtok: 1\n    output_per_mtok: 1\n"
        + (f'  "{MODEL}":\n    input_per_mtok: -2\n    output_per_mtok: 1\n    cache_rate: 1\n')
    )
    with pytest.raises(WorkflowFileError) as info:
        load_workflow_text(text, "flow.yaml")
    problems = {p.key: p for p in info.value.problems}
    assert (problems["prices.gpt-4.1"].line, problems["prices.gpt-4.1"].column) == (7, 3)
    negative = problems[f"prices.{MODEL}.input_per_mtok"]
    assert negative.line == 11 and "greater than or equal to 0" in negative.message
    assert problems[f"prices.{MODEL}.cache_rate"].line == 13


def test_workflows_registered_over_http_cannot_set_prices() -> None:
    from cadenza.api.specs import check_workflow

    text = FLOW + f'prices:\n  "{MODEL}": {{input_per_mtok: 0, output_per_mtok: 0}}\n'
    with pytest.raises(WorkflowFileError) as info:
        check_workflow(text, "flow.yaml", allow_imports=True, model_override=None)
    [problem] = info.value.problems
    assert problem.key == "prices" and problem.line == 6
    assert "set by the server's configuration" in problem.message
    assert check_workflow(FLOW, "flow.yaml", allow_imports=False, model_override=None).name == "priced"
