"""Memory and MCP servers from configuration mappings (as a workflow file gives them)."""

from __future__ import annotations

import pytest

from cadenza.errors import ConfigurationError
from cadenza.memory import HashEmbedder, memory_from_config
from cadenza.tools.mcp import mcp_from_config


def test_memory_from_a_full_mapping(tmp_path: object) -> None:
    memory = memory_from_config(
        {
            "url": f"{tmp_path}/m.db",
            "user": "alice",
            "workflow": "report",
            "recall": 2,
            "lessons": 0,
            "tools": False,
            "short_term": {"max_tokens": 4000},
            "embeddings": "hash",
        }
    )
    assert memory is not None and memory.long_term is not None
    assert memory.scopes("writer") == ["agent:writer", "user:alice", "workflow:report"]
    assert (memory.recall_limit, memory.lesson_limit, memory.tools) == (2, 0, False)
    assert memory.short_term is not None and memory.short_term.max_tokens == 4000
    assert isinstance(memory.long_term.embedder, HashEmbedder)
    assert memory.tools_for("writer") == []


def test_memory_switches() -> None:
    assert memory_from_config(None) is None and memory_from_config(False) is None
    memory = memory_from_config(True)
    assert memory is not None and memory.long_term is not None and memory.recall_limit == 3


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"recal": 3}, "agents.writer.memory: unknown key(s) recal"),
        ({"recall": -1}, "agents.writer.memory.recall: expected a whole number >= 0"),
        ({"tools": "yes"}, "agents.writer.memory.tools: expected true or false"),
        ({"embeddings": "word2vec"}, "agents.writer.memory.embeddings: expected 'hash'"),
        ({"short_term": {"tokens": 5}}, "agents.writer.memory.short_term: expected {max_tokens: N}"),
        ({"user": 42}, "agents.writer.memory.user: expected str"),
        ("lots", "agents.writer.memory: expected a mapping or true/false"),
    ],
)
def test_memory_config_mistakes_name_the_key(config: object, message: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        memory_from_config(config, where="agents.writer.memory")  # type: ignore[arg-type]
    assert message in str(caught.value)


def test_mcp_servers_from_mappings() -> None:
    stdio = mcp_from_config(
        "time", {"command": "uvx", "args": ["mcp-server-time"], "allow": ["get_current_time"]}
    )
    assert (stdio.transport, stdio.command, stdio.args, stdio.allow) == (
        "stdio",
        "uvx",
        ("mcp-server-time",),
        ("get_current_time",),
    )
    http = mcp_from_config(
        "docs", {"url": "http://127.0.0.1:8000/mcp", "headers": {"Authorization": "Bearer x"}}
    )
    assert (http.transport, http.url, http.headers) == (
        "http",
        "http://127.0.0.1:8000/mcp",
        {"Authorization": "Bearer x"},
    )


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({}, "give exactly one of 'command' (stdio) or 'url'"),
        ({"command": "x", "url": "y"}, "give exactly one of"),
        ({"command": "x", "arguments": []}, "unknown key(s) arguments"),
        ({"command": "x", "args": "a b"}, "mcp.time.args: expected a list of text"),
        ({"url": "u", "timeout": 0}, "mcp.time.timeout: expected a positive number"),
        (["command"], "mcp.time: expected a mapping"),
    ],
)
def test_mcp_config_mistakes_name_the_key(config: object, message: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        mcp_from_config("time", config)
    assert message in str(caught.value)
