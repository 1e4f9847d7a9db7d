"""The published JSON Schema of the workflow file format, generated from the spec models.

``schema.json`` beside this module is the published copy (a test checks it is up to date);
regenerate it with ``python -m cadenza.workflows.schema``. ``cadenza schema`` prints it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SCHEMA_FILE = Path(__file__).with_name("schema.json")
SCHEMA_ID = "https://cadenza.dev/schema/workflow.json"


def workflow_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a workflow file."""
    from cadenza.workflows.spec import BUILTIN_PATTERNS, WorkflowSpec

    schema = WorkflowSpec.model_json_schema(by_alias=True)
    schema = _any_of(schema)
    custom = schema["$defs"]["CustomNode"]
    custom.update(minProperties=1, maxProperties=1)
    # A custom pattern is any registered name except the built-in keys, which have their own forms.
    custom.setdefault("propertyNames", {})["not"] = {"enum": [*BUILTIN_PATTERNS, "agent"]}
    schema["$defs"]["TextGateSpec"]["minProperties"] = 1
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID, **schema}


def _any_of(node: Any) -> Any:
    """``oneOf`` -> ``anyOf``: a pattern mapping also fits the custom-pattern form, and that is fine."""
    if isinstance(node, dict):
        return {("anyOf" if k == "oneOf" else k): _any_of(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_any_of(v) for v in node]
    return node


def schema_text() -> str:
    return json.dumps(workflow_json_schema(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    SCHEMA_FILE.write_text(schema_text(), encoding="utf-8")
    print(f"wrote {SCHEMA_FILE}")
