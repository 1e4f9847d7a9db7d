"""The MCP client against real servers: mcp-server-time from PyPI (stdio) and a test server
(stdio and streamable HTTP, served by uvicorn on loopback)."""

from __future__ import annotations

import asyncio
import json
import socket
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.tools._models import calls_tool

from cadenza import Agent
from cadenza.errors import MCPConnectionError, ToolError
from cadenza.tools.mcp import MCPToolset, mcp_http, mcp_stdio
from cadenza.types.events import ToolCalled

TEST_SERVER = str(Path(__file__).with_name("mcp_test_server.py"))


def _test_server() -> MCPToolset:
    return MCPToolset(mcp_stdio("test", sys.executable, [TEST_SERVER]))


async def test_mcp_server_time_from_pypi_over_stdio() -> None:
    config = mcp_stdio("time", sys.executable, ["-m", "mcp_server_time", "--local-timezone", "UTC"])
    async with MCPToolset(config) as time_server:
        names = [t.name for t in time_server.tools]
        assert names == ["get_current_time", "convert_time"]
        now = json.loads(await time_server.tools[0](timezone="Asia/Tokyo"))
        assert now["timezone"] == "Asia/Tokyo" and now["datetime"].endswith("+09:00")
        converted = json.loads(
            await time_server.tools[1](source_timezone="UTC", time="12:00", target_timezone="Asia/Kolkata")
        )
        assert converted["target"]["datetime"].endswith("T17:30:00+05:30")
        assert converted["time_difference"] == "+5.5h"
        with pytest.raises(ToolError, match="Invalid timezone"):
            await time_server.tools[0](timezone="Mars/Olympus_Mons")


async def test_tools_carry_the_servers_schema_and_results() -> None:
    async with _test_server() as server:
        add, shout, explode = server.tools
        assert add.definition.parameters["required"] == ["a", "b"]
        assert add.description == "Add two whole numbers."
        assert await add(a=2, b=40) == "42"
        assert await shout(text="hi") == "HI!"
        with pytest.raises(ToolError, match="exploded: on purpose"):
            await explode(reason="on purpose")
        with pytest.raises(ToolError, match="invalid arguments: a: 'two' is not of type 'integer'"):
            add.validate({"a": "two", "b": 1})


async def test_an_agent_uses_mcp_tools_in_a_run_and_errors_go_back_to_the_model() -> None:
    async with _test_server() as server:
        agent = Agent("mathematician", model=calls_tool("add", a=20, b=22), tools=server.tools)
        result = await agent.run("Add 20 and 22")
        (call,) = [e for e in result.events if isinstance(e, ToolCalled)]
        assert (call.tool, call.output, call.error) == ("add", "42", None)
        assert result.output == "The tool said: 42"
        agent = Agent("boom", model=calls_tool("explode", reason="testing"), tools=server.tools)
        result = await agent.run("Explode")
        (call,) = [e for e in result.events if isinstance(e, ToolCalled)]
        assert call.output is None and "exploded: testing" in (call.error or "")
        agent = Agent("bad", model=calls_tool("add", a="x"), tools=server.tools)
        result = await agent.run("Add")
        (call,) = [e for e in result.events if isinstance(e, ToolCalled)]
        assert "invalid arguments" in (call.error or "")


async def test_allow_list_and_prefix() -> None:
    config = mcp_stdio("test", sys.executable, [TEST_SERVER], allow=["shout"], prefix="test_")
    async with MCPToolset(config) as server:
        assert [t.name for t in server.tools] == ["test_shout"]
        assert await server.tools[0](text="ok") == "OK!"
    bad = mcp_stdio("test", sys.executable, [TEST_SERVER], allow=["shout", "delete_everything"])
    with pytest.raises(
        MCPConnectionError, match="does not have: delete_everything; it has: add, shout, explode"
    ):
        await MCPToolset(bad).connect()


async def test_a_server_that_fails_to_start_is_a_clear_error() -> None:
    with pytest.raises(MCPConnectionError, match=r"MCP server 'broken': cannot connect \(stdio: "):
        await MCPToolset(mcp_stdio("broken", sys.executable, [TEST_SERVER, "--fail"])).connect()
    with pytest.raises(MCPConnectionError, match="cannot connect"):
        await MCPToolset(mcp_stdio("missing", "/nonexistent/mcp-server")).connect()


# --- streamable HTTP ---


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def http_server() -> Iterator[str]:
    import uvicorn

    sys.path.insert(0, str(Path(TEST_SERVER).parent))
    from mcp_test_server import server

    port = _free_port()
    config = uvicorn.Config(server.streamable_http_app(), host="127.0.0.1", port=port, log_level="warning")
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    for _ in range(100):
        if uv.started:
            break
        threading.Event().wait(0.05)
    try:
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        uv.should_exit = True
        thread.join(timeout=10)


async def test_streamable_http_transport(http_server: str) -> None:
    async with MCPToolset(mcp_http("remote", http_server, headers={"X-Team": "cadenza"})) as server:
        assert [t.name for t in server.tools] == ["add", "shout", "explode"]
        results = await asyncio.gather(*(server.tools[0](a=i, b=i) for i in range(5)))
        assert results == [str(2 * i) for i in range(5)]


async def test_an_unreachable_http_server_is_a_clear_error() -> None:
    config = mcp_http("gone", f"http://127.0.0.1:{_free_port()}/mcp")
    with pytest.raises(MCPConnectionError, match="MCP server 'gone': cannot connect"):
        await MCPToolset(config).connect()
