"""Workflows, agents and runs over real HTTP: register, version, run, page, cancel, resume, approve."""

from __future__ import annotations

from decimal import Decimal

from tests.api.conftest import HELLO, ApiServer, register, wait_for_run

GATED = """\
name: gated
agents:
  writer: {instructions: Draft it.}
  editor: {instructions: Polish it.}
workflow:
  pipeline:
    stages:
      - writer
      - approval: {prompt: "Publish this draft?"}
      - editor
"""


def test_workflow_lifecycle_register_version_get_delete(api: ApiServer) -> None:
    with api.client("operator") as client:
        created = register(client, named("lifecycle"))
        assert (created["version"], created["pattern"], created["description"]) == (1, "agent", "says hello")
        duplicate = client.post("/v1/workflows", json={"spec": named("lifecycle")})
        assert duplicate.status_code == 409
        v2 = client.post(
            f"/v1/workflows/{created['id']}/versions",
            json={"spec": named("lifecycle").replace("greeting", "poem")},
        )
        assert v2.status_code == 201 and v2.json()["version"] == 2
        renamed = client.post(f"/v1/workflows/{created['id']}/versions", json={"spec": HELLO})
        assert renamed.status_code == 409
        detail = client.get(f"/v1/workflows/{created['id']}").json()
        assert detail["version"] == 2 and "poem" in detail["source"]
        assert detail["spec"]["agents"]["writer"]["instructions"] == "Write a poem."
        versions = client.get(f"/v1/workflows/{created['id']}/versions").json()["items"]
        assert [v["version"] for v in versions] == [1, 2] and versions[0]["created_by"] == "key:" + _key_id(
            api
        )
        # Runs pick the latest version unless told otherwise.
        latest = client.post("/v1/runs", json={"workflow_id": created["id"], "input": "x"}).json()
        first = client.post(
            "/v1/runs", json={"workflow_id": created["id"], "version": 1, "input": "x"}
        ).json()
        assert "poem" in wait_for_run(client, latest["id"])["output"]
        assert "greeting" in wait_for_run(client, first["id"])["output"]
        missing = client.post("/v1/runs", json={"workflow_id": created["id"], "version": 9, "input": "x"})
        assert missing.status_code == 404
        assert client.delete(f"/v1/workflows/{created['id']}").status_code == 204
        assert client.get(f"/v1/workflows/{created['id']}").status_code == 404
        assert client.post("/v1/runs", json={"workflow_id": created["id"], "input": "x"}).status_code == 404
        # The name is free again; runs of the deleted workflow are still readable.
        assert register(client, named("lifecycle"))["version"] == 1
        assert client.get(f"/v1/runs/{latest['id']}").status_code == 200


def named(name: str) -> str:
    return HELLO.replace("name: hello", f"name: {name}")


def _key_id(api: ApiServer) -> str:
    return api.keys["operator"].split("_")[1]


def test_run_of_a_workflow_from_202_to_result_with_events_trace_and_cost(api: ApiServer) -> None:
    with api.client("operator") as client:
        flow = register(client, named("traced"))
        response = client.post(
            "/v1/runs", json={"workflow_id": flow["id"], "input": "Hello there", "context": {"lang": "en"}}
        )
        assert response.status_code == 202
        accepted = response.json()
        assert response.headers["location"] == f"/v1/runs/{accepted['id']}"
        assert client.get(f"/v1/runs/{accepted['id']}").status_code == 200  # readable at once
        run = wait_for_run(client, accepted["id"])
        assert run["output"].startswith("[offline model") and "Hello there" in run["output"]
        assert run["task"] == {"description": "Hello there", "context": {"lang": "en"}}
        events = client.get(f"/v1/runs/{run['id']}/events").json()["items"]
        assert [e["type"] for e in events] == [
            "run_started",
            "step_started",
            "llm_call",
            "step_finished",
            "run_finished",
        ]
        assert [e["seq"] for e in events] == [1, 2, 3, 4, 5]
        page = client.get(f"/v1/runs/{run['id']}/events", params={"after": 2, "limit": 2}).json()
        assert [e["seq"] for e in page["items"]] == [3, 4] and page["next_after"] == 4
        trace = client.get(f"/v1/runs/{run['id']}/trace").json()["spans"]
        assert [(s["path"], s["kind"], s["status"]) for s in trace] == [
            ("writer", "agent", "succeeded"),
            ("writer/llm#1", "llm", "succeeded"),
        ]
        cost = client.get(f"/v1/runs/{run['id']}/cost").json()
        assert cost["by_model"][0]["model"] == "offline" and cost["by_model"][0]["calls"] == 1
        assert Decimal(cost["total_cost"]) == Decimal(run["cost"])
        assert cost["input_tokens"] == run["usage"]["input_tokens"]


def test_run_of_an_agent(api: ApiServer) -> None:
    with api.client("operator") as client:
        agent = client.post(
            "/v1/agents",
            json={"name": "summariser", "spec": {"instructions": "Summarise.", "capabilities": ["summary"]}},
        )
        assert agent.status_code == 201 and agent.json()["capabilities"] == ["summary"]
        assert client.post("/v1/agents", json={"name": "summariser", "spec": {}}).status_code == 409
        bad = client.post("/v1/agents", json={"name": "x", "spec": {"tools": ["no_such_tool"]}})
        assert bad.status_code == 422 and bad.json()["error"]["details"][0]["key"] == "agents.x.tools[0]"
        run = client.post("/v1/runs", json={"agent_id": agent.json()["id"], "input": "long text"}).json()
        assert "Summarise." in wait_for_run(client, run["id"])["output"]
        assert any(a["name"] == "summariser" for a in client.get("/v1/agents").json()["items"])


def test_list_runs_filters_and_caps_pages(api: ApiServer) -> None:
    with api.client("operator") as client:
        flow = register(client, named("paged"))
        ids = [
            client.post("/v1/runs", json={"workflow_id": flow["id"], "input": str(i)}).json()["id"]
            for i in range(5)
        ]
        for run_id in ids:
            wait_for_run(client, run_id)
        page = client.get("/v1/runs", params={"workflow": "paged", "status": "succeeded", "limit": 2}).json()
        assert len(page["items"]) == 2 and page["next_offset"] == 2
        assert all(r["status"] == "succeeded" for r in page["items"])
        assert client.get("/v1/runs", params={"limit": 101}).status_code == 422
        assert client.get("/v1/runs", params={"limit": 0}).status_code == 422
        none = client.get("/v1/runs", params={"status": "rejected"}).json()
        assert none["items"] == [] and none["next_offset"] is None


def test_waiting_run_is_approved_over_http(api: ApiServer) -> None:
    with api.client("operator") as client:
        flow = register(client, GATED)
        run = client.post("/v1/runs", json={"workflow_id": flow["id"], "input": "news"}).json()
        waiting = wait_for_run(client, run["id"], ("waiting",))
        assert waiting["waiting"]["prompt"] == "Publish this draft?"
        approved = client.post(f"/v1/runs/{run['id']}/approve", json={"comment": "ship it"})
        assert approved.status_code == 202
        done = wait_for_run(client, run["id"])
        assert "Polish it." in done["output"] and done["attempt"] == 2
        again = client.post(f"/v1/runs/{run['id']}/approve", json={})
        assert again.status_code == 409 and again.json()["error"]["type"] == "conflict"


def test_waiting_run_is_rejected_and_cancelled(api: ApiServer) -> None:
    with api.client("operator") as client:
        flow = client.get("/v1/workflows", params={"name": "gated"}).json()["items"]
        flow_id = flow[0]["id"] if flow else register(client, GATED)["id"]
        rejected = client.post("/v1/runs", json={"workflow_id": flow_id, "input": "a"}).json()
        wait_for_run(client, rejected["id"], ("waiting",))
        assert client.post(f"/v1/runs/{rejected['id']}/reject", json={"comment": "no"}).status_code == 202
        assert wait_for_run(client, rejected["id"], ("rejected",))["error"].endswith("no")

        cancelled = client.post("/v1/runs", json={"workflow_id": flow_id, "input": "b"}).json()
        wait_for_run(client, cancelled["id"], ("waiting",))
        stopped = client.post(f"/v1/runs/{cancelled['id']}/cancel")
        assert stopped.status_code == 200 and stopped.json()["status"] == "cancelled"
        assert client.post(f"/v1/runs/{cancelled['id']}/cancel").status_code == 409
        refused = client.post(f"/v1/runs/{cancelled['id']}/resume")
        assert refused.status_code == 409 and "cancelled" in refused.json()["error"]["message"]

        finished = client.post("/v1/runs", json={"workflow_id": flow_id, "input": "c"}).json()
        wait_for_run(client, finished["id"], ("waiting",))
        client.post(f"/v1/runs/{finished['id']}/approve", json={})
        wait_for_run(client, finished["id"])
        refused = client.post(f"/v1/runs/{finished['id']}/resume")
        assert refused.status_code == 409 and "succeeded" in refused.json()["error"]["message"]


FAILING = """\
name: picky
agents:
  writer: {instructions: Draft it.}
workflow:
  pipeline:
    stages: [writer]
    gates:
      writer: {contains: [never-in-the-output]}
    max_gate_retries: 0
"""


def test_failed_run_is_resumed_from_its_journal(api: ApiServer) -> None:
    with api.client("operator") as client:
        flow = register(client, FAILING)
        run = client.post("/v1/runs", json={"workflow_id": flow["id"], "input": "x"}).json()
        failed = wait_for_run(client, run["id"], ("failed",))
        assert failed["attempt"] == 1 and "never-in-the-output" in failed["error"]
        resumed = client.post(f"/v1/runs/{run['id']}/resume")
        assert resumed.status_code == 202
        again = wait_for_run(client, run["id"], ("failed",))
        assert again["attempt"] == 2
        events = client.get(f"/v1/runs/{run['id']}/events").json()["items"]
        seqs = [e["seq"] for e in events]
        assert seqs == list(range(1, len(seqs) + 1))  # the second attempt's events continue the first's
        assert [e["type"] for e in events].count("run_started") == 2
        cost = client.get(f"/v1/runs/{run['id']}/cost").json()
        assert cost["by_model"][0]["calls"] == 1  # the model call was replayed from the journal, not repeated
