"""The pattern registry: names that workflow files use for Step classes, built-in or custom."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from cadenza.engine.step import Step
from cadenza.errors import ConfigurationError

S = TypeVar("S", bound=type[Step])

_patterns: dict[str, type[Step]] = {}


class SpecBuilder(Protocol):
    """What a custom pattern gets to turn its workflow-file options into Steps.

    ``where`` is a key path inside the pattern's options (``"branches", 0``): problems found
    there are reported at that line of the file, with every other problem in the file.
    """

    def step(self, value: Any, *where: str | int) -> Step:
        """Build a child step written like any step in the file (a name or a pattern mapping)."""
        ...

    def agent(self, name: str, *where: str | int) -> Step:
        """The agent of the file named ``name``."""
        ...

    def problem(self, message: str, *where: str | int, expected: str | None = None) -> None:
        """Report a problem in the options; loading fails after every problem is collected."""
        ...


SpecFactory = Callable[[dict[str, Any], SpecBuilder], Step]
_factories: dict[str, SpecFactory] = {}


def register_pattern(name: str, *, from_spec: SpecFactory | None = None) -> Callable[[S], S]:
    """Class decorator: make a Step class available to workflow files under ``name``.

    In a file, ``{name: {options...}}`` builds the step with ``from_spec(options, builder)``:
    the function given here, else the class's own ``from_spec`` classmethod, else
    ``cls(**options)`` (fine when no option is a step).
    """

    def add(cls: S) -> S:
        if not (isinstance(cls, type) and issubclass(cls, Step)):
            raise ConfigurationError(f"pattern {name!r}: only Step subclasses can be registered")
        _patterns[name] = cls
        if from_spec is not None:
            _factories[name] = from_spec
        return cls

    return add


def spec_factory(name: str) -> SpecFactory | None:
    """How a workflow file builds pattern ``name``: its registered factory or ``from_spec``."""
    if name in _factories:
        return _factories[name]
    factory: SpecFactory | None = getattr(get_pattern(name), "from_spec", None)
    return factory


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
    from cadenza.durable.approval import Approval
    from cadenza.patterns.parallel import Parallel
    from cadenza.patterns.pipeline import Pipeline
    from cadenza.patterns.reflective import Reflective
    from cadenza.patterns.supervisor import Supervisor

    for cls in (Pipeline, Parallel, Supervisor, Reflective, Approval):
        _patterns.setdefault(cls.kind, cls)
