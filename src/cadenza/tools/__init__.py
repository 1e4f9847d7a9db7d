"""Tools agents can call: ``@tool`` for your own functions, and the built-ins.

The built-in tools (``calculate``, ``fetch_url``, ``web_search``, ``read_document``, the memory
tools) load on first access, so ``import cadenza`` does not pay for their libraries.
"""

from importlib import import_module
from typing import Any

from cadenza.tools.base import Tool, as_tool, tool

_BUILTINS = {
    "calculate": "cadenza.tools.calculator",
    "fetch_url": "cadenza.tools.fetch",
    "web_search": "cadenza.tools.search",
    "read_document": "cadenza.tools.documents",
    "MCPToolset": "cadenza.tools.mcp",
    "mcp_stdio": "cadenza.tools.mcp",
    "mcp_http": "cadenza.tools.mcp",
}

__all__ = ["Tool", "as_tool", "tool", *_BUILTINS]


def __getattr__(name: str) -> Any:
    module = _BUILTINS.get(name)
    if module is None:
        raise AttributeError(f"module 'cadenza.tools' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value
