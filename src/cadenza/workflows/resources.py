"""What a workflow file's agents hold open while it runs: MCP servers and long-term memory stores
(and the file's own model prices, in force for the run).

Loading a file only reads the configuration, so ``cadenza validate`` starts nothing. The servers
are connected when a run starts and closed when it ends — succeeded, failed or cancelled — by
``RunResources``, which the builder wraps around the workflow's root step (``WithResources``).
Every way of running a workflow (``Workflow.run``, ``cadenza run``, durable runs and resumes,
the API) goes through that root step, so none of them has to remember to open anything.

Concurrent runs of one ``Workflow`` share one connection per server: the first run to start
opens them, the last to finish closes them. ``async with workflow.resources:`` keeps them open
across many runs.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cadenza.engine.step import Step, StepInput
from cadenza.errors import ConfigurationError

if TYPE_CHECKING:
    from cadenza.agents.agent import Agent
    from cadenza.engine.context import StepContext
    from cadenza.memory.agent_memory import AgentMemory
    from cadenza.models.pricing import Price
    from cadenza.tools.mcp import MCPServerConfig, MCPToolset
    from cadenza.types.results import StepResult


@dataclass(frozen=True)
class AgentServer:
    """One MCP server configured for one agent."""

    agent: Agent
    config: MCPServerConfig


class RunResources:
    """Opens an agent's MCP servers (adding their tools to it) and closes them and its memory
    stores; reference-counted, so nested and concurrent users share one opening."""

    def __init__(
        self,
        servers: list[AgentServer],
        memories: list[AgentMemory],
        prices: Mapping[str, Price] | None = None,
    ) -> None:
        self.servers = servers
        self.memories = memories
        #: The file's ``prices:``, in force for each run of it (``price_scope``), not process-wide.
        self.prices = dict(prices or {})
        self._users = 0
        self._lock = asyncio.Lock()
        self._open: list[tuple[AgentServer, MCPToolset, list[str]]] = []

    def __bool__(self) -> bool:
        return bool(self.servers or self.memories or self.prices)

    async def __aenter__(self) -> RunResources:
        async with self._lock:
            if self._users == 0 and self.servers:
                await self._connect()
            self._users += 1
        return self

    async def __aexit__(self, *exc: object) -> None:
        # Shielded: a run cancelled (Ctrl-C) while closing still stops its servers.
        await asyncio.shield(self._leave())

    async def _leave(self) -> None:
        async with self._lock:
            self._users -= 1
            if self._users == 0:
                await self._close()

    async def _connect(self) -> None:
        from cadenza.tools.mcp import MCPToolset

        toolsets = [MCPToolset(server.config) for server in self.servers]
        try:
            outcomes = await asyncio.gather(*(t.connect() for t in toolsets), return_exceptions=True)
        except asyncio.CancelledError:  # interrupted while starting: stop what did start
            await asyncio.shield(self._close(extra=toolsets))
            raise
        failure = next((o for o in outcomes if isinstance(o, BaseException)), None)
        if failure is None:
            try:
                for server, toolset in zip(self.servers, toolsets, strict=True):
                    self._open.append((server, toolset, _attach(server, toolset)))
                return
            except ConfigurationError as exc:
                failure = exc
        await self._close(extra=toolsets)
        raise failure

    async def _close(self, extra: Sequence[MCPToolset] = ()) -> None:
        opened, self._open = self._open, []
        for server, _, names in opened:
            for name in names:
                server.agent.tools.pop(name, None)
        toolsets = {id(t): t for t in [*(t for _, t, _ in opened), *extra]}
        await asyncio.gather(*(t.aclose() for t in toolsets.values()), return_exceptions=True)
        for memory in self.memories:
            if memory.long_term is not None:
                with contextlib.suppress(Exception):
                    await memory.long_term.close()


def _attach(server: AgentServer, toolset: MCPToolset) -> list[str]:
    """Give the agent the server's tools; a name the agent already has is a configuration error."""
    agent = server.agent
    clashes = [t.name for t in toolset.tools if t.name in agent.tools]
    if clashes:
        raise ConfigurationError(
            f"agent {agent.name!r}: MCP server {server.config.name!r} offers tool(s) "
            f"{', '.join(clashes)} that the agent already has; set a 'prefix' for the server "
            "or an 'allow' list without them"
        )
    for tool in toolset.tools:
        agent.tools[tool.name] = tool
    return [t.name for t in toolset.tools]


class WithResources(Step):
    """The root step of a workflow whose agents use MCP servers or memory: it opens them for the
    run and closes them after. It is invisible in the run: same name, kind and step paths."""

    def __init__(self, wrapped: Step, resources: RunResources) -> None:
        self.wrapped = wrapped
        self.resources = resources
        self.name = wrapped.name

    @property
    def kind(self) -> str:  # type: ignore[override]
        return self.wrapped.kind

    def __getattr__(self, name: str) -> Any:
        # Tools that describe a workflow (models, tools, gates, stages, ...) see the wrapped step.
        if name.startswith("__") or name in ("wrapped", "resources"):
            raise AttributeError(name)
        return getattr(self.wrapped, name)

    async def invoke(self, ctx: StepContext, input: StepInput) -> StepResult:
        from cadenza.models.pricing import price_scope

        with price_scope(self.resources.prices):
            async with self.resources:
                return await self.wrapped.invoke(ctx, input)
