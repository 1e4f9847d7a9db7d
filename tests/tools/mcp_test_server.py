"""A small MCP server for the client tests, on stdio (run this file) or streamable HTTP (import
``server`` and serve ``server.streamable_http_app()``)."""

from __future__ import annotations

import sys

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

server = MCPServer("cadenza-test")


@server.tool()
def add(a: int, b: int) -> int:
    """Add two whole numbers."""
    return a + b


@server.tool()
def shout(text: str) -> str:
    """Repeat the text in capital letters."""
    return text.upper() + "!"


@server.tool()
def explode(reason: str) -> str:
    """Always fails, with the reason given."""
    raise ToolError(f"exploded: {reason}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--fail":
        sys.exit("refusing to start")
    server.run("stdio")
