"""Read a YAML or JSON workflow file into plain data, remembering where every value came from.

PyYAML's composer keeps a start mark on every node; we keep those marks in a map from the data
path (``("agents", "writer", "model")``) to a line and column, so any later check can point at
the exact key or value. ``${VAR}`` references are resolved here (``${VAR:-default}`` gives a
default, ``$${`` is a literal ``${``), and every resolved place is remembered so that dumps show
the reference, never the secret.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cadenza.workflows.errors import Problem

Path = tuple[str | int, ...]
_REF = re.compile(r"\$\$\{|\$\{([^}]*)\}|\$\{")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True, slots=True)
class Position:
    line: int
    column: int


@dataclass
class Source:
    """A parsed file: its data, the position of every value and key, and its env references."""

    file: str
    data: Any
    values: dict[Path, Position] = field(default_factory=dict)
    keys: dict[Path, Position] = field(default_factory=dict)
    env_refs: dict[Path, str] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    def position(self, path: Path, *, at_key: bool = False) -> Position:
        """The position of ``path`` (its key when ``at_key``), else of its nearest ancestor."""
        probe = tuple(path)
        while True:
            if at_key and probe in self.keys:
                return self.keys[probe]
            if probe in self.values:
                return self.values[probe]
            if not probe:
                return Position(1, 1)
            probe = probe[:-1]

    def problem(
        self,
        path: Path,
        message: str,
        *,
        value: Any = None,
        expected: str | None = None,
        at_key: bool = False,
        show_value: bool = True,
    ) -> Problem:
        """A ``Problem`` at ``path``; values from the environment show as their reference."""
        pos = self.position(path, at_key=at_key)
        shown: str | None = None
        if show_value:
            shown = self.env_refs.get(tuple(path)) or _short(value)
        return Problem(self.file, pos.line, pos.column, dotted(path), message, shown, expected)

    def add(self, path: Path, message: str, **kwargs: Any) -> None:
        self.problems.append(self.problem(path, message, **kwargs))


def dotted(path: Path) -> str:
    """``agents.writer.tools[0]``: a path as people write it."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def data_at(data: Any, path: Path) -> Any:
    """The value at ``path`` inside ``data``, or None where the path does not lead anywhere."""
    for part in path:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def _short(value: Any) -> str | None:
    if value is None:
        return None
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def parse(text: str, file: str, environ: Mapping[str, str] | None = None) -> Source:
    """Parse ``text``; syntax errors, duplicate keys and bad ``${VAR}`` references are problems."""
    import yaml

    source = Source(file, None)
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        detail = " ".join(str(p) for p in (exc.context, exc.problem) if p)
        source.problems.append(Problem(file, line, column, "", f"not valid YAML/JSON: {detail}"))
        return source
    except yaml.YAMLError as exc:
        source.problems.append(Problem(file, 1, 1, "", f"not valid YAML/JSON: {exc}"))
        return source
    if node is None:
        source.problems.append(Problem(file, 1, 1, "", "the file is empty", expected="a workflow mapping"))
        return source
    builder = _Builder(source, os.environ if environ is None else environ)
    source.data = builder.build(node, ())
    return source


class _Builder:
    def __init__(self, source: Source, environ: Mapping[str, str]) -> None:
        import yaml

        self.source = source
        self.environ = environ
        self.constructor = yaml.constructor.SafeConstructor()
        self.yaml = yaml

    def build(self, node: Any, path: Path) -> Any:
        yaml = self.yaml
        self.source.values[path] = Position(node.start_mark.line + 1, node.start_mark.column + 1)
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(child, (*path, i)) for i, child in enumerate(node.value)]
        value = self.constructor.construct_object(node, deep=True)
        if isinstance(value, str) and "$" in value:
            return self._resolve(value, path)
        return value

    def _mapping(self, node: Any, path: Path) -> dict[Any, Any]:
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = self.constructor.construct_object(key_node, deep=True)
            key_pos = Position(key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            if not isinstance(key, str | int) or isinstance(key, bool):
                self.source.problems.append(
                    Problem(
                        self.source.file,
                        key_pos.line,
                        key_pos.column,
                        dotted(path),
                        f"keys must be text, got {key!r}",
                        expected="a name",
                    )
                )
                continue
            child = (*path, key)
            if key in out:
                first = self.source.keys[child]
                self.source.problems.append(
                    Problem(
                        self.source.file,
                        key_pos.line,
                        key_pos.column,
                        dotted(child),
                        f"duplicate key {key!r} (first defined on line {first.line})",
                        expected="each key once per mapping",
                    )
                )
                continue
            self.source.keys[child] = key_pos
            out[key] = self.build(value_node, child)
        return out

    def _resolve(self, raw: str, path: Path) -> str:
        problems: list[str] = []

        def substitute(match: re.Match[str]) -> str:
            token = match.group(0)
            if token == "$${":
                return "${"
            body = match.group(1)
            if body is None:
                problems.append("unclosed '${': write ${NAME} (or $${ for a literal '${')")
                return token
            name, has_default, default = body.partition(":-")
            if not _NAME.match(name):
                problems.append(
                    f"bad environment variable reference ${{{body}}}: names are letters, digits and '_'"
                )
                return token
            if name in self.environ:
                return self.environ[name]
            if has_default:
                return default
            problems.append(f"environment variable {name} is not set (referenced as ${{{body}}})")
            return token

        resolved = _REF.sub(substitute, raw)
        for message in problems:
            self.source.add(path, message, value=raw, expected="a set variable or ${NAME:-default}")
        if resolved != raw:
            self.source.env_refs[path] = raw
        return resolved
