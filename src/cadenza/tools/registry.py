"""The tool registry: names that workflow files use for tools.

Built-in tools and tools of installed packages register here; a workflow file's ``tools: [name]``
is looked up in this registry unless the file declares the name itself.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, overload

from cadenza.errors import ConfigurationError
from cadenza.tools.base import Tool, as_tool

_tools: dict[str, Tool[Any, Any]] = {}


@overload
def register_tool(tool_or_name: str, /) -> Callable[[Any], Tool[Any, Any]]: ...


@overload
def register_tool(tool_or_name: Tool[Any, Any] | Callable[..., Any], /) -> Tool[Any, Any]: ...


def register_tool(
    tool_or_name: str | Tool[Any, Any] | Callable[..., Any], /
) -> Tool[Any, Any] | Callable[[Any], Tool[Any, Any]]:
    """Register a tool (or plain function) under its name; ``@register_tool("name")`` renames it.

    Use it bare on a ``@tool`` or a function, or as ``register_tool(obj)``. Registering another
    tool under a name that is taken is an error; registering the same tool again is harmless.
    """
    if isinstance(tool_or_name, str):
        name = tool_or_name

        def add_named(obj: Any) -> Tool[Any, Any]:
            resolved = as_tool(obj)
            if resolved.name != name:
                fn = resolved.fn
                resolved = Tool(
                    fn,
                    name=name,
                    description=resolved.description,
                    idempotent=resolved.idempotent,
                    timeout=resolved.timeout,
                    max_output_chars=resolved.max_output_chars,
                )
            return _add(resolved)

        return add_named
    return _add(as_tool(tool_or_name))


def _add(tool: Tool[Any, Any]) -> Tool[Any, Any]:
    existing = _tools.get(tool.name)
    if existing is not None and existing is not tool and existing.fn is not tool.fn:
        raise ConfigurationError(f"a different tool is already registered as {tool.name!r}")
    _tools[tool.name] = tool
    return tool


def get_tool(name: str) -> Tool[Any, Any]:
    """The tool registered as ``name``, else the built-in of that name; ``KeyError`` lists the names."""
    found = _tools.get(name) or _builtin(name)
    if found is None:
        known = ", ".join(tool_names()) or "none registered"
        raise KeyError(f"unknown tool {name!r}; known: {known}")
    return found


def tool_names() -> list[str]:
    """Every registered tool name and every built-in tool that can be loaded, sorted."""
    import cadenza.tools as package

    for name in getattr(package, "__all__", ()):
        if name not in _tools:
            _builtin(name)
    return sorted(_tools)


def _builtin(name: str) -> Tool[Any, Any] | None:
    """A built-in tool exported by ``cadenza.tools`` (loaded on first use), registered on the way."""
    import cadenza.tools as package

    if name not in getattr(package, "__all__", ()):
        return None
    try:
        candidate = getattr(package, name)
    except Exception:  # a built-in whose optional extra is missing is simply not available
        return None
    if not isinstance(candidate, Tool):
        return None
    return _add(candidate)


def unregister_tool(name: str) -> None:
    """Remove a tool (tests and plugins that reload)."""
    _tools.pop(name, None)
