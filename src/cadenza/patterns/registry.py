"""The pattern registry: names that workflow files use for Step classes, built-in or custom."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from cadenza.engine.step import Step
from cadenza.errors import ConfigurationError

S = TypeVar("S", bound=type[Step])

_patterns: dict[str, type[Step]] = {}


def register_pattern(name: str) -> Callable[[S], S]:
    """Class decorator: make a Step class available to workflow files under ``name``."""

    def add(cls: S) -> S:
        if not (isinstance(cls, type) and issubclass(cls, Step)):
            raise ConfigurationError(f"pattern {name!r}: only Step subclasses can be registered")
        _patterns[name] = cls
        return cls

    return add


def get_pattern(name: str) -> type[Step]:
    """The Step class registered as ``name``; ``KeyError`` lists the known names."""
    _ensure_builtins()
    try:
        return _patterns[name]
    except KeyError:
        raise KeyError(f"unknown pattern {name!r}; known: {', '.join(sorted(_patterns))}") from None


def pattern_names() -> list[str]:
    _ensure_builtins()
    return sorted(_patterns)


def _ensure_builtins() -> None:
    from cadenza.patterns.parallel import Parallel
    from cadenza.patterns.pipeline import Pipeline
    from cadenza.patterns.reflective import Reflective
    from cadenza.patterns.supervisor import Supervisor

    for cls in (Pipeline, Parallel, Supervisor, Reflective):
        _patterns.setdefault(cls.kind, cls)
