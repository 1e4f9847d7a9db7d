"""The CLI through Typer's runner: exit codes, --json documents, inputs, errors without tracebacks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cadenza.cli.app import app

FLOWS = Path(__file__).parent / "flows"
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
PRESS = str(EXAMPLES / "reflective_press_release.yaml")
runner = CliRunner()


def invoke(*args: str, input: str | None = None) -> object:
    return runner.invoke(app, list(args), input=input)


def test_run_json_success() -> None:
    result = invoke("run", PRESS, "-i", "Launch of a solar kettle", "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["status"] == "succeeded" and doc["workflow"] == "press-release"
    assert "solar kettle" in doc["output"]
    assert doc["error"] is None and doc["model_calls"] >= 2
    assert doc["cost_usd"] == "0" or float(doc["cost_usd"]) == 0
    paths = [s["path"] for s in doc["steps"]]
    assert paths[0] == "reflective" and all(s["status"] == "succeeded" for s in doc["steps"])


def test_run_prints_output_on_stdout_and_the_tree_on_stderr() -> None:
    result = invoke("run", PRESS, "-i", "Launch of a solar kettle")
    assert result.exit_code == 0
    assert result.stdout.startswith("[offline model")
    assert "reflective" in result.stderr and "✓ succeeded" in result.stderr
    assert "gate critic:editor" in result.stderr


def test_run_failure_exits_1_with_the_error_fields() -> None:
    result = invoke("run", str(FLOWS / "failing.yaml"), "-i", "x", "--json")
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    assert doc["status"] == "failed"
    assert doc["error"]["type"] == "GateFailedError"
    assert doc["error"]["gate"].startswith("text(") and doc["error"]["attempts"] == 2
    human = invoke("run", str(FLOWS / "failing.yaml"), "-i", "x")
    assert human.exit_code == 1 and "GateFailedError" in human.stderr and "Traceback" not in human.output


def test_bad_workflow_exits_2_with_every_problem() -> None:
    result = invoke("run", str(FLOWS / "broken.yaml"), "-i", "x", "--json")
    assert result.exit_code == 2
    doc = json.loads(result.stdout)
    assert doc["status"] == "invalid" and doc["error"]["type"] == "WorkflowFileError"
    keys = {(p["key"], p["line"]) for p in doc["error"]["problems"]}
    assert ("agents.writer.tools[0]", 3) in keys and ("workflow.parallel.branches", 6) in keys
    human = invoke("validate", str(FLOWS / "broken.yaml"))
    assert human.exit_code == 2
    assert "broken.yaml:3:" in human.stderr and "unknown tool 'no_such_tool'" in human.stderr
    assert "Traceback" not in human.output


def test_validate_ok_shows_the_structure() -> None:
    result = invoke("validate", str(EXAMPLES / "market_analysis" / "workflow.yaml"))
    assert result.exit_code == 0
    assert "is valid" in result.stdout and "research supervisor" in result.stdout
    doc = json.loads(invoke("validate", PRESS, "--json").stdout)
    assert doc == {
        "status": "valid",
        "workflow": "press-release",
        "root": "reflective",
        "kinds": {"reflective": 1, "agent": 2},
        "agents": ["editor", "writer"],
    }


def test_missing_file_exits_2() -> None:
    result = invoke("run", "/no/such.yaml", "-i", "x")
    assert result.exit_code == 2 and "cannot read the file" in result.stderr


def test_input_from_file_stdin_and_example(tmp_path: Path) -> None:
    task = tmp_path / "task.txt"
    task.write_text("Task from a file about teapots")
    from_file = json.loads(invoke("run", PRESS, "-f", str(task), "--json").stdout)
    assert "teapots" in from_file["output"]
    from_stdin = json.loads(
        invoke("run", PRESS, "-i", "-", "--json", input="Task from stdin on kettles").stdout
    )
    assert "kettles" in from_stdin["output"]
    piped = json.loads(invoke("run", PRESS, "--json", input="Piped task about mugs").stdout)
    assert "mugs" in piped["output"]
    example = json.loads(invoke("run", PRESS, "--json").stdout)
    assert "Cadenza 1.0" in example["output"]


@pytest.mark.parametrize(
    "args",
    [
        ("run", str(FLOWS / "no_example.yaml")),
        ("run", PRESS, "-i", "x", "-f", "y"),
        ("run", PRESS, "-f", "/no/such/input.txt"),
        ("run", PRESS, "-i", "x", "--model", "nosuch:model"),
        ("run",),
        ("frobnicate",),
    ],
)
def test_usage_errors_exit_2(args: tuple[str, ...]) -> None:
    result = invoke(*args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output


def test_model_override_applies_to_every_agent() -> None:
    result = invoke(
        "run", str(EXAMPLES / "market_analysis" / "workflow.yaml"), "--model", "offline", "--json"
    )
    assert json.loads(result.stdout)["status"] == "succeeded"


def test_missing_credentials_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("CADENZA_CONFIG", "/nonexistent-cadenza-config.toml")
    result = invoke("run", PRESS, "-i", "x", "--model", "openai:gpt-4.1-mini", "--json")
    assert result.exit_code == 2, result.output
    doc = json.loads(result.stdout)
    assert doc["status"] == "failed" and doc["error"]["type"] == "MissingCredentialsError"
    assert doc["error"]["env_var"] == "OPENAI_API_KEY"


def test_demo_json() -> None:
    result = invoke("demo", "--json")
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert doc["status"] == "succeeded" and doc["workflow"] == "market-analysis"
    kinds = {s["kind"] for s in doc["steps"]}
    assert {"pipeline", "supervisor", "parallel", "reflective", "agent"} <= kinds


def test_demo_explains_what_it_showed() -> None:
    result = invoke("demo")
    assert result.exit_code == 0
    for words in ("what you just saw", "Supervisor", "Parallel", "Reflective", "Pipeline", "Try next"):
        assert words in result.stderr
    assert "[offline model: deterministic, not an LLM]" in result.stderr  # shown as text, not markup


def test_version() -> None:
    from cadenza import __version__

    result = invoke("version")
    assert result.exit_code == 0 and result.stdout.startswith(f"cadenza {__version__}")


def test_budget_exceeded_exits_1_with_its_status() -> None:
    result = invoke("run", str(FLOWS / "tight_budget.yaml"), "-i", "x", "--json", "--no-store")
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    assert doc["status"] == "budget_exceeded"
    assert doc["error"]["type"] == "BudgetExceeded" and doc["error"]["limit"] == "max_model_calls"
    live = invoke("run", str(FLOWS / "tight_budget.yaml"), "-i", "x", "--no-store")
    assert live.exit_code == 1 and "budget max_model_calls at 50%" in live.stderr
