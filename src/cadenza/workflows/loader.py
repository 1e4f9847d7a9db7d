"""Load a workflow file: parse, validate every key, build the Steps, report every problem at once.

``load_workflow(path)`` returns a runnable ``Workflow`` or raises ``WorkflowFileError`` listing
every problem with its file, line, column, key, value and what was expected.
"""

from __future__ import annotations

import copy
import difflib
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cadenza.workflows.errors import Problem, WorkflowFileError
from cadenza.workflows.source import Path as DataPath
from cadenza.workflows.source import Source, data_at, parse
from cadenza.workflows.workflow import Workflow


def load_workflow(
    path: str | Path, *, model_override: str | None = None, environ: Mapping[str, str] | None = None
) -> Workflow:
    """Load and build the workflow in ``path`` (YAML or JSON).

    ``model_override`` replaces every agent's model (``"offline"`` runs any workflow without a
    network). ``environ`` is where ``${VAR}`` references are looked up (default: ``os.environ``).
    """
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise WorkflowFileError(
            str(path), [Problem(str(path), 1, 1, "", f"cannot read the file: {reason}")]
        ) from None
    return load_workflow_text(
        text, str(path), base_dir=file.resolve().parent, model_override=model_override, environ=environ
    )


def load_workflow_text(
    text: str,
    file: str = "<workflow>",
    *,
    base_dir: Path | None = None,
    model_override: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Workflow:
    """Load a workflow from text; ``file`` names it in errors, ``base_dir`` anchors relative imports."""
    if model_override is not None:
        from cadenza.models.registry import infer_models

        infer_models(model_override)  # an unknown provider is the caller's mistake, not the file's
    source = parse(text, file, environ)
    if source.data is None and source.problems:
        raise WorkflowFileError(file, source.problems)
    spec = validate(source)
    if spec is None:
        raise WorkflowFileError(file, source.problems)
    from cadenza.workflows.builder import build

    workflow = build(spec, source, base_dir or Path.cwd(), model_override=model_override)
    if source.problems:
        raise WorkflowFileError(file, source.problems)
    return workflow


def validate(source: Source) -> Any:
    """The ``WorkflowSpec`` of the parsed data, or ``None`` with every problem added to ``source``."""
    from pydantic import ValidationError

    from cadenza.workflows.spec import WorkflowSpec

    if not isinstance(source.data, dict):
        source.add(
            (),
            "a workflow file must be a mapping",
            value=source.data,
            expected="keys such as name, agents, workflow",
        )
        return None
    try:
        return WorkflowSpec.model_validate(source.data)
    except ValidationError as exc:
        problems_from_validation(source, exc, (), WorkflowSpec)
        first = exc
    # Report the problems, then validate a repaired copy so that reference checks (unknown
    # agents, tools, cycles, ...) still run on everything that was well formed.
    data = copy.deepcopy(source.data)
    for _ in range(_REPAIR_PASSES):
        for error in first.errors(include_url=False):
            _repair(data, _data_path(data, error["loc"])[0])
        try:
            return WorkflowSpec.model_validate(data)
        except ValidationError as again:
            first = again
    return None


_REPAIR_PASSES = 4
BROKEN = "__broken__"
BROKEN_TOOL = "__broken__:tool"
_NODE_LISTS = ("stages", "branches", "specialists")


def _repair(data: dict[str, Any], path: DataPath) -> None:
    """Make the part of ``data`` at ``path`` valid: broken steps become a placeholder, bad keys go."""
    node_at: DataPath | None = None
    for i in range(len(path)):
        prefix = path[: i + 1]
        if (
            prefix == ("workflow",)
            or (len(prefix) == 2 and prefix[0] == "steps")
            or (i >= 1 and isinstance(path[i], int) and path[i - 1] in _NODE_LISTS)
            or (i >= 1 and path[i] == "agent" and path[i - 1] == "reflective")
        ):
            node_at = prefix
    if node_at is not None:
        if _drop_pattern_option(data, path, node_at):
            return
        parent = data_at(data, node_at[:-1])
        if isinstance(parent, dict | list):
            parent[node_at[-1]] = BROKEN  # type: ignore[index]
        return
    if not path:
        data.setdefault("name", "workflow")
        data.setdefault("workflow", BROKEN)
        return
    depth = {"agents": 3, "tools": 2, "budget": 2, "defaults": 2}.get(str(path[0]), 1)
    target = path[:depth]
    if path[0] == "agents" and len(path) >= 2 and not isinstance(data_at(data, path[:2]), dict):
        target = path[:2]
        parent = data_at(data, ("agents",))
        if isinstance(parent, dict):
            parent[path[1]] = {}
        return
    parent = data_at(data, target[:-1])
    if isinstance(parent, dict):
        if target == ("name",):
            parent["name"] = "workflow"
        elif target[0] == "tools" and len(target) == 2:
            parent[target[-1]] = BROKEN_TOOL
        else:
            parent.pop(target[-1], None)


_REQUIRED_OPTIONS = frozenset({"stages", "branches", "specialists", "supervisor", "agent"})


def _drop_pattern_option(data: dict[str, Any], path: DataPath, node_at: DataPath) -> bool:
    """For a bad optional setting of a pattern (or one bad gate), drop just that, keep the step.

    Its children and other settings then still get their reference checks.
    """
    rest = path[len(node_at) :]
    node = data_at(data, node_at)
    if len(rest) < 2 or not isinstance(node, dict) or len(node) != 1 or rest[0] not in node:
        return False
    options = node[rest[0]]
    option = rest[1]
    if not isinstance(options, dict) or option in _REQUIRED_OPTIONS or option not in options:
        return False
    if option == "gates" and len(rest) >= 3 and isinstance(options["gates"], dict):
        options["gates"].pop(rest[2], None)
    else:
        options.pop(option)
    return True


def problems_from_validation(source: Source, exc: Any, prefix: DataPath, root: Any = None) -> None:
    """Add a positioned problem for each pydantic error of data found at ``prefix`` in the file.

    Errors that land on the same place (the failed members of a union) become one problem.
    """
    from cadenza.workflows.spec import StepNode

    root = StepNode if root is None else root
    data = data_at(source.data, prefix)
    grouped: dict[tuple[DataPath, bool], list[dict[str, Any]]] = {}
    for error in exc.errors(include_url=False):
        path, at_key = _data_path(data, error["loc"])
        if error["type"] == "extra_forbidden":
            at_key = True
        grouped.setdefault(((*prefix, *path), at_key), []).append(error)
    already = {p.key for p in source.problems}
    for (path, at_key), errors in grouped.items():
        problem = _problem(source, path, at_key, errors, root)
        if problem.key not in already or at_key:
            source.problems.append(problem)


def _problem(
    source: Source, path: DataPath, at_key: bool, errors: list[dict[str, Any]], root: Any
) -> Problem:
    first = errors[0]
    kind = first["type"]
    value = first.get("input")
    if kind == "extra_forbidden":
        allowed = _allowed_keys(root, first["loc"][:-1])
        key = path[-1] if path else "?"
        close = difflib.get_close_matches(str(key), allowed, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        return source.problem(
            path,
            f"unknown key {key!r}{hint}",
            at_key=True,
            show_value=False,
            expected=f"one of: {', '.join(allowed)}" if allowed else None,
        )
    if kind == "missing":
        return source.problem(path[:-1], f"missing required key {path[-1]!r}", show_value=False)
    if kind in ("step_node", "gate_kind"):
        message = "not a step" if kind == "step_node" else "not a gate"
        if isinstance(value, dict) and len(value) != 1 and kind == "step_node":
            keys = ", ".join(map(str, value))
            message = f"a step mapping needs exactly one pattern key, got {len(value)}: {keys}"
        return source.problem(path, message, value=value, expected=first["msg"])
    if at_key:
        return source.problem(
            path,
            f"bad name: {first['msg']}",
            value=path[-1] if path else None,
            at_key=True,
            expected="letters, digits, '_', '-' or '.'",
        )
    if len(errors) == 1:
        return source.problem(path, first["msg"], value=value)
    options = "; or ".join(dict.fromkeys(e["msg"] for e in errors))
    return source.problem(path, "wrong type or value", value=value, expected=options)


def _data_path(data: Any, loc: tuple[Any, ...]) -> tuple[DataPath, bool]:
    """Map a pydantic error location onto the file's data (union tags are skipped)."""
    path: list[str | int] = []
    node = data
    at_key = False
    skip_field: str | None = None
    for index, part in enumerate(loc):
        if part == "[key]":
            at_key = True
            break
        if part == skip_field:  # the field of a one-key pattern mapping, after its union tag
            skip_field = None
            continue
        skip_field = None
        if isinstance(node, dict) and part in node:
            if len(node) == 1 and isinstance(part, str):
                skip_field = part
            path.append(part)
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            path.append(part)
            node = node[part]
        elif (
            index == len(loc) - 1 and isinstance(node, dict) and isinstance(part, str) and not _is_label(part)
        ):
            path.append(part)  # a missing key: point at its parent mapping
    return tuple(path), at_key


def _is_label(part: str) -> bool:
    return any(c in part for c in "[]-,") or part in {"ref", "custom", "str", "int", "float", "bool"}


def _allowed_keys(root: Any, loc: tuple[Any, ...]) -> list[str]:
    """The keys the model at ``loc`` (below ``root``) accepts, for 'unknown key' messages."""
    from pydantic import BaseModel

    current: Any = root
    for part in loc:
        current = _step_into(current, part)
        if current is None:
            return []
    model = _first_model(current)
    if model is None or not (isinstance(model, type) and issubclass(model, BaseModel)):
        return []
    return [f.alias or name for name, f in model.model_fields.items()]


def _first_model(tp: Any) -> Any:
    from pydantic import BaseModel

    tp = _unwrap(tp)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return tp
    for member in typing.get_args(tp):
        found = _first_model(member)
        if found is not None:
            return found
    return None


def _unwrap(tp: Any) -> Any:
    while typing.get_origin(tp) is typing.Annotated:
        tp = typing.get_args(tp)[0]
    return tp


def _tag(tp: Any) -> str | None:
    if typing.get_origin(tp) is typing.Annotated:
        for meta in typing.get_args(tp)[1:]:
            tag = getattr(meta, "tag", None)
            if isinstance(tag, str):
                return tag
    return None


def _step_into(tp: Any, part: Any) -> Any:
    from pydantic import BaseModel

    tp = _unwrap(tp)
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        members = typing.get_args(tp)
        for member in members:
            if _tag(member) == part:
                return member
        for member in members:
            found = _step_into(member, part)
            if found is not None:
                return found
        return None
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        for name, field in tp.model_fields.items():
            if part in (name, field.alias):
                return field.annotation
        return None
    if origin is dict:
        return typing.get_args(tp)[1]
    if origin is list and isinstance(part, int):
        return typing.get_args(tp)[0]
    return None
