"""MCP client: the tools of any Model Context Protocol server become Cadenza tools.

    async with MCPToolset(mcp_stdio("time", "python", ["-m", "mcp_server_time"])) as time_tools:
        agent = Agent("clock", tools=time_tools.tools)

A server is reached over stdio (a subprocess) or streamable HTTP, through the official ``mcp``
SDK (the ``mcp`` extra). The SDK's sessions live inside anyio task groups that must be entered
and left by the same task, so each connection is owned by one background task; tool calls from
any task are sent through its session. ``allow`` limits which of the server's tools an agent
gets (a per-agent allow-list); a tool result flagged as an error becomes a ``ToolError``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from cadenza.errors import MCPConnectionError, MissingExtraError, ToolError
from cadenza.models.base import ToolDefinition
from cadenza.tools.base import DEFAULT_MAX_OUTPUT_CHARS, Tool


@dataclass(frozen=True)
class MCPServerConfig:
    """How to reach one MCP server and which of its tools to expose.

    ``transport`` is ``"stdio"`` (``command``, ``args``, ``env``, ``cwd``) or ``"http"``
    (``url``, ``headers``). ``prefix`` is put before every tool name (to keep two servers'
    tools apart); ``allow`` lists the server's tool names to expose (all when ``None``).
    """

    name: str
    transport: str
    command: str | None = None
    args: tuple[str, ...] = ()
    env: dict[str, str] | None = None
    cwd: str | None = None
    url: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    allow: tuple[str, ...] | None = None
    prefix: str = ""
    timeout: float = 60.0
    startup_timeout: float = 30.0
    max_output_chars: int = DEFAULT_MAX_OUTPUT_CHARS

    def describe(self) -> str:
        if self.transport == "stdio":
            return f"stdio: {' '.join([self.command or '', *self.args])}"
        return f"http: {self.url}"


def mcp_stdio(
    name: str,
    command: str,
    args: Sequence[str] = (),
    *,
    env: dict[str, str] | None = None,
    cwd: str | None = None,
    allow: Sequence[str] | None = None,
    prefix: str = "",
    timeout: float = 60.0,
) -> MCPServerConfig:
    """An MCP server started as a subprocess that speaks over stdin/stdout."""
    return MCPServerConfig(
        name,
        "stdio",
        command=command,
        args=tuple(args),
        env=env,
        cwd=cwd,
        allow=tuple(allow) if allow is not None else None,
        prefix=prefix,
        timeout=timeout,
    )


def mcp_http(
    name: str,
    url: str,
    *,
    headers: dict[str, str] | None = None,
    allow: Sequence[str] | None = None,
    prefix: str = "",
    timeout: float = 60.0,
) -> MCPServerConfig:
    """An MCP server at a streamable-HTTP endpoint (e.g. ``http://host:8000/mcp``)."""
    return MCPServerConfig(
        name,
        "http",
        url=url,
        headers=dict(headers or {}),
        allow=tuple(allow) if allow is not None else None,
        prefix=prefix,
        timeout=timeout,
    )


_CONFIG_KEYS = {"command", "args", "env", "cwd", "url", "headers", "allow", "prefix", "timeout"}


def mcp_from_config(name: str, config: Any, *, where: str | None = None) -> MCPServerConfig:
    """An MCP server from a workflow file's mapping: ``command`` (+ ``args``, ``env``, ``cwd``)
    for stdio, or ``url`` (+ ``headers``) for streamable HTTP; ``allow``, ``prefix``,
    ``timeout`` for both. Mistakes raise ``ConfigurationError`` naming ``where`` and the key."""
    from cadenza.errors import ConfigurationError

    place = where or f"mcp.{name}"
    if not isinstance(config, dict):
        raise ConfigurationError(f"{place}: expected a mapping with 'command' or 'url', got {config!r}")
    unknown = sorted(set(config) - _CONFIG_KEYS)
    if unknown:
        raise ConfigurationError(
            f"{place}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(_CONFIG_KEYS))}"
        )
    if ("command" in config) == ("url" in config):
        raise ConfigurationError(f"{place}: give exactly one of 'command' (stdio) or 'url' (streamable HTTP)")
    for key, kind in (("command", str), ("url", str), ("cwd", str), ("prefix", str)):
        if key in config and not isinstance(config[key], kind):
            raise ConfigurationError(f"{place}.{key}: expected text, got {config[key]!r}")
    for key in ("args", "allow"):
        if key in config and not (
            isinstance(config[key], list) and all(isinstance(v, str) for v in config[key])
        ):
            raise ConfigurationError(f"{place}.{key}: expected a list of text, got {config[key]!r}")
    for key in ("env", "headers"):
        if key in config and not (
            isinstance(config[key], dict) and all(isinstance(v, str) for v in config[key].values())
        ):
            raise ConfigurationError(f"{place}.{key}: expected a mapping of text, got {config[key]!r}")
    timeout = config.get("timeout", 60.0)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
        raise ConfigurationError(f"{place}.timeout: expected a positive number of seconds, got {timeout!r}")
    options: dict[str, Any] = {
        "allow": config.get("allow"),
        "prefix": config.get("prefix", ""),
        "timeout": float(timeout),
    }
    if "command" in config:
        return mcp_stdio(
            name,
            config["command"],
            config.get("args", []),
            env=config.get("env"),
            cwd=config.get("cwd"),
            **options,
        )
    return mcp_http(name, config["url"], headers=config.get("headers"), **options)


class MCPToolset:
    """A live connection to one MCP server and the tools it offers.

    Use ``async with MCPToolset(config) as toolset`` (or ``await toolset.connect()`` and
    ``await toolset.aclose()``); ``toolset.tools`` are ordinary Cadenza tools.
    """

    def __init__(self, config: MCPServerConfig) -> None:
        self.config = config
        self.tools: list[Tool[Any, Any]] = []
        self.session: Any = None
        self._task: asyncio.Task[None] | None = None
        self._ready: asyncio.Future[None] | None = None
        self._stop: asyncio.Event | None = None

    async def __aenter__(self) -> MCPToolset:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def connect(self) -> list[Tool[Any, Any]]:
        """Start (or reach) the server, initialise the session, and list its tools."""
        _require_sdk()
        loop = asyncio.get_running_loop()
        self._ready = loop.create_future()
        self._stop = asyncio.Event()
        self._task = asyncio.create_task(self._own_session(), name=f"mcp:{self.config.name}")
        try:
            async with asyncio.timeout(self.config.startup_timeout):
                await asyncio.shield(self._ready)
        except TimeoutError:
            await self.aclose()
            raise MCPConnectionError(
                self.config.name,
                f"no answer within {self.config.startup_timeout} s ({self.config.describe()})",
            ) from None
        except MCPConnectionError:
            await self.aclose()
            raise
        try:
            self.tools = await self._list_tools()
        except BaseException:  # e.g. an allow-list naming tools it lacks: stop the server too
            await self.aclose()
            raise
        return self.tools

    async def aclose(self) -> None:
        """End the session (and stop a stdio server's process)."""
        if self._stop is not None:
            self._stop.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(self._task, timeout=10)
            self._task = None
        self.session = None

    async def _own_session(self) -> None:
        from mcp import ClientSession

        assert self._ready is not None and self._stop is not None
        try:
            async with contextlib.AsyncExitStack() as stack:
                read, write = await stack.enter_async_context(self._transport())
                session = await stack.enter_async_context(
                    ClientSession(read, write, read_timeout_seconds=self.config.timeout)
                )
                await session.initialize()
                self.session = session
                self._ready.set_result(None)
                await self._stop.wait()
        except BaseException as exc:  # report start-up failures to connect(), then end quietly
            if not self._ready.done():
                detail = _describe_failure(exc)
                self._ready.set_exception(
                    MCPConnectionError(
                        self.config.name, f"cannot connect ({self.config.describe()}): {detail}"
                    )
                )
            if isinstance(exc, asyncio.CancelledError):
                raise

    def _transport(self) -> Any:
        config = self.config
        if config.transport == "stdio":
            from mcp import StdioServerParameters, stdio_client

            if not config.command:
                raise MCPConnectionError(config.name, "a stdio server needs a command")
            params = StdioServerParameters(
                command=_resolve_command(config.command),
                args=list(config.args),
                env=config.env,
                cwd=config.cwd,
            )
            return stdio_client(params)
        if config.transport == "http":
            from mcp.client.streamable_http import streamable_http_client
            from mcp.shared._httpx_utils import create_mcp_http_client

            if not config.url:
                raise MCPConnectionError(config.name, "an http server needs a url")
            client = create_mcp_http_client(headers=config.headers or None)
            return _closing_client(streamable_http_client(config.url, http_client=client), client)
        raise MCPConnectionError(
            config.name, f"unknown transport {config.transport!r}; use 'stdio' or 'http'"
        )

    async def _list_tools(self) -> list[Tool[Any, Any]]:
        listed = []
        cursor = None
        while True:
            from mcp import types

            params: Any = types.PaginatedRequestParams(cursor=cursor) if cursor else None
            result = await self.session.list_tools(params=params)
            listed.extend(result.tools)
            cursor = result.next_cursor
            if not cursor:
                break
        names = [t.name for t in listed]
        allow = self.config.allow
        if allow is not None:
            unknown = sorted(set(allow) - set(names))
            if unknown:
                raise MCPConnectionError(
                    self.config.name,
                    f"allow-list names tools it does not have: {', '.join(unknown)}; "
                    f"it has: {', '.join(names)}",
                )
        return [MCPTool(self, t) for t in listed if allow is None or t.name in allow]

    async def call(self, name: str, arguments: dict[str, Any], tool_name: str) -> str:
        if self.session is None:
            raise ToolError(tool_name, f"the MCP server {self.config.name!r} is not connected")
        try:
            result = await self.session.call_tool(name, arguments)
        except Exception as exc:
            raise ToolError(tool_name, f"MCP call failed: {_describe_failure(exc)}") from exc
        text = render_content(result)
        if result.is_error:
            raise ToolError(tool_name, text or "the MCP server reported an error")
        return text


@contextlib.asynccontextmanager
async def _closing_client(transport: Any, client: Any) -> Any:
    async with client, transport as streams:
        yield streams


class MCPTool(Tool[..., Any]):
    """One tool of an MCP server: its schema comes from the server, calls go through the session."""

    def __init__(self, toolset: MCPToolset, spec: Any) -> None:
        config = toolset.config
        self.toolset = toolset
        self.remote_name: str = spec.name
        self.name = f"{config.prefix}{spec.name}"
        self.description = spec.description or spec.title or spec.name
        self.parameters: dict[str, Any] = dict(spec.input_schema or {"type": "object", "properties": {}})
        self.definition = ToolDefinition(self.name, self.description, self.parameters)
        annotations = getattr(spec, "annotations", None)
        self.idempotent = bool(
            getattr(annotations, "idempotent_hint", False) or getattr(annotations, "read_only_hint", False)
        )
        self.timeout = config.timeout
        self.max_output_chars = config.max_output_chars
        self.is_async = True
        self.fn = self._call
        self.__name__ = self.name
        self.__doc__ = self.description

    def __repr__(self) -> str:
        return f"MCPTool({self.name!r}, server={self.toolset.config.name!r})"

    async def _call(self, **arguments: Any) -> str:
        return await self.toolset.call(self.remote_name, arguments, self.name)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """A direct call returns an awaitable: ``await tool(timezone="UTC")``."""
        if args:
            raise ToolError(self.name, "MCP tools take keyword arguments only")
        return self._call(**kwargs)

    def validate(self, arguments: dict[str, Any]) -> dict[str, Any]:
        """Check arguments against the server's JSON Schema before sending them."""
        import jsonschema  # type: ignore[import-untyped]

        try:
            jsonschema.validate(arguments, self.parameters)
        except jsonschema.ValidationError as exc:
            where = ".".join(str(p) for p in exc.absolute_path) or "arguments"
            raise ToolError(self.name, f"invalid arguments: {where}: {exc.message}") from None
        except jsonschema.SchemaError:
            pass  # the server's schema is its own business; send the arguments as they are
        return arguments


def render_content(result: Any) -> str:
    """An MCP tool result as text: text blocks joined; other blocks named; structured content as
    JSON when there is no text."""
    parts = []
    for block in result.content or []:
        kind = getattr(block, "type", "")
        if kind == "text":
            parts.append(block.text)
        elif kind == "resource":
            resource = block.resource
            parts.append(getattr(resource, "text", None) or f"[resource {resource.uri}]")
        elif kind == "resource_link":
            parts.append(f"[resource {block.uri}]")
        else:
            parts.append(f"[{kind} content: {getattr(block, 'mime_type', '') or 'binary'}]")
    if not parts and result.structured_content is not None:
        return json.dumps(result.structured_content, ensure_ascii=False)
    return "\n".join(parts)


def _resolve_command(command: str) -> str:
    """A bare command that is not on ``PATH`` is looked for beside the running Python: ``pip``
    puts a server's entry point (``mcp-server-time``) there, and a virtual environment's scripts
    are not on ``PATH`` unless it is activated."""
    import os
    import shutil
    import sys

    if os.sep in command or shutil.which(command):
        return command
    return shutil.which(command, path=os.path.dirname(sys.executable)) or command


def _require_sdk() -> None:
    try:
        import mcp  # noqa: F401
    except ImportError:
        raise MissingExtraError("MCP servers", "mcp", "mcp") from None


def _describe_failure(exc: BaseException) -> str:
    if isinstance(exc, BaseExceptionGroup):
        inner = [e for e in exc.exceptions]
        return "; ".join(_describe_failure(e) for e in inner) if inner else str(exc)
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
