"""The fake provider server as a standalone process, scripted over its HTTP control API."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.models.helpers import FAST, agent

from cadenza import RetryPolicy
from cadenza.errors import ModelError
from cadenza.models.openai import OpenAIModel
from cadenza.types.events import RetryScheduled

ROOT = Path(__file__).resolve().parents[2]


def http(method: str, url: str, body: Any = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    headers = {"content-type": "application/json"}
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


@pytest.fixture
def server_process() -> Iterator[str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.llm_server", "--port", "0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert "listening on" in line, line
        yield line.rsplit(" ", 1)[-1].strip()
    finally:
        process.terminate()
        process.wait(timeout=10)


async def test_standalone_server_is_scripted_over_http(server_process: str) -> None:
    url = server_process
    assert http("GET", f"{url}/_health") == {"ok": True}
    script = {"api": "openai", "replies": [{"status": 503}, {"text": "From a process."}]}
    queued = http("POST", f"{url}/_script", script)
    assert queued == {"queued": 2}

    model = OpenAIModel("gpt-4.1-mini", base_url=f"{url}/v1", api_key="sk-test")
    result = await agent(model, retry=FAST).run("Hi")

    assert result.output == "From a process."
    assert len([e for e in result.events if isinstance(e, RetryScheduled)]) == 1
    recorded = http("GET", f"{url}/_requests?api=openai")
    assert [r["path"] for r in recorded] == ["/v1/chat/completions"] * 2
    assert recorded[0]["body"]["messages"][-1] == {"role": "user", "content": "Hi"}
    assert http("GET", f"{url}/_requests?api=anthropic") == []

    assert http("POST", f"{url}/_reset") == {"ok": True}
    assert http("GET", f"{url}/_requests") == []


async def test_a_default_reply_applies_when_the_script_is_empty(server_process: str) -> None:
    url = server_process
    http("POST", f"{url}/_default", {"api": "openai", "reply": {"delay": 0.3}})
    model = OpenAIModel("gpt-4.1-mini", base_url=f"{url}/v1", api_key="sk-test", timeout=0.1)

    with pytest.raises(ModelError, match="timed out"):
        await agent(model, retry=RetryPolicy(max_attempts=2, base_delay=0.01)).run("Hi")
    assert len(http("GET", f"{url}/_requests")) == 2

    http("POST", f"{url}/_default", {"api": "openai", "reply": {}})
    result = await agent(model).run("Hello")
    assert result.output == "Fake answer to: Hello"
