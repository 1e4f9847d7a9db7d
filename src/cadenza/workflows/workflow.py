"""``Workflow``: a loaded workflow file, ready to run: its root Step, budget and spec."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cadenza.engine.step import Step
    from cadenza.types.events import Event
    from cadenza.types.results import RunResult
    from cadenza.workflows.resources import RunResources
    from cadenza.workflows.source import Source
    from cadenza.workflows.spec import WorkflowSpec


@dataclass
class Workflow:
    """A workflow built from a file. ``step`` is the root Step; ``budget`` goes to every run.

    ``resources`` are the agents' MCP servers and memory stores: every run opens them and closes
    them when it ends; ``async with workflow.resources:`` keeps them open across runs.
    """

    spec: WorkflowSpec
    step: Step
    source: Source
    budget: Any = None
    resources: RunResources | None = None

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def file(self) -> str:
        return self.source.file

    async def run(self, task: str, **kwargs: Any) -> RunResult:
        """Run the workflow once (with the file's budget) and return its result."""
        kwargs.setdefault("budget", self.budget)
        return await self.step.run(task, **kwargs)

    def stream(self, task: str, **kwargs: Any) -> AsyncIterator[Event]:
        """Run and yield every event as it happens (see ``Step.stream``)."""
        kwargs.setdefault("budget", self.budget)
        return self.step.stream(task, **kwargs)

    def dump(self) -> dict[str, Any]:
        """The file's data with every ``${VAR}`` shown as written: safe to store, print or log."""
        data = copy.deepcopy(self.source.data)
        for path, raw in self.source.env_refs.items():
            node = data
            for part in path[:-1]:
                node = node[part]
            if path:
                node[path[-1]] = raw
            else:
                data = raw
        return data  # type: ignore[no-any-return]
