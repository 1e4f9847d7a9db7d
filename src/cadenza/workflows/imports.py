"""Import the Python a workflow file points at: ``module:attr`` or ``file.py:attr``.

A ``.py`` path is relative to the workflow file, so a workflow and its tools can live side by
side in any folder. Each file is imported once per process, under a module name derived from
its absolute path, so two folders may both have a ``tools.py``.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any


class ImportProblem(Exception):
    """What went wrong importing a workflow's Python (message only: the caller knows where)."""


def import_module(target: str, base_dir: Path) -> ModuleType:
    """Import a dotted module name or a ``.py`` file relative to ``base_dir``."""
    if target.endswith(".py") or "/" in target:
        return _import_file((base_dir / target).resolve())
    added = str(base_dir) not in sys.path
    if added:
        sys.path.insert(0, str(base_dir))
    try:
        return importlib.import_module(target)
    except ModuleNotFoundError as exc:
        raise ImportProblem(f"no module named {exc.name!r}") from None
    except Exception as exc:
        raise ImportProblem(f"importing {target!r} raised {type(exc).__name__}: {exc}") from None
    finally:
        if added:
            sys.path.remove(str(base_dir))


def import_object(path: str, base_dir: Path) -> Any:
    """The object named by ``module:attr`` (``attr`` may be dotted)."""
    module_name, _, attribute = path.partition(":")
    module = import_module(module_name, base_dir)
    obj: Any = module
    for part in attribute.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise ImportProblem(f"{module_name!r} has no attribute {attribute!r}") from None
    return obj


def _import_file(file: Path) -> ModuleType:
    if not file.is_file():
        raise ImportProblem(f"no such file: {file}")
    digest = hashlib.sha1(str(file).encode()).hexdigest()[:10]
    name = f"cadenza_workflow_{file.stem}_{digest}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, file)
    if spec is None or spec.loader is None:
        raise ImportProblem(f"cannot import {file}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[name]
        raise ImportProblem(f"importing {file.name} raised {type(exc).__name__}: {exc}") from None
    return module
