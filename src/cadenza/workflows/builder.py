"""Turn a validated ``WorkflowSpec`` into Steps, collecting every problem with its place.

Everything a file refers to is resolved here: agents and named steps (with cycle detection),
tools (declared in the file or registered), Python imports, output schemas, gates, merges,
custom patterns, model providers and the budget. A problem does not stop the build: it is
recorded at its line and the build goes on, so the user sees every problem of a file at once.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cadenza.agents.agent import Agent
from cadenza.engine.budget import Budget
from cadenza.engine.context import StepContext
from cadenza.engine.retry import DEFAULT_RETRY, RetryPolicy
from cadenza.engine.step import Step, StepInput
from cadenza.errors import CadenzaError
from cadenza.patterns.gates import CallableGate, Gate, JudgeGate, SchemaGate
from cadenza.patterns.parallel import Parallel
from cadenza.patterns.pipeline import Pipeline
from cadenza.patterns.reflective import Reflective
from cadenza.patterns.supervisor import Supervisor
from cadenza.tools.base import Tool, as_tool
from cadenza.types.results import StepResult
from cadenza.workflows import spec as s
from cadenza.workflows.gates import AllGates, TextGate
from cadenza.workflows.imports import ImportProblem, import_module, import_object
from cadenza.workflows.resources import AgentServer, RunResources, WithResources
from cadenza.workflows.source import Path as DataPath
from cadenza.workflows.source import Source, data_at
from cadenza.workflows.workflow import Workflow

if TYPE_CHECKING:
    from cadenza.tools.mcp import MCPServerConfig


def build(
    spec: s.WorkflowSpec, source: Source, base_dir: Path, *, model_override: str | None = None
) -> Workflow:
    """The runnable workflow for ``spec``; problems are added to ``source.problems``."""
    return _Builder(spec, source, base_dir, model_override).build()


class _Broken(Step):
    """Stands in for a step that could not be built, so building can go on and find more."""

    kind = "broken"

    def __init__(self, name: str) -> None:
        self.name = name

    async def invoke(self, ctx: StepContext, input: StepInput) -> StepResult:
        raise AssertionError("a workflow with problems is never run")


class _Builder:
    def __init__(
        self, spec: s.WorkflowSpec, source: Source, base_dir: Path, model_override: str | None
    ) -> None:
        self.spec = spec
        self.source = source
        self.base_dir = base_dir
        self.model_override = model_override
        self.agents: dict[str, Agent | None] = {}
        self.named: dict[str, Step | None] = {}
        self.building: list[str] = []
        self.tools: dict[str, Tool[Any, Any]] = {}
        self.broken_tools: set[str] = set()
        self.base: DataPath = ()
        self.servers: list[AgentServer] = []
        self.memories: list[Any] = []

    def problem(self, message: str, *where: str | int, expected: str | None = None) -> None:
        """``SpecBuilder.problem``: a problem inside the custom pattern being built."""
        self.source.add((*self.base, *where), message, show_value=False, expected=expected)

    def _add(self, path: DataPath, message: str, **kwargs: Any) -> None:
        self.source.add(path, message, **kwargs)

    # -- the whole file ------------------------------------------------------------------------

    def build(self) -> Workflow:
        self._imports()
        self._declared_tools()
        for name in self.spec.steps:
            if name in self.spec.agents:
                self._add(
                    ("steps", name),
                    f"{name!r} is both an agent and a step",
                    at_key=True,
                    show_value=False,
                    expected="agents and steps to have different names",
                )
        self._check_providers(self.spec.defaults.model, ("defaults", "model"))
        for name in self.spec.agents:
            self._agent(name)
        for name in self.spec.steps:
            self._named_step(name, ("steps", name))
        root = self._node(self.spec.workflow, ("workflow",))
        budget = self._budget()
        step: Step = root or _Broken(self.spec.name)
        prices = {model: spec.price() for model, spec in self.spec.prices.items()}
        resources = RunResources(self.servers, self.memories, prices)
        if resources:
            step = WithResources(step, resources)
        return Workflow(self.spec, step, self.source, budget, resources)

    def _imports(self) -> None:
        for index, target in enumerate(self.spec.imports):
            try:
                import_module(target, self.base_dir)
            except ImportProblem as exc:
                self._add(
                    ("imports", index),
                    f"cannot import: {exc}",
                    value=target,
                    expected="an importable module or a .py file next to the workflow",
                )

    def _declared_tools(self) -> None:
        from cadenza.workflows.loader import BROKEN_TOOL

        for name, target in self.spec.tools.items():
            if target == BROKEN_TOOL:
                self.broken_tools.add(name)
                continue
            if isinstance(target, s.SearchToolSpec):
                self._search_tool(name, target)
                continue
            obj = self._import(("tools", name), target, "a @tool or a function")
            if obj is None:
                continue
            try:
                found = as_tool(obj)
                if found.name != name:
                    found = Tool(
                        found.fn,
                        name=name,
                        description=found.description,
                        idempotent=found.idempotent,
                        timeout=found.timeout,
                        max_output_chars=found.max_output_chars,
                    )
            except (CadenzaError, TypeError, ValueError) as exc:
                self._add(("tools", name), f"not a usable tool: {exc}", value=target)
                continue
            self.tools[name] = found

    def _search_tool(self, name: str, spec: s.SearchToolSpec) -> None:
        """``{corpus: FOLDER}``: web_search over the documents in FOLDER (relative to the file).

        Only the folder is checked here; it is indexed on the first search, so validating a file
        reads no documents.
        """
        folder = (self.base_dir / spec.corpus).resolve()
        if not folder.is_dir():
            self.broken_tools.add(name)
            self._add(
                ("tools", name, "corpus"),
                f"the search corpus {str(folder)!r} is not a folder",
                value=spec.corpus,
                expected="a folder of documents, relative to the workflow file",
            )
            return
        from cadenza.tools.search.local import LocalCorpus
        from cadenza.tools.search.tool import make_search_tool

        self.tools[name] = make_search_tool(
            [LocalCorpus(folder)], name=name, max_results=spec.max_results, description=spec.description
        )

    def _import(self, path: DataPath, target: str, expected: str) -> Any:
        try:
            return import_object(target, self.base_dir)
        except ImportProblem as exc:
            self._add(path, f"cannot import: {exc}", value=target, expected=expected)
            return None

    def _budget(self) -> Budget | None:
        if self.spec.budget is None:
            return None
        try:
            return Budget.from_dict(self.spec.budget.model_dump(exclude_none=True))
        except CadenzaError as exc:
            self._add(("budget",), str(exc), show_value=False)
            return None

    # -- agents --------------------------------------------------------------------------------

    def _agent(self, name: str) -> Agent | None:
        if name in self.agents:
            return self.agents[name]
        self.agents[name] = None
        spec = self.spec.agents[name]
        path: DataPath = ("agents", name)
        defaults = self.spec.defaults
        known = self._check_providers(spec.model, (*path, "model"))
        known = self._check_providers(defaults.model, ("defaults", "model"), report=False) and known
        models = self.model_override or (
            spec.model or defaults.model or _default_model() if known else "offline"
        )
        tools = [t for i, t_name in enumerate(spec.tools) if (t := self._tool(t_name, (*path, "tools", i)))]
        output_type = self._output_type(spec.output_schema, (*path, "output_schema"), name)
        memory = self._memory(spec.memory, (*path, "memory"))
        servers = self._servers(spec.mcp, (*path, "mcp"))
        retry = spec.retry or defaults.retry
        try:
            agent = Agent(
                name,
                model=models,
                instructions=spec.instructions,
                description=spec.description,
                tools=tools,
                capabilities=spec.capabilities,
                output_type=output_type,
                max_tool_rounds=_first(spec.max_tool_rounds, defaults.max_tool_rounds, 8),
                max_tokens=_first(spec.max_tokens, defaults.max_tokens),
                temperature=_first(spec.temperature, defaults.temperature),
                retry=RetryPolicy(**retry.model_dump()) if retry else DEFAULT_RETRY,
                memory=memory,
            )
        except CadenzaError as exc:
            self._add(path, str(exc), show_value=False)
            return None
        if memory is not None:
            self.memories.append(memory)
        self.servers.extend(AgentServer(agent, config) for config in servers)
        self.agents[name] = agent
        return agent

    def _memory(self, spec: s.MemorySpec | None, path: DataPath) -> Any:
        """The agent's ``AgentMemory`` (nothing is opened until a run uses it)."""
        if spec is None:
            return None
        from cadenza.memory.config import memory_from_config

        try:
            return memory_from_config(spec.model_dump(exclude_none=True), where=_dotted(path))
        except CadenzaError as exc:
            self._add(path, str(exc), show_value=False)
            return None

    def _servers(self, specs: list[s.MCPServerSpec], path: DataPath) -> list[MCPServerConfig]:
        """The agent's MCP servers, configured but not started: a run connects them."""
        from cadenza.tools.mcp import mcp_from_config

        configs: list[MCPServerConfig] = []
        seen: set[str] = set()
        for index, spec in enumerate(specs):
            where = (*path, index)
            if spec.name in seen:
                self._add(
                    (*where, "name"),
                    f"two MCP servers of this agent are named {spec.name!r}",
                    value=spec.name,
                    expected="a different name for each server",
                )
                continue
            seen.add(spec.name)
            options = spec.model_dump(exclude_defaults=True, exclude={"name"})
            try:
                configs.append(mcp_from_config(spec.name, options, where=_dotted(where)))
            except CadenzaError as exc:
                self._add(where, str(exc), show_value=False)
        return configs

    def _check_providers(self, model: str | list[str] | None, path: DataPath, *, report: bool = True) -> bool:
        """Whether every model string names a known provider (reporting those that do not)."""
        from cadenza.models.registry import known_providers

        if model is None:
            return True
        known = known_providers()
        ok = True
        for index, name in enumerate([model] if isinstance(model, str) else model):
            provider = name.partition(":")[0]
            if name != "offline" and (":" not in name or provider not in known):
                ok = False
                where = path if isinstance(model, str) else (*path, index)
                if report:
                    self._add(
                        where,
                        f"unknown model provider in {name!r}",
                        value=name,
                        expected=f"'provider:name' with provider one of {', '.join(known)}, or 'offline'",
                    )
        return ok

    def _tool(self, name: str, path: DataPath) -> Tool[Any, Any] | None:
        if name in self.tools:
            return self.tools[name]
        if name in self.broken_tools or name in self.spec.tools:
            return None  # already reported where it is declared
        from cadenza.tools.registry import get_tool, tool_names

        try:
            return get_tool(name)
        except KeyError:
            known = sorted({*self.tools, *tool_names()})
            self._add(
                path,
                f"unknown tool {name!r}{_did_you_mean(name, known)}",
                show_value=False,
                expected=f"a tool declared under 'tools:' or registered: {', '.join(known) or 'none'}",
            )
            return None

    def _output_type(self, schema: dict[str, Any] | str | None, path: DataPath, name: str) -> Any:
        if schema is None:
            return None
        if isinstance(schema, str):
            model = self._import(path, schema, "a pydantic model class")
            if model is not None and not (isinstance(model, type) and hasattr(model, "model_validate")):
                self._add(path, "not a pydantic model class", value=schema, expected="a BaseModel subclass")
                return None
            return model
        from cadenza.workflows.json_schema import SchemaProblem, model_from_json_schema

        try:
            return model_from_json_schema(schema, f"{name} output")
        except SchemaProblem as exc:
            self._add((*path, *exc.path), str(exc), show_value=False)
            return None

    def _only_agent(self, name: str, path: DataPath, role: str) -> Agent | None:
        if name in self.spec.agents:
            return self._agent(name)
        if name in self.spec.steps:
            self._add(
                path,
                f"{name!r} is a step, but {role} must be an agent",
                value=name,
                expected=f"one of the agents: {', '.join(self.spec.agents)}",
            )
            return None
        known = list(self.spec.agents)
        self._add(
            path,
            f"unknown agent {name!r}{_did_you_mean(name, known)}",
            value=name,
            expected=f"one of the agents: {', '.join(known) or '(none declared)'}",
        )
        return None

    # -- steps ---------------------------------------------------------------------------------

    def _named_step(self, name: str, ref_path: DataPath) -> Step | None:
        if name in self.building:
            cycle = " -> ".join([*self.building[self.building.index(name) :], name])
            self._add(
                ref_path, f"cycle: step {cycle}", value=name, expected="steps that do not contain themselves"
            )
            return None
        if name in self.named:
            return self.named[name]
        self.building.append(name)
        try:
            step = self._node(self.spec.steps[name], ("steps", name), default_name=name)
        finally:
            self.building.pop()
        self.named[name] = step
        return step

    def _ref(self, name: str, path: DataPath) -> Step | None:
        from cadenza.workflows.loader import BROKEN

        if name == BROKEN:
            return None  # a step that did not validate: already reported
        if name in self.spec.agents:
            return self._agent(name)
        if name in self.spec.steps:
            return self._named_step(name, path)
        known = [*self.spec.agents, *self.spec.steps]
        self._add(
            path,
            f"unknown agent or step {name!r}{_did_you_mean(name, known)}",
            value=name,
            expected=f"one of: {', '.join(known) or '(no agents or steps declared)'}",
        )
        return None

    def _node(self, node: Any, path: DataPath, default_name: str | None = None) -> Step | None:
        if isinstance(node, str):
            return self._ref(node, path)
        if isinstance(node, s.AgentNode):
            return self._only_agent(node.agent, (*path, "agent"), "this step")
        if isinstance(node, s.PipelineNode):
            return self._pipeline(node.pipeline, (*path, "pipeline"), default_name)
        if isinstance(node, s.ParallelNode):
            return self._parallel(node.parallel, (*path, "parallel"), default_name)
        if isinstance(node, s.SupervisorNode):
            return self._supervisor(node.supervisor, (*path, "supervisor"), default_name)
        if isinstance(node, s.ReflectiveNode):
            return self._reflective(node.reflective, (*path, "reflective"), default_name)
        return self._custom(node, path, default_name)

    def _children(self, nodes: Sequence[Any], path: DataPath) -> list[Step] | None:
        built = [self._node(n, (*path, i)) for i, n in enumerate(nodes)]
        return None if any(b is None for b in built) else [b for b in built if b is not None]

    def _construct(self, path: DataPath, make: Any) -> Step | None:
        try:
            step: Step = make()
        except CadenzaError as exc:
            self._add(path, str(exc), show_value=False)
            return None
        return step

    def _pipeline(self, spec: s.PipelineSpec, path: DataPath, default_name: str | None) -> Step | None:
        stages = self._children(spec.stages, (*path, "stages"))
        if stages is None:
            for key, gate_specs in spec.gates.items():  # still check the gates' own contents
                self._gate_list(gate_specs, (*path, "gates", key))
            return None
        gates = self._gates(spec, stages, path)
        name = spec.name or default_name or "pipeline"
        return self._construct(
            path, lambda: Pipeline(stages, gates=gates, max_gate_retries=spec.max_gate_retries, name=name)
        )

    def _gates(self, spec: s.PipelineSpec, stages: list[Step], path: DataPath) -> dict[str | int, Gate]:
        names = [stage.name for stage in stages]
        out: dict[str | int, Gate] = {}
        for key, gate_specs in spec.gates.items():
            key_path = (*path, "gates", key)
            known = (isinstance(key, int) and 0 <= key < len(stages)) or key in names
            if not known:
                self._add(
                    key_path,
                    f"gate for unknown stage {key!r}{_did_you_mean(str(key), names)}",
                    at_key=True,
                    show_value=False,
                    expected=f"a stage name ({', '.join(names)}) or index 0..{len(stages) - 1}",
                )
            gate = self._gate_list(gate_specs, key_path)
            if known and gate is not None:
                out[key] = gate
        return out

    def _gate_list(self, gate_specs: list[Any], path: DataPath) -> Gate | None:
        listed = isinstance(data_at(self.source.data, path), list)
        built = [self._gate(g, (*path, i) if listed else path) for i, g in enumerate(gate_specs)]
        if any(g is None for g in built):
            return None
        ready = [g for g in built if g is not None]
        return ready[0] if len(ready) == 1 else AllGates(ready)

    def _gate(self, spec: Any, path: DataPath) -> Gate | None:
        if isinstance(spec, s.JudgeGateSpec):
            judge = self._only_agent(spec.judge, (*path, "judge"), "a judge")
            return JudgeGate(judge, spec.criteria) if judge else None
        if isinstance(spec, s.PythonGateSpec):
            fn = self._import((*path, "python"), spec.python, "a function of the output")
            if fn is not None and not callable(fn):
                self._add((*path, "python"), "not callable", value=spec.python, expected="a function")
                return None
            return CallableGate(fn, name=spec.python) if fn is not None else None
        if isinstance(spec, s.SchemaGateSpec):
            model = self._output_type(spec.schema_, (*path, "schema"), "gate")
            if model is None:
                return None
            if not (isinstance(model, type) and hasattr(model, "model_validate")):
                self._add(
                    (*path, "schema"),
                    "a schema gate needs an object schema",
                    show_value=False,
                    expected="type: object with properties",
                )
                return None
            return SchemaGate(model)
        return TextGate(
            min_length=spec.min_length,
            max_length=spec.max_length,
            contains=spec.contains,
            not_contains=spec.not_contains,
        )

    def _parallel(self, spec: s.ParallelSpec, path: DataPath, default_name: str | None) -> Step | None:
        branches = self._children(spec.branches, (*path, "branches"))
        merge: Any = spec.merge
        if isinstance(merge, s.AgentMergeSpec):
            merge = self._only_agent(merge.agent, (*path, "merge", "agent"), "a merge")
        elif isinstance(merge, s.PythonMergeSpec):
            merge = self._import(
                (*path, "merge", "python"), merge.python, "a function of the list of outputs"
            )
        if branches is None or merge is None:
            return None
        name = spec.name or default_name or "parallel"
        return self._construct(
            path,
            lambda: Parallel(
                branches,
                merge=merge,
                max_concurrency=spec.max_concurrency,
                branch_timeout=spec.branch_timeout,
                on_failure=spec.on_failure,
                quorum=spec.quorum,
                name=name,
            ),
        )

    def _supervisor(self, spec: s.SupervisorSpec, path: DataPath, default_name: str | None) -> Step | None:
        boss = self._only_agent(spec.supervisor, (*path, "supervisor"), "a supervisor")
        specialists = self._children(spec.specialists, (*path, "specialists"))
        synthesizer = (
            self._only_agent(spec.synthesizer, (*path, "synthesizer"), "a synthesizer")
            if spec.synthesizer
            else None
        )
        if boss is None or specialists is None or (spec.synthesizer and synthesizer is None):
            return None
        name = spec.name or default_name or "supervisor"
        return self._construct(
            path,
            lambda: Supervisor(
                boss,
                specialists,
                max_turns=spec.max_turns,
                max_subtasks=spec.max_subtasks,
                concurrent=spec.concurrent,
                synthesizer=synthesizer,
                name=name,
            ),
        )

    def _reflective(self, spec: s.ReflectiveSpec, path: DataPath, default_name: str | None) -> Step | None:
        agent = self._node(spec.agent, (*path, "agent"))
        critic = self._only_agent(spec.critic, (*path, "critic"), "a critic") if spec.critic else None
        if agent is None or (spec.critic and critic is None):
            return None
        name = spec.name or default_name or "reflective"
        return self._construct(
            path,
            lambda: Reflective(
                agent,
                critic=critic,
                max_rounds=spec.max_rounds,
                threshold=spec.threshold,
                require_pass=spec.require_pass,
                name=name,
            ),
        )

    # -- custom patterns -----------------------------------------------------------------------

    def _custom(self, node: s.CustomNode, path: DataPath, default_name: str | None) -> Step | None:
        from cadenza.patterns.registry import get_pattern, pattern_names, spec_factory

        pattern, options = node.pattern, dict(node.options)
        try:
            cls = get_pattern(pattern)
        except KeyError:
            known = [*pattern_names(), "agent"]
            self._add(
                (*path, pattern),
                f"unknown pattern key {pattern!r}{_did_you_mean(pattern, known)}",
                at_key=True,
                show_value=False,
                expected=f"one of: {', '.join(known)} (custom patterns: register_pattern)",
            )
            return None
        if node.raw_options is not None and not isinstance(node.raw_options, dict):
            self._add(
                (*path, pattern),
                f"the options of pattern {pattern!r} must be a mapping",
                expected=f"{pattern}: {{option: value, ...}}",
            )
            return None
        if default_name and "name" not in options:
            options["name"] = default_name
        factory = spec_factory(pattern)
        with self._at((*path, pattern)):
            try:
                step = factory(options, self) if factory is not None else cls(**options)
            except (CadenzaError, TypeError, ValueError) as exc:
                self._add((*path, pattern), f"cannot build pattern {pattern!r}: {exc}", show_value=False)
                return None
        return step

    @contextmanager
    def _at(self, base: DataPath) -> Iterator[None]:
        saved, self.base = self.base, base
        try:
            yield
        finally:
            self.base = saved

    def step(self, value: Any, *where: str | int) -> Step:
        """``SpecBuilder.step``: validate and build a child step written in a custom pattern."""
        from pydantic import TypeAdapter, ValidationError

        from cadenza.workflows.loader import problems_from_validation

        path = (*self.base, *where)
        try:
            node = TypeAdapter(s.StepNode).validate_python(value)
        except ValidationError as exc:
            problems_from_validation(self.source, exc, path)
            return _Broken(str(where[-1]) if where else "step")
        with self._at(()):
            built = self._node(node, path)
        return built or _Broken(str(value) if isinstance(value, str) else "step")

    def agent(self, name: str, *where: str | int) -> Step:
        """``SpecBuilder.agent``: the file's agent ``name``."""
        found = self._only_agent(name, (*self.base, *where), "this option")
        return found or _Broken(name)


def _default_model() -> str:
    from cadenza.config import get_settings

    return get_settings().default_model


def _dotted(path: DataPath) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")


def _first(*values: Any) -> Any:
    return next((v for v in values if v is not None), None)


def _did_you_mean(name: str, known: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""
