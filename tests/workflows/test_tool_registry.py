"""The name -> Tool registry that workflow files resolve tool names against."""

from __future__ import annotations

import pytest

from cadenza import tool
from cadenza.errors import ConfigurationError
from cadenza.tools.registry import get_tool, register_tool, tool_names, unregister_tool


def test_register_a_tool_a_function_and_under_another_name() -> None:
    @tool
    def lookup_stock(symbol: str) -> str:
        """Look up a stock price."""
        return "42"

    def plain_helper(x: int) -> int:
        """Double a number."""
        return 2 * x

    try:
        assert register_tool(lookup_stock) is lookup_stock
        assert get_tool("lookup_stock") is lookup_stock
        registered = register_tool(plain_helper)
        assert registered.name == "plain_helper" and registered.description == "Double a number."
        renamed = register_tool("double")(plain_helper)
        assert renamed.name == "double" and get_tool("double") is renamed
        assert {"lookup_stock", "plain_helper", "double"} <= set(tool_names())
        register_tool(lookup_stock)  # the same tool again is harmless
    finally:
        for name in ("lookup_stock", "plain_helper", "double"):
            unregister_tool(name)


def test_a_different_tool_under_a_taken_name_is_an_error() -> None:
    def first(x: int) -> int:
        """First."""
        return x

    def second(x: int) -> int:
        """Second."""
        return x

    register_tool("clash")(first)
    try:
        with pytest.raises(ConfigurationError, match="already registered as 'clash'"):
            register_tool("clash")(second)
    finally:
        unregister_tool("clash")


def test_unknown_tool_lists_the_known_names() -> None:
    with pytest.raises(KeyError, match="unknown tool 'nope'"):
        get_tool("nope")


def test_built_in_tools_resolve_by_name() -> None:
    calculate = get_tool("calculate")
    assert calculate.name == "calculate"
    assert "calculate" in tool_names()
    with pytest.raises(KeyError):
        get_tool("MCPToolset")  # exported by cadenza.tools, but not a tool


async def test_a_workflow_can_use_a_built_in_tool() -> None:
    from cadenza.workflows import load_workflow_text

    flow = load_workflow_text(
        "name: t\nagents: {calc: {instructions: Calculator., tools: [calculate]}}\nworkflow: calc\n"
    )
    result = await flow.run("Calculate 6 * 7")
    assert "42" in result.output
