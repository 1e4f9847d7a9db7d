"""Checking workflow specs that arrive over HTTP, with the loader's line/column problems.

A workflow registered over HTTP is less trusted than a file on the server's disk, so two things
the loader allows are refused here: ``${VAR}`` references (they would read the server's
environment, secrets included, into prompts) and, unless ``allow_python_imports`` is set, every
Python import path (tools, gates, merges, schemas, ``imports:``), which would run code.
"""

from __future__ import annotations

import json
from typing import Any

from cadenza.workflows.errors import WorkflowFileError
from cadenza.workflows.source import Path, Source, parse
from cadenza.workflows.workflow import Workflow

_NO_ENV = "environment references are not allowed in workflows registered over HTTP"
_NO_IMPORT = (
    "Python imports are not allowed in workflows registered over HTTP (server setting allow_python_imports)"
)
# A workflow's own prices would let its author price its runs (and so budgets and cost reports).
_NO_PRICES = "model prices are set by the server's configuration, not by workflows registered over HTTP"


def spec_text(spec: str | dict[str, Any]) -> str:
    """The text of a spec given as YAML/JSON text or as a JSON object."""
    return spec if isinstance(spec, str) else json.dumps(spec, indent=2)


def check_workflow(text: str, file: str, *, allow_imports: bool, model_override: str | None) -> Workflow:
    """The built workflow, or ``WorkflowFileError`` with every problem and its line and column."""
    from cadenza.workflows import load_workflow_text

    source = parse(text, file, {})
    problems = list(source.problems)
    problems += [source.problem(path, _NO_ENV, value=raw) for path, raw in source.env_refs.items()]
    if isinstance(source.data, dict) and "prices" in source.data:
        problems.append(source.problem(("prices",), _NO_PRICES, at_key=True, show_value=False))
    if not allow_imports:
        problems += [source.problem(path, _NO_IMPORT, value=value) for path, value in _import_paths(source)]
    if problems:
        raise WorkflowFileError(file, problems)
    return load_workflow_text(text, file, model_override=model_override, environ={})


def _import_paths(source: Source) -> list[tuple[Path, Any]]:
    data = source.data
    found: list[tuple[Path, Any]] = []
    if not isinstance(data, dict):
        return found
    for index, value in enumerate(data.get("imports") or ()):
        found.append((("imports", index), value))
    tools = data.get("tools")
    if isinstance(tools, dict):
        found += [(("tools", name), value) for name, value in tools.items()]
    _walk(data, (), found)
    return found


def _walk(node: Any, path: Path, found: list[tuple[Path, Any]]) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            here = (*path, key)
            if key in ("python", "output_schema", "schema") and isinstance(value, str):
                found.append((here, value))
            elif path == () and key in ("imports", "tools"):
                continue
            else:
                _walk(value, here, found)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            _walk(value, (*path, index), found)
