"""`cadenza run` (durable by default), `cadenza runs ...` and `cadenza db ...` as a user runs them:
real processes, a real SQLite file (and PostgreSQL for `db upgrade`), exit codes and --json.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from tests.fakes.llm_server import FakeLLMServer, Reply

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "pipeline_blog_post.yaml"


def cadenza(
    *args: str, db: str, stdin: str | None = None, extra_env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "CADENZA_DATABASE_URL": db,
        "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
        **(extra_env or {}),
    }
    env.pop("CADENZA_TEST_CRASH_AT", None)
    return subprocess.run(
        [sys.executable, "-m", "cadenza.cli.app", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        input=stdin,
        timeout=120,
    )


def as_json(result: subprocess.CompletedProcess[str]) -> Any:
    return json.loads(result.stdout)


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/runs.db"


def test_cadenza_run_is_stored_and_listed(db: str) -> None:
    ran = cadenza("run", str(EXAMPLE), "-i", "Durable workflows", "--model", "offline", "--json", db=db)
    assert ran.returncode == 0, ran.stderr
    run_id = as_json(ran)["run_id"]
    listed = cadenza("runs", "list", "--json", db=db)
    assert listed.returncode == 0
    assert [r["id"] for r in as_json(listed)["runs"]] == [run_id]
    shown = as_json(cadenza("runs", "show", run_id, "--json", "--events", db=db))
    assert shown["status"] == "succeeded" and shown["journal_entries"] > 0
    assert shown["output"] == as_json(ran)["output"]
    assert shown["events"][0]["type"] == "run_started"


def test_no_store_runs_leave_nothing(db: str) -> None:
    ran = cadenza("run", str(EXAMPLE), "-i", "x", "--model", "offline", "--json", "--no-store", db=db)
    assert ran.returncode == 0, ran.stderr
    assert as_json(cadenza("runs", "list", "--json", db=db))["runs"] == []


def test_bad_input_is_a_clear_error_and_changes_nothing(db: str, tmp_path: Path) -> None:
    ran = cadenza("run", str(EXAMPLE), "-i", "x", "--model", "offline", "--json", db=db)
    run_id = as_json(ran)["run_id"]
    before = as_json(cadenza("runs", "show", run_id, "--json", db=db))

    cases = [
        (("runs", "resume", run_id), "cannot resume run", "'succeeded'"),
        (("runs", "resume", "0" * 32), "no run with id", None),
        (("runs", "show", "not-an-id"), "no run with id", None),
        (("runs", "approve", run_id), "cannot approve run", "waiting"),
        (("runs", "reject", run_id, "-c", "no"), "cannot reject run", "waiting"),
        (("runs", "cancel", run_id), "cannot cancel run", None),
    ]
    for args, message, detail in cases:
        result = cadenza(*args, db=db)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert message in result.stderr and "Traceback" not in result.stderr
        if detail:
            assert detail in result.stderr
        document = as_json(cadenza(*args, "--json", db=db))
        assert document["status"] == "error" and message in document["error"]["message"]
    assert as_json(cadenza("runs", "show", run_id, "--json", db=db)) == before

    unreachable = cadenza("runs", "list", db="postgresql://u:hunter2@127.0.0.1:1/none")
    assert unreachable.returncode == 2 and "127.0.0.1:1" in unreachable.stderr
    assert "hunter2" not in unreachable.stderr and "Traceback" not in unreachable.stderr


def test_schema_newer_than_the_code_is_refused(db: str) -> None:
    import sqlite3

    assert cadenza("db", "upgrade", db=db).returncode == 0
    path = db.removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '9999'")
    for args in (("runs", "list"), ("db", "upgrade"), ("run", str(EXAMPLE), "-i", "x", "--model", "offline")):
        result = cadenza(*args, db=db)
        assert result.returncode != 0, args
        assert "newer than this version" in result.stderr and "Traceback" not in result.stderr
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchone() == ("9999",)
        assert conn.execute("SELECT count(*) FROM runs").fetchone() == (0,)


def test_db_upgrade_creates_the_postgres_schema(postgres_url: str) -> None:
    refused = cadenza("runs", "list", db=postgres_url)
    assert refused.returncode == 2 and "cadenza db upgrade" in refused.stderr
    upgraded = cadenza("db", "upgrade", "--json", db=postgres_url)
    assert upgraded.returncode == 0, upgraded.stderr
    assert as_json(upgraded)["from"] is None
    assert cadenza("runs", "list", "--json", db=postgres_url).returncode == 0
    again = as_json(cadenza("db", "upgrade", "--json", db=postgres_url))
    assert again["from"] == again["to"]


def test_approve_and_reject_from_another_process(db: str) -> None:
    """A run waits for approval in one process; the decision comes from another, later."""
    start = (
        "import asyncio, sys\n"
        "from cadenza.durable import run_durable, ApprovalRequired\n"
        "from cadenza.durable.flows import import_ref\n"
        "from tests.durable.flows import approval_pipeline\n"
        "async def main():\n"
        "    try:\n"
        "        await run_durable(approval_pipeline(), sys.argv[1],\n"
        "                          flow_ref=import_ref('tests.durable.flows:approval_pipeline'))\n"
        "    except ApprovalRequired as exc:\n"
        "        print(exc.path)\n"
        "asyncio.run(main())\n"
    )
    env = {**os.environ, "CADENZA_DATABASE_URL": db, "PYTHONPATH": str(ROOT)}
    for task in ("Launch A", "Launch B"):
        started = subprocess.run(
            [sys.executable, "-c", start, task], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
        )
        assert started.stdout.strip() == "announce/1:review", started.stderr

    runs = {r["input"]: r for r in as_json(cadenza("runs", "list", "--json", db=db))["runs"]}
    assert {r["status"] for r in runs.values()} == {"waiting"}
    shown = cadenza("runs", "show", runs["Launch A"]["id"], db=db)
    assert "Publish this draft?" in shown.stderr and "cadenza runs approve" in shown.stderr

    approved = cadenza("runs", "approve", runs["Launch A"]["id"], "-c", "looks good", "--json", db=db)
    assert approved.returncode == 0, approved.stderr
    assert as_json(approved)["status"] == "succeeded"
    assert "Publish the approved draft" in as_json(approved)["output"]

    rejected = cadenza("runs", "reject", runs["Launch B"]["id"], "-c", "wrong date", "--json", db=db)
    assert rejected.returncode == 0, rejected.stderr
    assert as_json(rejected)["status"] == "rejected"
    record = as_json(cadenza("runs", "show", runs["Launch B"]["id"], "--json", db=db))
    assert record["status"] == "rejected" and "wrong date" in record["error"]


def test_cadenza_run_continues_a_conversation(db: str) -> None:
    first = cadenza(
        "run",
        str(EXAMPLE),
        "-i",
        "Trunk-based development",
        "--model",
        "offline",
        "--json",
        "--conversation",
        "team-blog",
        db=db,
    )
    assert first.returncode == 0, first.stderr
    second = cadenza(
        "run",
        str(EXAMPLE),
        "-i",
        "And code review?",
        "--model",
        "offline",
        "--json",
        "--conversation",
        "team-blog",
        db=db,
    )
    assert second.returncode == 0, second.stderr
    runs = as_json(cadenza("runs", "list", "--json", db=db))["runs"]
    assert len({r["conversation_id"] for r in runs}) == 1 and runs[0]["conversation_id"]
    second_run = as_json(cadenza("runs", "show", as_json(second)["run_id"], "--json", db=db))
    history = second_run["task"]["context"]["conversation"]
    assert history[0] == {"role": "user", "content": "Trunk-based development"}
    assert history[1]["role"] == "assistant" and history[1]["content"] == as_json(first)["output"]


def test_cadenza_run_that_waits_for_approval_says_how_to_decide(db: str, tmp_path: Path) -> None:
    flow = tmp_path / "gated.yaml"
    flow.write_text(
        "version: 1\nname: gated\ndefaults: {model: offline}\n"
        "agents:\n  drafter: {instructions: Draft it.}\n"
        "workflow:\n  pipeline:\n    stages: [drafter, {approval: {name: review, prompt: 'Ship it?'}}]\n"
    )
    waiting = cadenza("run", str(flow), "-i", "Release notes", db=db)
    run_id = as_json(cadenza("runs", "list", "--json", db=db))["runs"][0]["id"]
    assert "Ship it?" in waiting.stderr and f"cadenza runs approve {run_id}" in waiting.stderr
    approved = cadenza("runs", "approve", run_id, "--json", db=db)
    assert approved.returncode == 0 and as_json(approved)["status"] == "succeeded"


def test_fork_a_finished_run_from_a_step(db: str) -> None:
    ran = as_json(cadenza("run", str(EXAMPLE), "-i", "Monorepos", "--model", "offline", "--json", db=db))
    shown = as_json(cadenza("runs", "show", ran["run_id"], "--json", "--events", db=db))
    stages = [e["path"] for e in shown["events"] if e["type"] == "step_started" and e["path"].count("/") == 1]
    assert len(stages) >= 3
    forked = cadenza("runs", "fork", ran["run_id"], "--from", stages[1], "-i", "Polyrepos", "--json", db=db)
    assert forked.returncode == 0, forked.stderr
    child = as_json(cadenza("runs", "show", as_json(forked)["id"], "--json", db=db))
    assert child["parent_run_id"] == ran["run_id"] and child["forked_at"] == stages[1]
    assert child["task"]["description"] == "Polyrepos" and child["status"] == "succeeded"
    bad = cadenza("runs", "fork", ran["run_id"], "--from", "nowhere/9:x", db=db)
    assert bad.returncode == 2 and "no journaled call" in bad.stderr


def test_fork_with_another_model_replays_earlier_steps_and_reruns_the_rest(db: str) -> None:
    ran = as_json(cadenza("run", str(EXAMPLE), "-i", "Monorepos", "--model", "offline", "--json", db=db))
    parent = as_json(cadenza("runs", "show", ran["run_id"], "--json", "--events", db=db))
    started = [e for e in parent["events"] if e["type"] == "step_started"]
    stages = [e["path"] for e in started if e["path"].count("/") == 1]
    assert len(stages) == 3
    polished = "Monorepos, polished. Every sentence here is finished."
    with FakeLLMServer() as server:
        server.set_default("openai", Reply(text=polished))
        forked = cadenza(
            "runs",
            "fork",
            ran["run_id"],
            "--from",
            stages[2],
            "--model",
            "openai:gpt-4.1-mini",
            "--json",
            db=db,
            extra_env={"OPENAI_BASE_URL": server.openai_url, "OPENAI_API_KEY": "test-key"},
        )
        requests = server.requests("openai")
    assert forked.returncode == 0, forked.stderr
    child = as_json(cadenza("runs", "show", as_json(forked)["id"], "--json", "--events", db=db))
    assert child["status"] == "succeeded" and child["output"] == polished
    calls = [e for e in child["events"] if e["type"] == "llm_call"]
    rerun = [e for e in calls if e["path"].startswith(stages[2])]
    # The re-run stage used the new model, once per call the provider actually received ...
    assert rerun and {e["model"] for e in rerun} == {"openai:gpt-4.1-mini"}
    assert len(requests) == len(rerun)
    assert {r.body["model"] for r in requests} == {"gpt-4.1-mini"}
    # ... and the stages before it were replayed from the journal: --model applies to every
    # agent, so a re-run outliner or writer would have reached the provider too. Their usage is
    # the offline model's, exactly as in the parent run.
    assert not [e for e in calls if not e["path"].startswith(stages[2])]

    def usage_of(run: dict[str, Any], path: str) -> Any:
        return next(e["usage"] for e in run["events"] if e["type"] == "step_finished" and e["path"] == path)

    for path in stages[:2]:
        assert usage_of(child, path) == usage_of(parent, path) and usage_of(child, path)["requests"] >= 1
    assert usage_of(child, stages[2]) != usage_of(parent, stages[2])
