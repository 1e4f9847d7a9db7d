"""Kill a durable run's process with SIGKILL at several points, resume it, and prove at the fake
model server that no completed (journaled) call was sent twice and that the result equals an
uninterrupted run's — on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from tests.fakes.llm_server import FakeLLMServer, Reply

from cadenza.store import Store

ROOT = Path(__file__).resolve().parents[2]
STAGES = {
    "Research the topic.": "researcher",
    "Analyse the research.": "analyst",
    "Write the report.": "writer",
}


def child(
    url: str, run_id: str, server: FakeLLMServer, *, resume: bool = False, crash_at: str | None = None
) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "OPENAI_BASE_URL": server.openai_url,
        "OPENAI_API_KEY": "test-key",
        "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
    }
    env.pop("CADENZA_TEST_CRASH_AT", None)
    if crash_at:
        env["CADENZA_TEST_CRASH_AT"] = crash_at
    args = [sys.executable, "-m", "tests.durable.crash_child", url, run_id, *(["--resume"] if resume else [])]
    return subprocess.Popen(
        args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def cli(url: str, *args: str, server: FakeLLMServer | None = None) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "CADENZA_DATABASE_URL": url,
        "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
    }
    env.pop("CADENZA_TEST_CRASH_AT", None)
    if server is not None:
        env.update(OPENAI_BASE_URL=server.openai_url, OPENAI_API_KEY="test-key")
    return subprocess.run(
        [sys.executable, "-m", "cadenza.cli.app", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def finish(process: subprocess.Popen[str], timeout: float = 60) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=timeout)
    return process.returncode, out, err


def calls_by_stage(server: FakeLLMServer) -> Counter[str]:
    return Counter(STAGES[r.body["messages"][0]["content"]] for r in server.requests("openai"))


async def journal_of(url: str, run_id: str) -> dict[str, Any]:
    store = await Store.open(url)
    try:
        record = await store.get_run(run_id)
        return {
            "status": record.status,
            "attempt": record.attempt,
            "paths": sorted(await store.load_journal(run_id)),
        }
    finally:
        await store.close()


@pytest.fixture(scope="module")
def server() -> Any:
    with FakeLLMServer() as started:
        yield started


def reference_output(url: str, server: FakeLLMServer) -> dict[str, Any]:
    server.reset()
    code, out, err = finish(child(url, uuid.uuid4().hex, server))
    assert code == 0, err
    assert calls_by_stage(server) == {"researcher": 1, "analyst": 1, "writer": 1}
    return json.loads(out)


# (crash point, stages whose calls completed and were journaled before the crash, stage re-sent)
HOOKED = [
    ("report/0:researcher/llm#1:before-journal", [], "researcher"),
    ("report/1:analyst/llm#1:before-journal", ["researcher"], "analyst"),
    ("report/1:analyst/llm#1:after-journal", ["researcher", "analyst"], None),
    ("report/2:writer/llm#1:after-journal", ["researcher", "analyst", "writer"], None),
]


def check_resume(
    url: str, run_id: str, server: FakeLLMServer, journaled: list[str], reference: dict[str, Any]
) -> None:
    state = asyncio.run(journal_of(url, run_id))
    assert state["status"] == "running", "the killed process left its run running"
    stage_paths = {p.split("/")[1].split(":")[1] for p in state["paths"]}
    assert stage_paths == set(journaled)
    before = calls_by_stage(server)

    code, out, err = finish(child(url, run_id, server, resume=True))
    assert code == 0, err
    assert json.loads(out) == reference, "the resumed run's result equals an uninterrupted run's"
    after = calls_by_stage(server)
    for stage in journaled:
        assert after[stage] == before[stage] == 1, f"{stage}'s journaled call was not sent again"
    for stage in ("researcher", "analyst", "writer"):
        assert after[stage] >= 1
    state = asyncio.run(journal_of(url, run_id))
    assert state["status"] == "succeeded" and state["attempt"] == 2


def run_scenarios(url: str, server: FakeLLMServer) -> list[str]:
    """Every kill point in turn; returns the ones exercised (each asserted on the way)."""
    reference = reference_output(url, server)
    exercised: list[str] = []
    for crash_at, journaled, resent in HOOKED:
        server.reset()
        run_id = uuid.uuid4().hex
        code, _, err = finish(child(url, run_id, server, crash_at=crash_at))
        assert code == -signal.SIGKILL, f"{crash_at}: expected a SIGKILL, got {code}: {err}"
        if resent is not None:
            # The call had been answered but not journaled: it is the only one sent again.
            assert calls_by_stage(server)[resent] == 1
        check_resume(url, run_id, server, journaled, reference)
        if resent is not None:
            assert calls_by_stage(server)[resent] == 2
        assert sum(calls_by_stage(server).values()) == 3 + (resent is not None)
        exercised.append(crash_at)

    # A SIGKILL from outside while the analyst's request is in flight (the server holds it).
    server.reset()
    server.push(
        "openai", Reply(text="Fake answer to: Electric bikes"), Reply(text="never delivered", delay=30)
    )
    run_id = uuid.uuid4().hex
    process = child(url, run_id, server)
    deadline = time.monotonic() + 60
    while len(server.requests("openai")) < 2:
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.05)
    # While the process lives, nobody else may take the run over.
    refused = cli(url, "runs", "resume", run_id)
    assert refused.returncode == 2 and "live process" in refused.stderr, refused.stderr
    process.send_signal(signal.SIGKILL)
    code, _, _ = finish(process)
    assert code == -signal.SIGKILL
    check_resume(url, run_id, server, ["researcher"], reference)
    # The analyst's call never completed, so it is the one call sent again.
    assert calls_by_stage(server) == {"researcher": 1, "analyst": 2, "writer": 1}
    exercised.append("external SIGKILL with a request in flight")

    # Killed again after the analyst's answer was journaled; this time `cadenza runs recover`
    # (what a service or worker runs on start) finds the orphaned run and finishes it.
    server.reset()
    run_id = uuid.uuid4().hex
    code, _, err = finish(child(url, run_id, server, crash_at="report/1:analyst/llm#1:after-journal"))
    assert code == -signal.SIGKILL, err
    recovered = cli(url, "runs", "recover", "--json", server=server)
    assert recovered.returncode == 0, recovered.stderr
    assert json.loads(recovered.stdout) == {"recovered": {run_id: "succeeded"}}
    assert calls_by_stage(server) == {"researcher": 1, "analyst": 1, "writer": 1}
    shown = json.loads(cli(url, "runs", "show", run_id, "--json").stdout)
    assert shown["output"] == reference["output"] and shown["attempt"] == 2
    exercised.append("recovered by cadenza runs recover")
    return exercised


KILL_POINTS = len(HOOKED) + 2


def test_sigkill_and_resume_on_sqlite(server: FakeLLMServer, tmp_path: Path) -> None:
    assert len(run_scenarios(f"sqlite:///{tmp_path}/cadenza.db", server)) == KILL_POINTS


def test_sigkill_and_resume_on_postgresql(server: FakeLLMServer, postgres_url: str) -> None:
    asyncio.run(_upgrade(postgres_url))
    assert len(run_scenarios(postgres_url, server)) == KILL_POINTS


async def _upgrade(url: str) -> None:
    store = await Store.open(url, upgrade=True)
    await store.close()
