"""Key-point extraction with an agent: map over a document's chunks, then merge.

``KeyPointExtractor`` is a Step, so it runs inside any workflow (its model calls are journaled
and priced like every other) and alone: ``await extract_key_points(doc, agent)``. Each chunk
goes to the agent under its own path (``chunk#3``), with the points found so far so it does not
repeat them; near-duplicate points are dropped when merging.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cadenza.engine.step import Step, StepInput
from cadenza.tools.documents import Document, chunk_text, load_document

if TYPE_CHECKING:
    from cadenza.agents.agent import Agent
    from cadenza.engine.context import StepContext
    from cadenza.types.results import StepResult


@dataclass
class KeyPoints:
    """The key points of a text: short, self-contained statements of fact or conclusion."""

    points: list[str] = field(default_factory=list)


class KeyPointExtractor(Step):
    """Ask ``agent`` for the key points of each chunk of a document and merge them.

    The step's input data is a ``Document``, a path, or text. The output is ``KeyPoints`` with
    at most ``max_points`` points, in document order.
    """

    kind = "keypoints"

    def __init__(
        self, agent: Agent, *, max_points: int = 10, chunk_chars: int = 6000, name: str = "keypoints"
    ) -> None:
        self.agent = agent
        self.max_points = max_points
        self.chunk_chars = chunk_chars
        self.name = name

    async def invoke(self, ctx: StepContext, input: StepInput) -> StepResult:
        document = _as_document(input.data if input.data is not None else input.task.description)
        chunks = chunk_text(document.text, self.chunk_chars, overlap=min(200, self.chunk_chars // 4))
        points: list[str] = []
        for chunk in chunks:
            prompt = _prompt(document, chunk.text, chunk.index + 1, len(chunks), points)
            result = await ctx.call(self.agent.asking(prompt, KeyPoints), input, f"chunk#{chunk.index + 1}")
            found: KeyPoints = result.output
            points = _merge(points, found.points)
        kept = points[: self.max_points]
        return ctx.result(
            self.name, KeyPoints(kept), metadata={"chunks": len(chunks), "title": document.title}
        )


async def extract_key_points(
    source: Document | str | Path, agent: Agent, *, max_points: int = 10, chunk_chars: int = 6000
) -> list[str]:
    """The key points of a document (a ``Document``, a path, or text) as found by ``agent``."""
    extractor = KeyPointExtractor(agent, max_points=max_points, chunk_chars=chunk_chars)
    document = _as_document(source)
    result = await _Fixed(extractor, document).run(f"Key points of {document.title or 'the document'}")
    output: KeyPoints = result.output
    return output.points


class _Fixed(Step):
    """Runs a step on a fixed input (the run's task is only its label)."""

    kind = "keypoints"

    def __init__(self, step: Step, data: Any) -> None:
        self.step = step
        self.data = data
        self.name = step.name

    async def invoke(self, ctx: StepContext, input: StepInput) -> StepResult:
        return await self.step.invoke(ctx, StepInput(input.task, self.data))


def _as_document(source: Any) -> Document:
    if isinstance(source, Document):
        return source
    if isinstance(source, Path) or (
        isinstance(source, str) and "\n" not in source and Path(source).is_file()
    ):
        return load_document(source)
    return Document(None, str(source), "text", {}, [str(source)])


def _prompt(document: Document, text: str, number: int, total: int, found: list[str]) -> str:
    title = f" of {document.title!r}" if document.title else ""
    parts = [f"List the key points of part {number} of {total}{title}: facts, figures and conclusions."]
    if found:
        parts.append("Already found (do not repeat):\n" + "\n".join(f"- {p}" for p in found))
    parts.append(f"Text:\n{text}")
    return "\n\n".join(parts)


def _merge(points: list[str], new: list[str]) -> list[str]:
    seen = {_key(p) for p in points}
    merged = list(points)
    for point in new:
        point = point.strip().lstrip("-• ").strip()
        key = _key(point)
        if point and key not in seen:
            seen.add(key)
            merged.append(point)
    return merged


def _key(point: str) -> str:
    return " ".join(re.findall(r"\w+", point.lower()))
