"""The workflow file format, as pydantic models: the one source of its JSON Schema.

A workflow file declares agents and a tree of steps. A step is written as the name of an agent
(or of a named step under ``steps:``), or as a mapping with exactly one pattern key::

    workflow:
      pipeline:
        stages:
          - researcher
          - parallel: {branches: [bull, bear], merge: concat}
          - reflective: {agent: writer, critic: editor}
        gates:
          writer: {min_length: 200}

Any pattern registered with ``cadenza.patterns.register_pattern`` may be used as a key too.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    RootModel,
    StringConstraints,
    Tag,
    WithJsonSchema,
    model_validator,
)
from pydantic_core import PydanticCustomError

from cadenza.models.price_spec import ModelName, PriceSpec

Name = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$", max_length=80)]
ModelRef = Annotated[
    str | Annotated[list[str], Field(min_length=1)],
    Field(description="A model string (provider:name, or 'offline'), or a list tried in order as fallbacks."),
]
ImportPath = Annotated[
    str,
    StringConstraints(pattern=r"^[^:\s]+:[A-Za-z_][A-Za-z0-9_.]*$"),
    Field(description="'module:attribute', or 'file.py:attribute' relative to the workflow file."),
]
BUILTIN_PATTERNS = ("pipeline", "parallel", "supervisor", "reflective")
MERGE_STRATEGIES = ("concat", "list", "dict", "vote")
TEXT_GATE_KEYS = ("min_length", "max_length", "contains", "not_contains")
GATE_EXPECTED = "a gate: a mapping with schema, judge, python, or min_length/max_length/contains/not_contains"
STEP_EXPECTED = (
    "a step: an agent or step name, or a mapping with exactly one key "
    "(pipeline, parallel, supervisor, reflective, agent, or a registered pattern)"
)


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class RetrySpec(_Spec):
    """How failed model calls (429, 5xx, timeouts) are retried before falling back."""

    max_attempts: int = Field(4, ge=1)
    base_delay: float = Field(0.5, ge=0)
    max_delay: float = Field(30.0, ge=0)


class ShortTermSpec(_Spec):
    """The conversation sent to the model is fitted to this many tokens."""

    max_tokens: int = Field(8000, ge=1)


class MemorySpec(_Spec):
    """An agent's memory: lessons and relevant memories in its system message, remember/recall
    tools, the lessons a reflective loop learns, and a short-term token budget.

    Long-term memory lives in the store's database (or at ``url``) and survives restarts.
    """

    url: str | None = Field(
        None, description="A SQLite path or postgresql:// URL; default: the store's database."
    )
    user: str | None = Field(None, description="Also recall (and let remember write) this user's memories.")
    workflow: str | None = Field(None, description="Also recall this workflow's memories.")
    recall: int = Field(3, ge=0, description="Memories relevant to the prompt added to the system message.")
    lessons: int = Field(5, ge=0, description="Newest lessons added to the system message.")
    tools: bool = Field(True, description="Give the agent remember and recall tools.")
    learn: bool = Field(True, description="A reflective loop keeps its critic's helpful feedback as lessons.")
    long_term: bool = Field(True, description="Keep long-term memory (false: short-term only).")
    short_term: ShortTermSpec | None = None
    embeddings: (
        Literal["hash", "wordllama", "none"]
        | Annotated[str, StringConstraints(pattern=r"^openai:\S+$")]
        | None
    ) = Field(None, description="Semantic recall: 'wordllama' (offline), 'hash', 'openai:<model>' or 'none'.")


def _memory_shorthand(value: Any) -> Any:
    """``memory: true`` is memory with every default; ``memory: false`` is none."""
    if value is True:
        return {}
    if value is False:
        return None
    return value


MemoryField = Annotated[
    MemorySpec | None,
    BeforeValidator(_memory_shorthand, json_schema_input_type=bool | MemorySpec),
]


class SearchToolSpec(_Spec):
    """A ``web_search`` tool over a folder of documents (the local full-text backend): it works
    offline, and the folder can ship next to the workflow file."""

    corpus: str = Field(
        min_length=1,
        description="A folder of documents (.md, .txt, .html; PDF, DOCX, XLSX, PPTX with the tools "
        "extra), relative to this file.",
    )
    max_results: int = Field(5, ge=1, le=20, description="Results per search when the model asks for none.")
    description: str | None = Field(
        None, description="What the tool tells the model it searches (default: web_search's own)."
    )


def _tool_kind(value: Any) -> str | None:
    if isinstance(value, str):
        return "import"
    if isinstance(value, dict | SearchToolSpec):
        return "search"
    return None


ToolRef = Annotated[
    Annotated[ImportPath, Tag("import")] | Annotated[SearchToolSpec, Tag("search")],
    Discriminator(
        _tool_kind,
        custom_error_type="tool_ref",
        custom_error_message="a tool: 'module:attribute' / 'file.py:attribute', or {corpus: FOLDER} "
        "for web_search over local documents",
    ),
]


class MCPServerSpec(_Spec):
    """An MCP server whose tools the agent gets: a subprocess over stdio (``command``) or a
    streamable-HTTP endpoint (``url``). Connected when a run starts, closed when it ends."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "anyOf": [{"required": ["command"]}, {"required": ["url"]}],
            "not": {"required": ["command", "url"]},
        },
    )

    name: Name
    command: str | None = Field(None, min_length=1, description="stdio: the program to start.")
    args: list[str] = Field(default_factory=list, description="stdio: its arguments.")
    env: dict[str, str] | None = Field(None, description="stdio: its environment (use ${VAR} for secrets).")
    cwd: str | None = Field(None, description="stdio: its working directory.")
    url: str | None = Field(
        None,
        pattern=r"^https?://\S+$",
        description="Streamable HTTP: the endpoint, e.g. http://host:8000/mcp.",
    )
    headers: dict[str, str] = Field(default_factory=dict, description="Streamable HTTP: request headers.")
    allow: list[str] | None = Field(
        None, min_length=1, description="Only these of the server's tools (default: all of them)."
    )
    prefix: str = Field(
        "", pattern=r"^[A-Za-z0-9_.-]*$", description="Put before each tool name, to keep servers apart."
    )
    timeout: float = Field(60.0, gt=0, description="Seconds a tool call may take.")

    @model_validator(mode="after")
    def _one_transport(self) -> MCPServerSpec:
        if (self.command is None) == (self.url is None):
            raise PydanticCustomError(
                "mcp_transport", "give exactly one of 'command' (stdio) or 'url' (streamable HTTP)"
            )
        return self


class AgentSpec(_Spec):
    """An agent: a model, instructions, tools, and optionally a structured output."""

    model: ModelRef | None = None
    instructions: str = ""
    description: str = Field(
        "", description="One line a supervisor sees; defaults to the first line of the instructions."
    )
    tools: list[Name] = Field(
        default_factory=list, description="Names of registered tools or of tools declared under 'tools'."
    )
    capabilities: list[str] = Field(default_factory=list)
    output_schema: dict[str, Any] | ImportPath | None = Field(
        None, description="A JSON Schema the answer must match, or the import path of a pydantic model."
    )
    max_tool_rounds: int | None = Field(None, ge=0)
    max_tokens: int | None = Field(None, ge=1)
    temperature: float | None = Field(None, ge=0, le=2)
    retry: RetrySpec | None = None
    memory: MemoryField = Field(
        None, description="Memory for this agent: true for the defaults, or a mapping of settings."
    )
    mcp: list[MCPServerSpec] = Field(
        default_factory=list, description="MCP servers whose tools this agent gets during a run."
    )


class DefaultsSpec(_Spec):
    """Settings every agent gets unless it sets its own."""

    model: ModelRef | None = None
    max_tool_rounds: int | None = Field(None, ge=0)
    max_tokens: int | None = Field(None, ge=1)
    temperature: float | None = Field(None, ge=0, le=2)
    retry: RetrySpec | None = None


class BudgetSpec(_Spec):
    """Limits for one run; a run that would cross one stops with status budget_exceeded."""

    max_tokens: int | None = Field(None, ge=1)
    max_cost_usd: Decimal | None = Field(None, gt=0)
    max_seconds: float | None = Field(None, gt=0)
    max_model_calls: int | None = Field(None, ge=1)
    alert_at: list[Annotated[float, Field(gt=0, le=1)]] | None = Field(
        None, description="Fractions of a limit at which a budget warning is emitted, e.g. [0.5, 0.8]."
    )
    min_output_tokens: int | None = Field(None, ge=1)
    default_output_tokens: int | None = Field(None, ge=1)
    alert_webhook: str | None = Field(None, description="A URL alerts are posted to; use ${VAR} for secrets.")
    period: str | None = Field(
        None,
        pattern=r"^(day|week|month|\d+(\.\d+)?[smhdw])$",
        description=(
            "Make the token, money and call limits hold over a rolling period of this workflow "
            "(day, week, month, or a duration like 12h): each run gets what the period has left. "
            "Needs a stored (durable) run."
        ),
    )


class SchemaGateSpec(_Spec):
    """The output must match a JSON Schema (or a pydantic model given by import path)."""

    schema_: dict[str, Any] | ImportPath = Field(alias="schema")


class JudgeGateSpec(_Spec):
    """An LLM judge (an agent of this file) decides whether the output meets the criteria."""

    judge: Name
    criteria: str = ""


class PythonGateSpec(_Spec):
    """A Python function of the output: True/None pass, False fails, a string is the feedback."""

    python: ImportPath


class TextGateSpec(_Spec):
    """Simple checks on the output's text."""

    min_length: int | None = Field(None, ge=0)
    max_length: int | None = Field(None, ge=1)
    contains: list[str] = Field(default_factory=list)
    not_contains: list[str] = Field(default_factory=list)


def _gate_kind(value: Any) -> str | None:
    if isinstance(value, BaseModel):
        return {SchemaGateSpec: "schema", JudgeGateSpec: "judge", PythonGateSpec: "python"}.get(
            type(value), "text"
        )
    if not isinstance(value, dict):
        return None
    for key in ("schema", "judge", "python"):
        if key in value:
            return key
    if any(key in value for key in TEXT_GATE_KEYS):
        return "text"
    return None


GateSpec = Annotated[
    Annotated[SchemaGateSpec, Tag("schema")]
    | Annotated[JudgeGateSpec, Tag("judge")]
    | Annotated[PythonGateSpec, Tag("python")]
    | Annotated[TextGateSpec, Tag("text")],
    Discriminator(
        _gate_kind,
        custom_error_type="gate_kind",
        custom_error_message=GATE_EXPECTED,
    ),
]


def _as_list(value: Any) -> Any:
    return value if isinstance(value, list) else [value]


GateList = Annotated[
    list[GateSpec],
    Field(min_length=1),
    BeforeValidator(_as_list, json_schema_input_type=GateSpec | list[GateSpec]),
]


class AgentMergeSpec(_Spec):
    """Merge branch outputs with an agent (a synthesiser) that receives them by branch name."""

    agent: Name


class PythonMergeSpec(_Spec):
    """Merge branch outputs with a Python function of the list of outputs."""

    python: ImportPath


MergeSpec = Literal["concat", "list", "dict", "vote"] | AgentMergeSpec | PythonMergeSpec


class PipelineSpec(_Spec):
    """Stages in order, each handed the previous stage's output; gates check outputs between them."""

    name: Name | None = None
    stages: list[StepNode] = Field(min_length=1)
    gates: dict[Name | int, GateList] = Field(
        default_factory=dict, description="Gates by stage name or index; several gates must all pass."
    )
    max_gate_retries: int = Field(2, ge=0)


class ParallelSpec(_Spec):
    """Branches run concurrently on the same input; their outputs are merged."""

    name: Name | None = None
    branches: list[StepNode] = Field(min_length=1)
    merge: MergeSpec = "concat"
    max_concurrency: int | None = Field(None, ge=1)
    branch_timeout: float | None = Field(None, gt=0)
    on_failure: Literal["fail_fast", "best_effort"] = "fail_fast"
    quorum: int | None = Field(None, ge=1)


class SupervisorSpec(_Spec):
    """A supervisor agent plans subtasks for specialists, then writes the final answer."""

    name: Name | None = None
    supervisor: Name = Field(description="The planning agent (an agent of this file).")
    specialists: list[StepNode] = Field(min_length=1)
    max_turns: int = Field(3, ge=1)
    max_subtasks: int = Field(8, ge=1)
    concurrent: bool = True
    synthesizer: Name | None = None


class ReflectiveSpec(_Spec):
    """Draft, critique, improve, until the critic's score reaches the threshold."""

    name: Name | None = None
    agent: StepNode
    critic: Name | None = Field(None, description="The critic agent; without one the agent critiques itself.")
    max_rounds: int = Field(3, ge=1)
    threshold: float = Field(0.8, ge=0, le=1)
    require_pass: bool = False


class AgentNode(_Spec):
    agent: Name


class PipelineNode(_Spec):
    pipeline: PipelineSpec


class ParallelNode(_Spec):
    parallel: ParallelSpec


class SupervisorNode(_Spec):
    supervisor: SupervisorSpec


class ReflectiveNode(_Spec):
    reflective: ReflectiveSpec


# Any value is accepted here so that an unknown key written with a scalar (``reflectiv: writer``)
# is reported by the builder as an unknown pattern key with a suggestion, not as a type error;
# the builder checks that a known pattern's options are a mapping. The schema stays strict.
CustomOptions = Annotated[
    Any,
    WithJsonSchema({"anyOf": [{"type": "object", "additionalProperties": True}, {"type": "null"}]}),
]


class CustomNode(RootModel[dict[Name, CustomOptions]]):
    """A registered custom pattern: ``{pattern_name: {options...}}``."""

    @property
    def pattern(self) -> str:
        return next(iter(self.root))

    @property
    def raw_options(self) -> Any:
        return next(iter(self.root.values()))

    @property
    def options(self) -> dict[str, Any]:
        value = self.raw_options
        return value if isinstance(value, dict) else {}


_NODE_TYPES: dict[type[Any], str] = {
    AgentNode: "agent",
    PipelineNode: "pipeline",
    ParallelNode: "parallel",
    SupervisorNode: "supervisor",
    ReflectiveNode: "reflective",
    CustomNode: "custom",
}


def _node_kind(value: Any) -> str | None:
    if isinstance(value, str):
        return "ref"
    if isinstance(value, BaseModel):
        return _NODE_TYPES.get(type(value))
    if isinstance(value, dict) and len(value) == 1:
        key = next(iter(value))
        return key if key in (*BUILTIN_PATTERNS, "agent") else "custom"
    return None


StepNode = Annotated[
    Annotated[Name, Tag("ref")]
    | Annotated[AgentNode, Tag("agent")]
    | Annotated[PipelineNode, Tag("pipeline")]
    | Annotated[ParallelNode, Tag("parallel")]
    | Annotated[SupervisorNode, Tag("supervisor")]
    | Annotated[ReflectiveNode, Tag("reflective")]
    | Annotated[CustomNode, Tag("custom")],
    Discriminator(
        _node_kind,
        custom_error_type="step_node",
        custom_error_message=STEP_EXPECTED,
    ),
]


class WorkflowSpec(_Spec):
    """A workflow file: agents, tools and named steps, and the workflow tree to run."""

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
        title="Cadenza workflow",
        json_schema_extra={"$id": "https://cadenza.dev/schema/workflow.json"},
    )

    schema_ref: str | None = Field(
        None, alias="$schema", description="Editors: the JSON Schema of this format."
    )
    version: Literal[1] = 1
    name: Name
    description: str = ""
    example_input: str | None = Field(
        None, description="The input `cadenza run` uses when none is given (also used by tests and the demo)."
    )
    imports: list[str] = Field(
        default_factory=list,
        description="Python modules (or .py files relative to this file) imported first: they may "
        "register tools and patterns.",
    )
    defaults: DefaultsSpec = Field(default_factory=lambda: DefaultsSpec.model_validate({}))
    tools: dict[Name, ToolRef] = Field(
        default_factory=dict,
        description="Tools by name: the import path of a @tool or a plain function, or {corpus: "
        "FOLDER} for a web_search over local documents.",
    )
    agents: dict[Name, AgentSpec] = Field(default_factory=dict)
    steps: dict[Name, StepNode] = Field(
        default_factory=dict, description="Named steps that the workflow (or other steps) use by name."
    )
    workflow: StepNode
    budget: BudgetSpec | None = None
    prices: dict[ModelName, PriceSpec] = Field(
        default_factory=dict,
        description="Prices per model (USD per million tokens) for this workflow's runs; they win "
        "over the config file's prices and the price list.",
    )


for _model in (PipelineSpec, ParallelSpec, SupervisorSpec, ReflectiveSpec, WorkflowSpec):
    _model.model_rebuild()
