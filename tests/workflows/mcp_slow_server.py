"""An MCP server (stdio) with one slow tool, so a test can interrupt a run while a call is in flight.

When the tool starts it writes this process's id to ``$SLOW_MARKER``: the test then knows the
call is in flight and which process must be gone once the run is interrupted.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from mcp.server.mcpserver import MCPServer

server = MCPServer("slow")


@server.tool()
async def wait_for_it(seconds: float) -> str:
    """Wait for the given number of seconds, then say so."""
    marker = os.environ.get("SLOW_MARKER")
    if marker:
        Path(marker).write_text(str(os.getpid()), encoding="utf-8")
    await asyncio.sleep(seconds)
    return f"waited {seconds} s"


if __name__ == "__main__":
    server.run("stdio")
