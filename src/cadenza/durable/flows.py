"""Flow references: how another process rebuilds the Step a run was started with.

A durable run stores a small reference next to it, so ``cadenza runs resume`` (or a worker)
can rebuild the flow without the code that started it:

- ``{"import": "package.module:attr"}`` — a Step, or a function returning one (called with
  ``model=`` when a fork changes the model);
- ``{"workflow_text": ..., "file": ..., "base_dir": ..., "model": ...}`` — a workflow file's
  text as it was when the run started (``${VAR}`` references unresolved, so no secret is stored).
"""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path
from typing import Any

from cadenza.durable.errors import DurableRunError
from cadenza.engine.step import Step


def import_ref(target: str) -> dict[str, Any]:
    """A reference to ``module:attr`` (a Step or a factory of one)."""
    if ":" not in target:
        raise DurableRunError(f"flow reference {target!r} must look like 'package.module:attribute'")
    return {"import": target}


def workflow_file_ref(path: str | Path, *, model: str | None = None) -> dict[str, Any]:
    """A reference to a workflow file, with its text as it is now."""
    file = Path(path).resolve()
    ref: dict[str, Any] = {
        "workflow_text": file.read_text(encoding="utf-8"),
        "file": str(path),
        "base_dir": str(file.parent),
    }
    if model:
        ref["model"] = model
    return ref


def load_flow(ref: dict[str, Any] | None, *, model: str | None = None) -> tuple[Step, Any]:
    """The Step (and the budget it carries, if any) a reference names."""
    if not ref:
        raise DurableRunError(
            "this run was started from code with no flow reference; resume it from that code with "
            "cadenza.durable.resume_run(run_id, flow=...) or start runs with flow_ref="
        )
    if "import" in ref:
        return _imported(ref["import"], model), None
    if "workflow_text" in ref:
        from cadenza.workflows import load_workflow_text

        workflow = load_workflow_text(
            ref["workflow_text"],
            ref.get("file", "<workflow>"),
            base_dir=Path(ref["base_dir"]) if ref.get("base_dir") else None,
            model_override=model or ref.get("model"),
        )
        return workflow.step, workflow.budget
    raise DurableRunError(f"unknown flow reference: {sorted(ref)}")


def _imported(target: str, model: str | None) -> Step:
    module_name, _, attr = target.partition(":")
    try:
        obj: Any = importlib.import_module(module_name)
        for part in attr.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as exc:
        raise DurableRunError(f"cannot import the run's flow {target!r}: {exc}") from None
    if isinstance(obj, Step):
        return obj
    if callable(obj):
        kwargs = {"model": model} if model and "model" in inspect.signature(obj).parameters else {}
        built = obj(**kwargs)
        if isinstance(built, Step):
            return built
        step = getattr(built, "step", None)
        if isinstance(step, Step):
            return step
    raise DurableRunError(f"the run's flow {target!r} is not a Step nor a function returning one")
