"""Workflow files configure agent memory and MCP servers.

Bad ``memory:`` and ``mcp:`` blocks are positioned errors like every other; loading starts no
server; a run connects the agent's servers (mcp-server-time from PyPI over stdio, the test
server over streamable HTTP) and closes them when it ends — succeeded, failed, or interrupted
with Ctrl-C; and a workflow file's memory keeps what a reflective loop learnt across processes.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from tests.tools import test_mcp

from cadenza.errors import ConfigurationError, MCPConnectionError
from cadenza.types.events import ToolCalled
from cadenza.workflows import Problem, WorkflowFileError, load_workflow, load_workflow_text

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
MEMORY_EXAMPLE = EXAMPLES / "reflective_memory_writer.yaml"
MCP_EXAMPLE = EXAMPLES / "mcp_world_clock.yaml"
TEST_SERVER = test_mcp.TEST_SERVER
SLOW_SERVER = str(Path(__file__).with_name("mcp_slow_server.py"))
http_server = test_mcp.http_server  # the streamable-HTTP test server fixture


def problems_of(text: str) -> list[Problem]:
    with pytest.raises(WorkflowFileError) as info:
        load_workflow_text(textwrap.dedent(text), "flow.yaml")
    for problem in info.value.problems:
        assert f"flow.yaml:{problem.line}:{problem.column}" in str(info.value)
    return info.value.problems


def at(problems: list[Problem], key: str) -> Problem:
    found = [p for p in problems if p.key == key]
    assert found, f"no problem at {key}; got {[str(p) for p in problems]}"
    return found[0]


def server_processes(marker: str) -> list[int]:
    """Live child processes of this test whose command line contains ``marker``."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            state, ppid = stat.read_text().rsplit(")", 1)[1].split()[:2]
            cmdline = (stat.parent / "cmdline").read_bytes()
        except (OSError, IndexError):
            continue
        if int(ppid) == os.getpid() and state != "Z" and marker.encode() in cmdline:
            found.append(int(stat.parent.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


# --- the spec: positioned errors ----------------------------------------------------------------


def test_bad_memory_and_mcp_blocks_are_reported_at_once_with_line_and_key() -> None:
    problems = problems_of(
        """\
        name: t
        agents:
          writer:
            memory:
              recal: 3
              lessons: -1
              embeddings: bert
              short_term: {max_tokens: 0}
            mcp:
              - {name: time}
              - {name: both, command: x, url: http://h/mcp}
              - {name: web, url: ftp://h/mcp}
              - {name: t2, command: x, allow: [], prefix: "a b", timeout: 0}
              - {name: t3, command: x, argz: [y]}
          editor:
            memory: yes please
        workflow: writer
        """
    )
    unknown = at(problems, "agents.writer.memory.recal")
    assert (unknown.line, unknown.column) == (5, 7)
    assert "unknown key 'recal'" in unknown.message and "did you mean 'recall'" in unknown.message
    assert "lessons" in (unknown.expected or "")
    lessons = at(problems, "agents.writer.memory.lessons")
    assert lessons.line == 6 and "greater than or equal to 0" in lessons.message
    assert at(problems, "agents.writer.memory.embeddings").line == 7
    assert at(problems, "agents.writer.memory.short_term.max_tokens").line == 8
    neither = at(problems, "agents.writer.mcp[0]")
    assert neither.line == 10 and "exactly one of 'command' (stdio) or 'url'" in neither.message
    assert "exactly one of" in at(problems, "agents.writer.mcp[1]").message
    assert at(problems, "agents.writer.mcp[2].url").line == 12
    for key in ("allow", "prefix", "timeout"):
        assert at(problems, f"agents.writer.mcp[3].{key}").line == 13
    argz = at(problems, "agents.writer.mcp[4].argz")
    assert argz.line == 14 and "did you mean 'args'" in argz.message
    shorthand = at(problems, "agents.editor.memory")
    assert shorthand.line == 16 and "yes please" in str(shorthand)


def test_two_servers_of_one_agent_with_one_name_and_an_unknown_reference_both_show() -> None:
    problems = problems_of(
        """\
        name: t
        agents:
          clock:
            mcp:
              - {name: time, command: mcp-server-time}
              - {name: time, url: "http://127.0.0.1:9/mcp"}
        workflow: clok
        """
    )
    duplicate = at(problems, "agents.clock.mcp[1].name")
    assert duplicate.line == 6 and "two MCP servers of this agent are named 'time'" in duplicate.message
    assert "unknown agent or step 'clok'" in at(problems, "workflow").message


def test_memory_true_and_false_and_the_examples_validate_without_starting_a_server() -> None:
    flow = load_workflow_text(
        textwrap.dedent(
            """\
            name: t
            agents:
              a: {memory: true, mcp: [{name: never, command: /nonexistent/server, args: [--x]}]}
              b: {memory: false}
            workflow: {pipeline: {stages: [a, b]}}
            """
        ),
        "flow.yaml",
    )
    agents = {s.agent.name: s.agent for s in flow.resources.servers} if flow.resources else {}
    assert agents["a"].memory is not None and agents["a"].memory.tools
    assert {"remember", "recall"} <= set(agents["a"].tools)  # memory tools; the server's come at run time
    assert flow.step.name == "pipeline" and flow.step.kind == "pipeline"
    clock = load_workflow(MCP_EXAMPLE)
    assert server_processes("mcp-server-time") == []
    (server,) = clock.resources.servers if clock.resources else []
    assert (server.config.transport, server.config.allow, server.config.prefix) == (
        "stdio",
        ("get_current_time",),
        "europe_",
    )
    done = subprocess.run(
        [sys.executable, "-m", "cadenza.cli.app", "validate", str(MCP_EXAMPLE), "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["agents"] == ["clock"]


# --- MCP servers in runs ------------------------------------------------------------------------


async def test_a_workflow_files_agent_uses_mcp_server_time_in_a_real_run() -> None:
    flow = load_workflow(MCP_EXAMPLE)
    (server,) = flow.resources.servers if flow.resources else []
    assert "europe_get_current_time" not in server.agent.tools
    result = await flow.run("Europe/Lisbon")
    (call,) = [e for e in result.events if isinstance(e, ToolCalled)]
    assert call.tool == "europe_get_current_time" and call.error is None
    answer = json.loads(call.output or "")
    assert answer["timezone"] == "Europe/Lisbon" and answer["datetime"].startswith(time.strftime("%Y-"))
    assert "Tool europe_get_current_time:" in result.output
    # The run ended: the server is stopped and its tools are gone from the agent.
    assert "europe_get_current_time" not in server.agent.tools
    assert server_processes("mcp-server-time") == []
    # The same workflow runs again, on a new connection; the server's refusal is a tool error.
    again = await flow.run("Asia/Tokyo europe")
    (call,) = [e for e in again.events if isinstance(e, ToolCalled)]
    assert call.error is not None and "Asia/Tokyo europe" in call.error  # the server's own refusal


async def test_concurrent_runs_share_one_connection_and_resources_stay_open_across_runs() -> None:
    flow = load_workflow(MCP_EXAMPLE)
    assert flow.resources is not None
    (server,) = flow.resources.servers
    async with flow.resources:
        tool = server.agent.tools["europe_get_current_time"]
        (pid,) = server_processes("mcp-server-time")
        results = await asyncio.gather(*(flow.run("Europe/Lisbon") for _ in range(3)))
        assert all(r.status == "succeeded" and "Europe/Lisbon" in r.output for r in results)
        assert server.agent.tools["europe_get_current_time"] is tool  # the same connection throughout
        assert server_processes("mcp-server-time") == [pid]
    assert "europe_get_current_time" not in server.agent.tools
    assert server_processes("mcp-server-time") == []


def test_cadenza_run_of_the_mcp_example_calls_the_server(tmp_path: Path) -> None:
    env = {**os.environ, "CADENZA_HOME": str(tmp_path)}
    env["PATH"] = "/usr/bin:/bin"  # not activated: mcp-server-time is found beside the interpreter
    done = subprocess.run(
        [sys.executable, "-m", "cadenza.cli.app", "run", str(MCP_EXAMPLE), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    outcome = json.loads(done.stdout)
    assert outcome["status"] == "succeeded" and outcome["tool_calls"] == 1
    assert '"timezone": "Europe/Lisbon"' in outcome["output"]


async def test_streamable_http_server_with_headers_and_allow_list(http_server: str) -> None:
    flow = load_workflow_text(
        textwrap.dedent(
            f"""\
            name: remote
            defaults: {{model: offline}}
            agents:
              crier:
                instructions: Crier. Shout the news.
                mcp:
                  - name: remote
                    url: {http_server}
                    headers: {{X-Team: cadenza}}
                    allow: [shout]
            workflow: crier
            """
        ),
        "remote.yaml",
    )
    result = await flow.run("shout hello")
    (call,) = [e for e in result.events if isinstance(e, ToolCalled)]
    assert (call.tool, call.output) == ("shout", "SHOUT HELLO!")


def _two_servers(bad_allow: str) -> str:
    return textwrap.dedent(
        f"""\
        name: two
        defaults: {{model: offline}}
        agents:
          worker:
            instructions: Worker.
            mcp:
              - {{name: time, command: mcp-server-time}}
              - {{name: test, command: {sys.executable}, args: [{TEST_SERVER}], allow: [{bad_allow}]}}
        workflow: worker
        """
    )


async def test_a_server_that_fails_fails_the_run_by_name_and_the_others_are_closed() -> None:
    flow = load_workflow_text(_two_servers("shout, delete_everything"), "two.yaml")
    with pytest.raises(MCPConnectionError, match=r"MCP server 'test'.*does not have: delete_everything"):
        await flow.run("anything")
    assert server_processes("mcp-server-time") == [] and server_processes(TEST_SERVER) == []
    (worker,) = {s.agent for s in flow.resources.servers} if flow.resources else set()
    assert set(worker.tools) == set()


async def test_a_tool_name_the_agent_already_has_is_a_clear_error() -> None:
    flow = load_workflow_text(
        textwrap.dedent(
            f"""\
            name: clash
            defaults: {{model: offline}}
            agents:
              worker:
                mcp:
                  - {{name: one, command: {sys.executable}, args: [{TEST_SERVER}], allow: [add]}}
                  - {{name: two, command: {sys.executable}, args: [{TEST_SERVER}], allow: [add]}}
            workflow: worker
            """
        ),
        "clash.yaml",
    )
    clash = r"offers tool\(s\) add that the agent already has; set a 'prefix'"
    with pytest.raises(ConfigurationError, match=clash):
        await flow.run("add 1 and 2")
    assert server_processes(TEST_SERVER) == []


async def test_cancelling_a_run_stops_its_servers_while_starting_and_mid_call(tmp_path: Path) -> None:
    marker = tmp_path / "in-flight"
    flow = load_workflow_text(
        textwrap.dedent(
            f"""\
            name: slow
            defaults: {{model: offline}}
            agents:
              waiter:
                instructions: Waiter.
                mcp:
                  - name: slow
                    command: {sys.executable}
                    args: [{SLOW_SERVER}]
                    env: {{SLOW_MARKER: "{marker}"}}
            workflow: waiter
            """
        ),
        "slow.yaml",
    )
    starting = asyncio.create_task(flow.run("wait 30 seconds"))
    await asyncio.sleep(0.2)  # the server's Python is still starting
    starting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await starting
    assert server_processes(SLOW_SERVER) == []
    in_flight = asyncio.create_task(flow.run("wait 30 seconds"))
    for _ in range(300):
        if marker.exists():
            break
        await asyncio.sleep(0.05)
    pid = int(marker.read_text())
    assert alive(pid)
    in_flight.cancel()
    with pytest.raises(asyncio.CancelledError):
        await in_flight
    assert not alive(pid) and server_processes(SLOW_SERVER) == []


def test_ctrl_c_during_cadenza_run_stops_the_server(tmp_path: Path) -> None:
    marker = tmp_path / "in-flight"
    flow = tmp_path / "slow.yaml"
    flow.write_text(
        textwrap.dedent(
            f"""\
            name: slow
            example_input: wait 30 seconds
            defaults: {{model: offline}}
            agents:
              waiter:
                mcp:
                  - name: slow
                    command: ${{PYTHON}}
                    args: [{SLOW_SERVER}]
                    env: {{SLOW_MARKER: "${{SLOW_MARKER}}"}}
            workflow: waiter
            """
        )
    )
    env = {**os.environ, "CADENZA_HOME": str(tmp_path), "PYTHON": sys.executable, "SLOW_MARKER": str(marker)}
    process = subprocess.Popen(
        [sys.executable, "-m", "cadenza.cli.app", "run", str(flow), "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        deadline = time.monotonic() + 60
        while not marker.exists() and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.05)
        assert marker.exists(), process.communicate(timeout=10)
        pid = int(marker.read_text())
        assert alive(pid)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, err
    assert json.loads(out)["status"] == "cancelled"
    for _ in range(100):
        if not alive(pid):
            break
        time.sleep(0.05)
    assert not alive(pid)


# --- memory -------------------------------------------------------------------------------------


def _cadenza_run(file: Path, home: Path) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-m", "cadenza.cli.app", "run", str(file), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "CADENZA_HOME": str(home)},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout))


def _rounds(outcome: dict[str, object]) -> int:
    steps = outcome["steps"]
    assert isinstance(steps, list)
    return len([s for s in steps if "/draft:" in s["path"]])


def test_a_workflow_files_memory_keeps_lessons_across_processes(tmp_path: Path) -> None:
    """Two `cadenza run` processes: the first learns from its editor in 3 rounds, the second
    starts from those lessons (read from the store in CADENZA_HOME) and needs 1."""
    first = _cadenza_run(MEMORY_EXAMPLE, tmp_path)
    second = _cadenza_run(MEMORY_EXAMPLE, tmp_path)
    assert (first["status"], second["status"]) == ("succeeded", "succeeded")
    assert (_rounds(first), _rounds(second)) == (3, 1)
    assert "Revision (lesson):" in str(second["output"])
    (tmp_path / "other").mkdir()
    fresh = _cadenza_run(MEMORY_EXAMPLE, tmp_path / "other")  # another store: nothing learnt yet
    assert _rounds(fresh) == 3


def test_memory_at_a_url_and_the_same_workflow_in_two_event_loops(tmp_path: Path) -> None:
    text = MEMORY_EXAMPLE.read_text().replace(
        "      lessons: 5", f"      url: {tmp_path / 'lessons.db'}\n      lessons: 5"
    )
    flow = load_workflow_text(text, "memory.yaml")
    first = asyncio.run(flow.run(flow.spec.example_input or ""))
    second = asyncio.run(flow.run(flow.spec.example_input or ""))  # the store was closed and reopens
    assert (first.step.metadata["rounds"], second.step.metadata["rounds"]) == (3, 1)
    assert (tmp_path / "lessons.db").exists()
