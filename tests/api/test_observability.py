"""GET /metrics, GET /v1/costs and GET /v1/agents/stats against a real server on loopback.

Runs use the offline model with a price set for it (the server runs in this process), so costs
are non-zero exact decimals. Costs and statistics are team-scoped; /metrics is admin-only unless
the server is configured to expose it to scrapers.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.api.conftest import ApiServer, register, start_server, wait_for_run

from cadenza.models.pricing import clear_price_overrides, set_price

TWO_AGENTS = """\
name: report
agents:
  researcher: {instructions: Find facts.}
  writer: {instructions: Write it up.}
workflow:
  pipeline: {name: report, stages: [researcher, writer]}
"""


@pytest.fixture(scope="module", autouse=True)
def priced() -> Iterator[None]:
    set_price("offline", input_per_mtok="1.25", output_per_mtok="10")
    yield
    clear_price_overrides()


@pytest.fixture(scope="module")
def runs(api: ApiServer) -> dict[str, Any]:
    """Two runs of the default team, one of the other team; their ids and costs."""
    done: dict[str, Any] = {"default": [], "other": []}
    for who, team, count in (("operator", "default", 2), ("operator@other", "other", 1)):
        with api.client(who) as client:
            workflow = register(client, TWO_AGENTS)
            for i in range(count):
                started = client.post("/v1/runs", json={"workflow_id": workflow["id"], "input": f"topic {i}"})
                run = wait_for_run(client, started.json()["id"])
                cost = client.get(f"/v1/runs/{run['id']}/cost").json()
                done[team].append({"id": run["id"], "cost": Decimal(cost["total_cost"])})
    return done


def test_costs_by_run_are_exact_and_team_scoped(api: ApiServer, runs: dict[str, Any]) -> None:
    mine = {r["id"]: r["cost"] for r in runs["default"]}
    theirs = {r["id"]: r["cost"] for r in runs["other"]}
    assert all(cost > 0 for cost in [*mine.values(), *theirs.values()])
    with api.client("viewer") as viewer:
        report = viewer.get("/v1/costs", params={"by": "run", "since": "1h"}).json()
    assert report["team"] == "default" and report["by"] == "run"
    assert {line["key"]: Decimal(line["cost_usd"]) for line in report["lines"]} == mine
    assert Decimal(report["total"]["cost_usd"]) == sum(mine.values())
    assert report["total"]["calls"] == 4 and report["total"]["runs"] == 2
    # Exact decimal strings, never floats.
    assert all(isinstance(line["cost_usd"], str) for line in report["lines"])

    with api.client("admin") as admin:
        everything = admin.get("/v1/costs", params={"by": "run", "since": "1h"}).json()
        by_agent = admin.get("/v1/costs", params={"by": "agent"}).json()
        by_workflow = admin.get("/v1/costs", params={"by": "workflow", "workflow": "report"}).json()
    assert everything["team"] is None
    assert {line["key"]: Decimal(line["cost_usd"]) for line in everything["lines"]} == {**mine, **theirs}
    assert {line["key"] for line in by_agent["lines"]} == {"researcher", "writer"}
    assert [line["key"] for line in by_workflow["lines"]] == ["report"]
    assert Decimal(by_workflow["total"]["cost_usd"]) == sum([*mine.values(), *theirs.values()])

    with api.client("viewer@other") as other:
        theirs_only = other.get("/v1/costs", params={"by": "run"}).json()
    assert {line["key"] for line in theirs_only["lines"]} == set(theirs)


def test_costs_bad_parameters_are_422(api: ApiServer) -> None:
    with api.client("viewer") as viewer:
        for params in ({"by": "planet"}, {"since": "last tuesday"}, {"since": "99999999999w"}):
            response = viewer.get("/v1/costs", params=params)
            assert response.status_code == 422, (params, response.text)
            assert response.json()["error"]["type"] == "invalid"
        future = viewer.get("/v1/costs", params={"since": "2999-01-01"}).json()
    assert future["lines"] == [] and future["total"]["cost_usd"] == "0"


def test_agent_stats_are_team_scoped(api: ApiServer, runs: dict[str, Any]) -> None:
    with api.client("viewer") as viewer:
        stats = viewer.get("/v1/agents/stats", params={"since": "1h"}).json()
        writer = viewer.get("/v1/agents/stats", params={"agent": "writer", "by_day": True}).json()
    by_agent = {s["agent"]: s for s in stats["items"]}
    assert set(by_agent) == {"researcher", "writer"}
    assert by_agent["writer"]["invocations"] == 2 and by_agent["writer"]["success_rate"] == 1.0
    assert by_agent["writer"]["output_tokens"] > 0 and Decimal(by_agent["writer"]["cost_usd"]) > 0
    assert [s["agent"] for s in writer["items"]] == ["writer"] and writer["items"][0]["day"]
    with api.client("admin") as admin:
        everything = admin.get("/v1/agents/stats").json()
    assert {s["agent"]: s["invocations"] for s in everything["items"]} == {"researcher": 3, "writer": 3}
    # "stats" is not taken for an agent id; an agent id still is.
    with api.client("viewer") as viewer:
        assert viewer.get(f"/v1/agents/{'a' * 32}").status_code == 404


def test_metrics_need_an_admin_and_count_the_runs(api: ApiServer, runs: dict[str, Any]) -> None:
    with api.client("admin") as admin:
        response = admin.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    finished = [
        line
        for line in response.text.splitlines()
        if line.startswith("cadenza_runs_total{") and 'workflow="report"' in line
    ]
    assert finished and sum(float(line.rsplit(" ", 1)[1]) for line in finished) >= 3
    with api.client("viewer") as viewer:
        denied = viewer.get("/metrics")
    assert denied.status_code == 403 and denied.json()["error"]["type"] == "forbidden"
    anonymous = httpx.get(f"{api.base_url}/metrics")
    assert anonymous.status_code == 401 and anonymous.json()["error"]["type"] == "unauthorized"


def test_metrics_can_be_public_for_a_scraper(tmp_path: Path) -> None:
    server = start_server(f"sqlite:///{tmp_path / 'public.db'}", metrics_public=True)
    try:
        response = httpx.get(f"{server.base_url}/metrics")
        assert response.status_code == 200
        assert "# TYPE cadenza_runs_in_progress gauge" in response.text
        # Only /metrics: the rest still needs credentials.
        assert httpx.get(f"{server.base_url}/v1/costs").status_code == 401
    finally:
        server.stop()
