"""A period budget in a workflow registered over HTTP: each team has its own period."""

from __future__ import annotations

from tests.api.conftest import ApiServer, register, wait_for_run

DAILY = """\
name: daily
agents:
  researcher: {instructions: Find facts.}
  writer: {instructions: Write it up.}
workflow:
  pipeline: {name: daily, stages: [researcher, writer]}
budget: {period: day, max_model_calls: 3}
"""


def test_the_days_calls_are_shared_by_a_teams_runs_and_not_across_teams(api: ApiServer) -> None:
    with api.client("operator") as client:
        workflow = register(client, DAILY)
        first = client.post("/v1/runs", json={"workflow_id": workflow["id"], "input": "one"}).json()
        assert wait_for_run(client, first["id"])["status"] == "succeeded"
        # One call is left for the day: the second run makes it and stops before its second.
        second = client.post("/v1/runs", json={"workflow_id": workflow["id"], "input": "two"}).json()
        stopped = wait_for_run(client, second["id"], ("budget_exceeded", "succeeded", "failed"))
        assert stopped["status"] == "budget_exceeded", stopped
        assert "max_model_calls" in stopped["error"]
        calls = client.get("/v1/costs", params={"by": "run", "workflow": "daily"}).json()
        assert {line["key"]: line["calls"] for line in calls["lines"]} == {first["id"]: 2, second["id"]: 1}
        # The day is spent: the next run is refused before any call.
        third = client.post("/v1/runs", json={"workflow_id": workflow["id"], "input": "three"}).json()
        refused = wait_for_run(client, third["id"], ("budget_exceeded", "succeeded", "failed"))
        assert refused["status"] == "budget_exceeded" and "is spent" in refused["error"], refused
    with api.client("operator@other") as other:
        theirs = register(other, DAILY)
        run = other.post("/v1/runs", json={"workflow_id": theirs["id"], "input": "one"}).json()
        assert wait_for_run(other, run["id"])["status"] == "succeeded"
