"""Observability over HTTP: Prometheus ``/metrics``, the cost ledger's reports, agent statistics.

Costs and agent statistics are team-scoped like every other object: a non-admin sees the calls
and steps of their own team's runs only. ``/metrics`` is this process's live collectors, labelled
by workflow, agent and model of every team, so it needs ``metrics:read`` (admins) unless
``CADENZA_METRICS_PUBLIC`` opens it to a scraper on a private network.

This router is included before the agents router: ``/v1/agents/stats`` must not be taken for an
agent id.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import PlainTextResponse

from cadenza.api.auth import Principal
from cadenza.api.deps import api_key_scheme, bearer_scheme, current_principal, limit_anonymous, needs, require
from cadenza.api.errors import Forbidden, responses
from cadenza.api.roles import Permission, allows
from cadenza.api.schemas import AgentStatsList, AgentStatsOut, CostGroup, CostLineOut, CostReportOut
from cadenza.api.services import Svc

router = APIRouter(tags=["observability"])
Since = Annotated[
    str,
    Query(
        max_length=64,
        description="How far back: a duration (30m, 12h, 7d, 2w) or an ISO date/datetime.",
    ),
]


@router.get(
    "/metrics",
    response_class=PlainTextResponse,
    responses={
        200: {
            "description": "Prometheus text exposition format 0.0.4.",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        },
        **responses(401, 403),
    },
    openapi_extra=needs(Permission.metrics_read),
    summary="Prometheus metrics of this process",
    description=(
        "Runs by status, step/model/tool latency histograms, tokens and cost by workflow/agent/model, "
        "retries, gate failures. Needs metrics:read (admins) unless CADENZA_METRICS_PUBLIC=true."
    ),
)
async def metrics(
    request: Request,
    svc: Svc,
    token: Annotated[str | None, Depends(bearer_scheme)],
    key: Annotated[str | None, Depends(api_key_scheme)],
) -> PlainTextResponse:
    from cadenza.observability.metrics import CONTENT_TYPE, render_metrics

    if svc.settings.metrics_public:
        limit_anonymous(request, svc)
    else:
        principal = await current_principal(request, svc, token, key)
        if not allows(principal.role, Permission.metrics_read):
            raise Forbidden(f"role {principal.role.value!r} does not grant {Permission.metrics_read.value!r}")
    return PlainTextResponse(render_metrics(), media_type=CONTENT_TYPE)


@router.get(
    "/v1/costs",
    response_model=CostReportOut,
    responses=responses(403),
    openapi_extra=needs(Permission.costs_read),
    summary="Cost report from the ledger",
    description=(
        "Model calls, tokens and cost grouped by run, agent, workflow, model, user or day, most "
        "expensive first. Costs are exact decimal strings. Non-admins see their team's runs only."
    ),
)
async def costs(
    svc: Svc,
    principal: Annotated[Principal, require(Permission.costs_read)],
    by: CostGroup = "model",
    since: Since = "7d",
    until: Annotated[str | None, Query(max_length=64, description="End (exclusive), same forms.")] = None,
    workflow: Annotated[str | None, Query(max_length=255)] = None,
) -> CostReportOut:
    from cadenza.observability.ledger import cost_report

    team = None if principal.sees_all_teams else principal.team
    report = await cost_report(svc.store, by=by, since=since, until=until, workflow=workflow, team=team)
    data: dict[str, Any] = report.to_dict()
    return CostReportOut(
        by=by,
        since=report.since,
        until=report.until,
        team=team,
        lines=[CostLineOut(**line) for line in data["lines"]],
        total=CostLineOut(**data["total"]),
    )


@router.get(
    "/v1/agents/stats",
    response_model=AgentStatsList,
    responses=responses(403),
    openapi_extra=needs(Permission.agents_read),
    summary="Agent performance: success rate, latency, tokens, cost, confidence",
    description="Every agent invocation of the window's runs, per agent (and per day with by_day).",
    tags=["agents"],
)
async def agent_stats(
    svc: Svc,
    principal: Annotated[Principal, require(Permission.agents_read)],
    since: Since = "7d",
    agent: Annotated[str | None, Query(max_length=255, description="Only this agent.")] = None,
    by_day: bool = False,
) -> AgentStatsList:
    from cadenza.observability.ledger import parse_since
    from cadenza.observability.performance import PerformanceTracker

    team = None if principal.sees_all_teams else principal.team
    start = parse_since(since)
    found = await PerformanceTracker(svc.store).stats(since=start, agent=agent, by_day=by_day, team=team)
    return AgentStatsList(since=start, team=team, items=[AgentStatsOut(**stats.to_dict()) for stats in found])
