"""``GET /v1/runs/{id}/tasks``: a run's agent invocations over real HTTP, SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from tests.api.conftest import ApiServer, register, wait_for_run

TWO_AGENTS = """\
name: two-agents
agents:
  researcher: {instructions: Research it.}
  writer: {instructions: Write it up.}
workflow:
  pipeline:
    stages: [researcher, writer]
"""


@pytest.mark.parametrize("server", ["api", "api_pg"])
def test_a_runs_tasks_are_listed_in_order_for_its_team_only(
    request: pytest.FixtureRequest, server: str
) -> None:
    api: ApiServer = request.getfixturevalue(server)
    with api.client("operator") as client:
        flow = register(client, TWO_AGENTS)
        started = client.post("/v1/runs", json={"workflow_id": flow["id"], "input": "tidal power"}).json()
        run = wait_for_run(client, started["id"])
    with api.client("viewer") as viewer:
        response = viewer.get(f"/v1/runs/{run['id']}/tasks")
        assert response.status_code == 200, response.text
        page = response.json()
        first = viewer.get(f"/v1/runs/{run['id']}/tasks", params={"limit": 1}).json()
    items = page["items"]
    assert [(t["agent"], t["status"]) for t in items] == [
        ("researcher", "succeeded"),
        ("writer", "succeeded"),
    ]
    assert all(
        t["workflow_id"] == flow["id"].replace("-", "") and t["workflow"] == "two-agents" for t in items
    )
    assert items[0]["description"].startswith("tidal power")
    assert items[1]["result"] == run["output"]
    assert items[0]["created_at"] <= items[0]["finished_at"]
    assert page["next_offset"] is None
    assert [t["agent"] for t in first["items"]] == ["researcher"] and first["next_offset"] == 1
    with api.client("operator@other") as other:
        hidden = other.get(f"/v1/runs/{run['id']}/tasks")
        assert hidden.status_code == 404 and hidden.json()["error"]["type"] == "not_found"
    with api.client("viewer") as viewer:
        assert viewer.get(f"/v1/runs/{'0' * 32}/tasks").status_code == 404
