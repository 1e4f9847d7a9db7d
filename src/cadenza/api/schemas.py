"""Request and response bodies. Requests forbid unknown fields; every response has a model."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from cadenza.api.roles import Role
from cadenza.workflows.spec import AgentSpec

PAGE_CAP = 100
Team = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$", max_length=100)]
Name = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$", max_length=80)]


def _no_lone_surrogates(value: Any) -> None:
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("text contains an unpaired UTF-16 surrogate (\\ud800-\\udfff escape)") from None
    elif isinstance(value, dict):
        for key, item in value.items():
            _no_lone_surrogates(key)
            _no_lone_surrogates(item)
    elif isinstance(value, list):
        for item in value:
            _no_lone_surrogates(item)


class Request(BaseModel):
    """A request body: unknown fields are refused, and so is text that is not valid Unicode."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _valid_text(cls, data: Any) -> Any:
        _no_lone_surrogates(data)
        return data


class Page(BaseModel):
    limit: int
    offset: int
    next_offset: int | None = Field(
        default=None, description="Pass as offset for the next page; null on the last."
    )


# Health ---------------------------------------------------------------------------------------


class Health(BaseModel):
    status: Literal["ok"]
    version: str


class Readiness(BaseModel):
    status: Literal["ready"]
    database: str
    schema_revision: str


# Auth -----------------------------------------------------------------------------------------


class TokenPair(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="Seconds until the access token expires.")


class RefreshRequest(Request):
    refresh_token: Annotated[str, StringConstraints(min_length=1, max_length=4096)]


class Me(BaseModel):
    kind: Literal["user", "key"]
    id: str
    name: str
    role: Role
    team: str


# Users and keys -------------------------------------------------------------------------------


class UserCreate(Request):
    name: Annotated[str, StringConstraints(min_length=1, max_length=255, strip_whitespace=True)]
    password: Annotated[str, StringConstraints(min_length=8, max_length=1024)]
    role: Role
    team: Team = "default"


class UserUpdate(Request):
    role: Role | None = None
    disabled: bool | None = None
    password: Annotated[str, StringConstraints(min_length=8, max_length=1024)] | None = None


class UserOut(BaseModel):
    id: str
    name: str
    role: Role
    team: str
    disabled: bool
    created_at: datetime
    updated_at: datetime


class UserList(Page):
    items: list[UserOut]


class KeyCreate(Request):
    name: Annotated[str, StringConstraints(min_length=1, max_length=255, strip_whitespace=True)]
    role: Role
    team: Team = "default"
    expires_in_days: int | None = Field(default=None, ge=1, le=3650)


class KeyOut(BaseModel):
    id: str
    name: str
    role: Role
    team: str
    created_by: str | None
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None


class KeyCreated(KeyOut):
    key: str = Field(description="The API key. Shown this once; only its hash is stored.")


class KeyList(Page):
    items: list[KeyOut]


# Workflows and agents -------------------------------------------------------------------------

SpecText = Annotated[str, StringConstraints(min_length=1, max_length=500_000)]


class WorkflowCreate(Request):
    spec: SpecText | dict[str, Any] = Field(
        description="The workflow file: YAML or JSON text, or a JSON object (the format of `cadenza run`)."
    )


class WorkflowOut(BaseModel):
    id: str
    name: str
    team: str
    version: int
    pattern: str | None
    description: str
    created_at: datetime
    updated_at: datetime


class WorkflowDetail(WorkflowOut):
    spec: dict[str, Any]
    source: str


class WorkflowList(Page):
    items: list[WorkflowOut]


class VersionOut(BaseModel):
    version: int
    created_by: str | None
    created_at: datetime
    spec: dict[str, Any]
    source: str


class VersionList(BaseModel):
    items: list[VersionOut]


class AgentCreate(Request):
    name: Name
    spec: AgentSpec


class AgentOut(BaseModel):
    id: str
    name: str
    team: str
    capabilities: list[str]
    spec: dict[str, Any]
    created_at: datetime


class AgentList(Page):
    items: list[AgentOut]


# Runs -----------------------------------------------------------------------------------------


class RunCreate(Request):
    workflow_id: str | None = Field(default=None, max_length=64)
    version: int | None = Field(default=None, ge=1, description="The workflow version (default: the latest).")
    agent_id: str | None = Field(default=None, max_length=64)
    input: Annotated[str, StringConstraints(min_length=1, max_length=100_000)]
    context: dict[str, Any] = Field(default_factory=dict)
    expected_output: Annotated[str, StringConstraints(max_length=10_000)] | None = None

    @model_validator(mode="after")
    def _one_target(self) -> RunCreate:
        if (self.workflow_id is None) == (self.agent_id is None):
            raise ValueError("give exactly one of workflow_id and agent_id")
        if self.agent_id is not None and self.version is not None:
            raise ValueError("version applies to workflow_id only")
        return self


class RunAccepted(BaseModel):
    id: str
    status: str
    links: dict[str, str]


class RunOut(BaseModel):
    id: str
    workflow: str
    status: str
    attempt: int
    team: str | None
    task: dict[str, Any]
    output: Any = None
    error: str | None = None
    error_type: str | None = None
    usage: dict[str, Any] | None = None
    cost: str | None = None
    waiting: dict[str, Any] | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    finished_at: datetime | None = None


class RunList(Page):
    items: list[RunOut]


class Decision(Request):
    comment: Annotated[str, StringConstraints(max_length=2000)] = ""


class EventList(BaseModel):
    items: list[dict[str, Any]] = Field(description="Events in order; each has seq, type, path and at.")
    next_after: int | None = Field(
        default=None, description="Pass as after= for the next page; null on the last."
    )


class Span(BaseModel):
    path: str
    name: str
    kind: str
    status: Literal["running", "succeeded", "failed"]
    started_at: float
    duration: float | None = None
    cost: str | None = None
    usage: dict[str, Any] | None = None
    error: str | None = None


class Trace(BaseModel):
    run_id: str
    spans: list[Span]


class ModelCost(BaseModel):
    model: str
    calls: int
    input_tokens: int
    output_tokens: int
    cost: str


class Cost(BaseModel):
    run_id: str
    total_cost: str
    input_tokens: int
    output_tokens: int
    by_model: list[ModelCost]


# Audit ----------------------------------------------------------------------------------------


class AuditEntry(BaseModel):
    id: int
    at: datetime
    actor: str | None
    role: str | None
    team: str | None
    action: str
    method: str
    path: str
    status: int
    outcome: str
    client: str | None
    user_agent: str | None
    detail: dict[str, Any] | None


class AuditList(Page):
    items: list[AuditEntry]


# Costs, agent statistics ----------------------------------------------------------------------

CostGroup = Literal["run", "agent", "workflow", "model", "user", "day"]


class CostLineOut(BaseModel):
    """One group's totals; ``cost_usd`` is an exact decimal string."""

    key: str
    runs: int
    calls: int
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    cost_usd: str


class CostReportOut(BaseModel):
    by: CostGroup
    since: datetime | None
    until: datetime | None
    team: str | None = Field(description="The team whose runs are counted; null: every team (admins).")
    lines: list[CostLineOut]
    total: CostLineOut


class AgentStatsOut(BaseModel):
    agent: str
    day: str | None
    invocations: int
    succeeded: int
    failed: int
    success_rate: float
    latency_p50_s: float
    latency_p95_s: float
    input_tokens: int
    output_tokens: int
    cost_usd: str
    mean_confidence: float | None


class AgentStatsList(BaseModel):
    since: datetime | None
    team: str | None
    items: list[AgentStatsOut]
