"""``WorkflowFileError``: everything wrong with a workflow file, each problem with its place.

A file is checked completely before it is rejected, so one error carries every problem found:
the file, line and column, the offending key path and value, and what was expected. The CLI and
the API render ``problems``; nobody parses the message.
"""

from __future__ import annotations

from dataclasses import dataclass

from cadenza.errors import ConfigurationError


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong in a workflow file, and where."""

    file: str
    line: int
    column: int
    key: str
    message: str
    value: str | None = None
    expected: str | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}"
        text = f"{where}: {self.key or '(top level)'}: {self.message}"
        if self.value is not None:
            text += f" (got {self.value})"
        if self.expected:
            text += f"; expected {self.expected}"
        return text


class WorkflowFileError(ConfigurationError):
    """A workflow file cannot be loaded; ``problems`` lists every problem, in file order."""

    def __init__(self, file: str, problems: list[Problem]) -> None:
        self.file = file
        self.problems = sorted(problems, key=lambda p: (p.line, p.column, p.key))
        count = len(self.problems)
        lines = "\n".join(f"  {p}" for p in self.problems)
        super().__init__(f"{file}: {count} problem{'s' if count != 1 else ''}:\n{lines}")
