"""Streaming a run's events: SSE (history, then live, resumable with Last-Event-ID) and WebSocket."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
from tests.api import slow_steps  # noqa: F401 - registers the test_sleep pattern in this process
from tests.api.conftest import ApiServer, register, start_server, wait_for_run
from tests.api.test_runs import GATED
from websockets.sync.client import connect


def _sse(response: httpx.Response) -> list[dict[str, Any]]:
    return list(_sse_iter(response))


def _gated_flow(client: httpx.Client) -> str:
    found = client.get("/v1/workflows", params={"name": "gated"}).json()["items"]
    return str(found[0]["id"]) if found else str(register(client, GATED)["id"])


def test_late_sse_client_gets_history_then_live_events_until_the_run_stops(api: ApiServer) -> None:
    with api.client("operator") as client:
        run = client.post("/v1/runs", json={"workflow_id": _gated_flow(client), "input": "story"}).json()
        wait_for_run(client, run["id"], ("waiting",))
        with client.stream("GET", f"/v1/runs/{run['id']}/stream") as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            history = _sse(response)  # the run is waiting: the stream ends after its history
        assert history[0]["event"] == "run_started"
        assert history[-1]["event"] == "run_failed" and history[-1]["data"]["status"] == "waiting"
        assert [e["id"] for e in history] == list(range(1, len(history) + 1))

        # A client following live: approve while it is connected, it sees the rest as it happens.
        collected: list[dict[str, Any]] = []

        def follow() -> None:
            with httpx.Client(
                base_url=api.base_url, headers={"X-API-Key": api.keys["viewer"]}, timeout=15
            ) as c:
                time.sleep(0.2)  # connect after the approval has started the second attempt
                with c.stream(
                    "GET", f"/v1/runs/{run['id']}/stream", headers={"Last-Event-ID": str(history[-1]["id"])}
                ) as live:
                    collected.extend(_sse(live))

        thread = threading.Thread(target=follow)
        assert client.post(f"/v1/runs/{run['id']}/approve", json={}).status_code == 202
        thread.start()
        thread.join(timeout=20)
        wait_for_run(client, run["id"])
    assert collected, "the live client got nothing"
    ids = [e["id"] for e in collected]
    assert ids == list(range(history[-1]["id"] + 1, history[-1]["id"] + 1 + len(ids)))  # no gap, no repeat
    assert collected[-1]["event"] == "run_finished"
    assert collected[0]["event"] == "run_started"


def test_sse_resumes_after_last_event_id(api: ApiServer) -> None:
    with api.client("viewer") as viewer, api.client("operator") as operator:
        flow = register(operator, "name: sse-resume\nagents: {w: {instructions: Hi.}}\nworkflow: w\n")
        run = operator.post("/v1/runs", json={"workflow_id": flow["id"], "input": "x"}).json()
        wait_for_run(operator, run["id"])
        with viewer.stream("GET", f"/v1/runs/{run['id']}/stream") as response:
            everything = _sse(response)
        with viewer.stream("GET", f"/v1/runs/{run['id']}/stream", headers={"Last-Event-ID": "3"}) as response:
            rest = _sse(response)
        with viewer.stream("GET", f"/v1/runs/{run['id']}/stream", params={"after": 4}) as response:
            last = _sse(response)
    assert [e["id"] for e in everything] == [1, 2, 3, 4, 5]
    assert rest == everything[3:]
    assert last == everything[4:]


def test_websocket_sends_history_then_live_events(api: ApiServer) -> None:
    url = api.base_url.replace("http", "ws")
    with api.client("operator") as client:
        run = client.post("/v1/runs", json={"workflow_id": _gated_flow(client), "input": "ws"}).json()
        wait_for_run(client, run["id"], ("waiting",))
        received: list[dict[str, Any]] = []
        with connect(
            f"{url}/v1/runs/{run['id']}/ws",
            additional_headers={"X-API-Key": api.keys["viewer"]},
            open_timeout=5,
        ) as ws:
            for message in ws:
                received.append(json.loads(message))
        assert received[-1]["type"] == "run_failed" and received[-1]["status"] == "waiting"
        after = received[-1]["seq"]
        token = api.token("viewer-user")["access_token"]
        # A waiting run's stream ends; once approved, a client (live or late) gets the rest.
        assert client.post(f"/v1/runs/{run['id']}/approve", json={}).status_code == 202
        with connect(
            f"{url}/v1/runs/{run['id']}/ws?after={after}",
            additional_headers={"Authorization": f"Bearer {token}"},
            open_timeout=5,
        ) as ws:
            live = [json.loads(m) for m in ws]
    assert [e["seq"] for e in received] == list(range(1, after + 1))
    assert [e["seq"] for e in live] == list(range(after + 1, after + 1 + len(live)))
    assert live[-1]["type"] == "run_finished"


SLOW = """\
name: slow
agents:
  writer: {instructions: Draft it.}
  editor: {instructions: Polish it.}
workflow:
  pipeline:
    stages: [writer, {test_sleep: {seconds: 0.8}}, editor]
"""


def test_sse_client_watching_a_running_run_gets_live_events_as_they_happen(api: ApiServer) -> None:
    with api.client("operator") as client:
        flow = register(client, SLOW)
        run = client.post("/v1/runs", json={"workflow_id": flow["id"], "input": "x"}).json()
        arrivals: list[tuple[float, dict[str, Any]]] = []
        started = time.monotonic()
        with client.stream("GET", f"/v1/runs/{run['id']}/stream") as response:
            for event in _sse_iter(response):
                arrivals.append((time.monotonic() - started, event))
    kinds = [e["event"] for _, e in arrivals]
    assert kinds[0] == "run_started" and kinds[-1] == "run_finished"
    assert [e["id"] for _, e in arrivals] == list(range(1, len(arrivals) + 1))
    first_llm = next(t for t, e in arrivals if e["event"] == "llm_call")
    assert first_llm < 0.5 and arrivals[-1][0] >= 0.7  # the writer's call came long before the sleep ended


def test_cancelling_a_running_run_stops_it_at_once(api: ApiServer) -> None:
    with api.client("operator") as client:
        found = client.get("/v1/workflows", params={"name": "slow"}).json()["items"]
        flow_id = found[0]["id"] if found else register(client, SLOW)["id"]
        run = client.post("/v1/runs", json={"workflow_id": flow_id, "input": "x"}).json()
        time.sleep(0.2)
        started = time.monotonic()
        assert client.post(f"/v1/runs/{run['id']}/cancel").json()["status"] == "cancelled"
        final = wait_for_run(client, run["id"], ("cancelled",))
        time.sleep(0.8)  # had it not been stopped, the editor would have run by now
        events = client.get(f"/v1/runs/{run['id']}/events").json()["items"]
    assert time.monotonic() - started < 2 and final["status"] == "cancelled"
    assert not any(e["type"] == "step_started" and e.get("name") == "editor" for e in events)


def _sse_iter(response: httpx.Response) -> Iterator[dict[str, Any]]:
    current: dict[str, Any] = {}
    for line in response.iter_lines():
        if line.startswith("id: "):
            current["id"] = int(line[4:])
        elif line.startswith("event: "):
            current["event"] = line[7:]
        elif line.startswith("data: "):
            current["data"] = json.loads(line[6:])
        elif line == "" and current:
            yield current
            current = {}


def test_a_run_driven_by_another_instance_is_streamed_by_polling_the_store(api: ApiServer) -> None:
    """Two API instances on one database: the one not driving the run still streams it, in order."""
    other = start_server(api.settings.database_url, with_users=False)
    try:
        with api.client("operator") as client:
            found = client.get("/v1/workflows", params={"name": "slow"}).json()["items"]
            flow_id = found[0]["id"] if found else register(client, SLOW)["id"]
            run = client.post("/v1/runs", json={"workflow_id": flow_id, "input": "elsewhere"}).json()
        with (
            other.client("viewer") as viewer,
            viewer.stream("GET", f"/v1/runs/{run['id']}/stream") as response,
        ):
            events = _sse(response)
    finally:
        other.stop()
    assert [e["id"] for e in events] == list(range(1, len(events) + 1))
    assert events[0]["event"] == "run_started" and events[-1]["event"] == "run_finished"
    assert any(e["event"] == "step_started" and e["data"]["name"] == "editor" for e in events)
