"""The published JSON Schema: up to date, valid, and in agreement with the loader."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from cadenza.workflows.schema import SCHEMA_FILE, schema_text, workflow_json_schema

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
jsonschema = pytest.importorskip("jsonschema")


def test_published_schema_file_is_up_to_date() -> None:
    assert SCHEMA_FILE.read_text(encoding="utf-8") == schema_text(), (
        "src/cadenza/workflows/schema.json is stale: run python -m cadenza.workflows.schema"
    )


def test_schema_is_a_valid_json_schema() -> None:
    schema = workflow_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$id"].endswith("workflow.json")
    assert {"name", "workflow", "agents", "steps", "tools", "budget"} <= set(schema["properties"])


@pytest.mark.parametrize("example", sorted(EXAMPLES.rglob("*.yaml")), ids=lambda p: p.name)
def test_every_example_matches_the_schema(example: Path) -> None:
    data = yaml.safe_load(example.read_text())
    errors = [e.message for e in jsonschema.Draft202012Validator(workflow_json_schema()).iter_errors(data)]
    assert errors == [], f"{example.name}: {errors}"


@pytest.mark.parametrize(
    "bad",
    [
        {"name": "x"},
        {"name": "x", "workflow": "a", "agents": {"a": {"modle": "offline"}}},
        {"name": "x", "workflow": {"parallel": {"branches": []}}},
        {"name": "x", "workflow": {"pipeline": {"stages": ["a"], "gates": {"a": {"length": 3}}}}},
        {"name": "x", "workflow": {"parallel": {"branches": ["a"]}, "name": "two keys"}},
    ],
)
def test_schema_rejects_what_the_loader_rejects(bad: dict[str, object]) -> None:
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(workflow_json_schema()).validate(bad)


def test_cli_prints_the_schema() -> None:
    from typer.testing import CliRunner

    from cadenza.cli.app import app

    result = CliRunner().invoke(app, ["schema"])
    assert result.exit_code == 0
    assert json.loads(result.stdout) == workflow_json_schema()
