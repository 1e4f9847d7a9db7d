"""Tools agents can call: ``@tool`` for your own functions."""

from cadenza.tools.base import Tool, as_tool, tool

__all__ = ["Tool", "as_tool", "tool"]
