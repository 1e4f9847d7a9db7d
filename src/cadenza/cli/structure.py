"""Describe a built workflow's structure: the tree ``cadenza validate`` prints, and its counts."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from rich.tree import Tree

from cadenza.engine.step import Step
from cadenza.workflows.workflow import Workflow


def children(step: Step) -> list[tuple[str, Step]]:
    """A step's child steps with the role each plays, for the built-in patterns."""
    from cadenza.patterns.parallel import Parallel
    from cadenza.patterns.pipeline import Pipeline
    from cadenza.patterns.reflective import Reflective
    from cadenza.patterns.supervisor import Supervisor
    from cadenza.workflows.resources import WithResources

    if isinstance(step, WithResources):  # a root that opens MCP servers / memory: show what it wraps
        return children(step.wrapped)
    if isinstance(step, Pipeline):
        return [(f"stage {i}", s) for i, s in enumerate(step.stages)]
    if isinstance(step, Parallel):
        found = [(f"branch {i}", s) for i, s in enumerate(step.branches)]
        if isinstance(step.merge, Step):
            found.append(("merge", step.merge))
        return found
    if isinstance(step, Supervisor):
        return [("plans", step.supervisor), *(("specialist", s) for s in step.specialists.values())]
    if isinstance(step, Reflective):
        found = [("drafts", step.agent)]
        if step.critic is not step.agent:
            found.append(("critic", step.critic))
        return found
    return []


def _label(role: str, step: Step) -> Text:
    text = Text.assemble((f"{role}: " if role else "", "dim"), (step.name, "bold"), (f" {step.kind}", "cyan"))
    models = getattr(step, "models", None)
    if models:
        text.append(f"  {' → '.join(m.name for m in models)}", style="dim")
    tools = getattr(step, "tools", None)
    if tools:
        text.append(f"  tools: {', '.join(tools)}", style="dim")
    gates = getattr(step, "gates", None)
    if gates and any(gates):
        text.append(f"  gates: {', '.join(g.name for g in gates if g is not None)}", style="yellow")
    return text


def structure_tree(workflow: Workflow) -> Tree:
    """The workflow as a Rich tree: patterns, agents, their models, tools and gates."""
    tree = Tree(Text(f"{workflow.name}", style="bold"))

    def add(parent: Tree, role: str, step: Step, depth: int) -> None:
        node = parent.add(_label(role, step))
        if depth < 20:
            for child_role, child in children(step):
                add(node, child_role, child, depth + 1)

    add(tree, "", workflow.step, 0)
    return tree


def summarize(root: Step) -> dict[str, Any]:
    """Counts by kind and the agents used: what ``validate --json`` reports."""
    kinds: dict[str, int] = {}
    agents: set[str] = set()
    stack, seen = [root], set()
    while stack:
        step = stack.pop()
        if id(step) in seen:
            continue
        seen.add(id(step))
        kinds[step.kind] = kinds.get(step.kind, 0) + 1
        if step.kind == "agent":
            agents.add(step.name)
        stack.extend(child for _, child in children(step))
    return {"root": root.name, "kinds": kinds, "agents": sorted(agents)}
