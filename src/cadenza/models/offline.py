"""``offline``: a deterministic stand-in for an LLM, with no network.

It is not an LLM and says so in every answer. It exists so that a first run, a demo, a test or
a benchmark can exercise every pattern for real. The same request always gets the same answer;
usage is estimated at four characters a token and costs nothing.

What it does, by request:

- **Tools offered, none called yet since the last user message**: it calls every tool whose name
  or description shares a word with the task, with arguments that fit the tool's schema (an
  arithmetic expression for ``expression``, the task's first paragraph for ``query``, ...).
- **Structured output**: a ``Plan`` schema (``subtasks`` + ``done``) gets one subtask per
  ``- name: description`` specialist line in the prompt, then ``done`` once "Results so far:"
  appears; a ``Critique`` (``score`` + ``feedback``) scores the draft 0.6 plus 0.15 per
  ``Revision`` line, at most 0.95 (so a reflective loop scores 0.6, 0.75, 0.9 by design); a
  ``Verdict`` (``passed`` + ``feedback``) passes any non-empty output without "TODO"; any other
  schema is filled with valid example data (bounds, lengths, formats, tuples honoured).
- **Prose** otherwise, a few short lines::

      [offline model: deterministic, not an LLM] <first line of the instructions>
      Task: <the task, clipped>
      Building on: <a one-line digest of the step's input, at most 300 characters>
      Tool <name>: <output>                           (one per tool result)
      Revision <n>: addressed: <feedback>             (when revising)

  The digest shrinks earlier offline answers to their role and facts and merges their own
  digests once, so nested flows never repeat "Building on: ... Building on: ...". When the
  prompt has feedback to address, the draft in the input keeps its ``Revision`` lines and one is
  added for the new feedback (once per distinct feedback); without feedback an answer starts
  with none. ``Lessons:`` in the system prompt add ``Revision (lesson)`` lines.
- ``max_tokens`` truncates the text (four characters a token) with ``finish_reason="length"``;
  ``stream`` yields the same text word by word, then the final response.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import AsyncIterator
from typing import Any

from cadenza.models.base import ModelRequest, ModelResponse, OutputSchema, ToolDefinition
from cadenza.models.function import estimate_usage
from cadenza.types.messages import Message, ToolCall

LABEL = "[offline model: deterministic, not an LLM]"
_WORD = re.compile(r"[a-z][a-z0-9]+")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_EXPRESSION = re.compile(r"[\d.]+(?:\s*[-+*/^%]\s*\(?\s*[\d.]+\)?)+")
_SPECIALIST = re.compile(r"^- (?P<name>[\w.-]+):(?P<rest>.*)$", re.MULTILINE)
_STOP_WORDS = (
    "the and for with from that this what which into about your their text given return "
    "returns using used make tool tools value values"
)
_STOP = frozenset(_STOP_WORDS.split())
REVISION_MARK = "Revision "


class OfflineModel:
    """The ``offline`` model. Usage is estimated at four characters a token; it costs nothing."""

    @property
    def name(self) -> str:
        return "offline"

    async def complete(self, request: ModelRequest) -> ModelResponse:
        return respond(request)

    async def stream(self, request: ModelRequest) -> AsyncIterator[str | ModelResponse]:
        response = respond(request)
        for piece in re.findall(r"\S+\s*", response.text):
            yield piece
        yield response


def respond(request: ModelRequest) -> ModelResponse:
    """The one deterministic answer to ``request``."""
    messages = request.messages
    if request.tools and not _answered_tools(messages):
        calls = _fitting_tool_calls(request.tools, _last_user(messages))
        if calls:
            return ModelResponse(
                tool_calls=calls,
                usage=estimate_usage(messages, json.dumps([c.arguments for c in calls])),
                model="offline",
                finish_reason="tool_calls",
            )
    if request.output_schema is not None:
        text = json.dumps(_structured(request.output_schema, messages), ensure_ascii=False)
    else:
        text = _prose(messages)
    finish_reason = "stop"
    if request.max_tokens is not None and len(text) > request.max_tokens * 4:
        text, finish_reason = text[: request.max_tokens * 4], "length"
    return ModelResponse(
        text=text, usage=estimate_usage(messages, text), model="offline", finish_reason=finish_reason
    )


def _last_user(messages: list[Message]) -> str:
    for message in reversed(messages):
        if message.role == "user":
            return message.content
    return ""


def _system(messages: list[Message]) -> str:
    return messages[0].content if messages and messages[0].role == "system" else ""


def _answered_tools(messages: list[Message]) -> bool:
    """Whether tools were already called since the last user message (call each tool once)."""
    for message in reversed(messages):
        if message.role == "tool":
            return True
        if message.role == "user":
            return False
    return False


def _words(text: str) -> set[str]:
    return {w.rstrip("s") for w in _WORD.findall(text.lower()) if len(w) > 3 and w not in _STOP}


def _fitting_tool_calls(tools: list[ToolDefinition], task: str) -> list[ToolCall]:
    """Call each tool whose name or description shares a word with the task."""
    task_words = _words(task)
    calls: list[ToolCall] = []
    for tool in tools:
        tool_words = _words(tool.name.replace("_", " ") + " " + tool.description)
        if tool_words & task_words:
            arguments = _arguments_for(tool.parameters, task)
            calls.append(ToolCall(f"offline_{len(calls) + 1}", tool.name, json.dumps(arguments)))
    return calls


def _arguments_for(schema: dict[str, Any], task: str) -> dict[str, Any]:
    properties: dict[str, Any] = schema.get("properties", {})
    required = set(schema.get("required", properties))
    subject = task.split("\n\n", 1)[0]
    return {
        name: _value_for(name, prop, subject, task) for name, prop in properties.items() if name in required
    }


def _value_for(name: str, prop: dict[str, Any], subject: str, task: str) -> Any:
    kind = prop.get("type")
    if "enum" in prop:
        return prop["enum"][0]
    if kind == "string":
        if "expression" in name or "formula" in name:
            match = _EXPRESSION.search(task)
            return match.group(0).strip() if match else "0"
        if name in {"query", "question", "topic", "subject", "title"}:
            return subject[:200]
        return task
    if kind in {"number", "integer"}:
        match = _NUMBER.search(task)
        value = float(match.group(0)) if match else 1.0
        return int(value) if kind == "integer" else value
    if kind == "boolean":
        return True
    if kind == "array":
        return []
    if kind == "object":
        return {}
    return task


def _prose(messages: list[Message]) -> str:
    """A compact, deterministic answer: role, task, a digest of the input, tool output, revisions."""
    prompt = _last_user(messages)
    task, _, rest = prompt.partition("\n\n")
    lines = [f"{LABEL} {_role(messages)}", f"Task: {_clip(task.strip(), 200)}"]
    input_text = _section(rest, "Input")
    digest = _digest(input_text, own_role=_role(messages))
    if digest:
        lines.append(f"Building on: {digest}")
    for message in messages:
        if message.role == "tool":
            lines.append(f"Tool {message.name}: {_clip(' '.join(message.content.split()), 200)}")
    feedback = _clip(" ".join(_section(rest, "Feedback to address").split()), 200)
    # Revising (there is feedback): the draft in the input keeps its revisions. A fresh answer
    # that merely builds on another loop's output starts with none, so its critic starts at 0.6.
    revisions = _revisions_in(input_text) if feedback else []
    lessons = _section(_system(messages), "Lessons")
    revisions += [f"{REVISION_MARK}(lesson): {lesson}" for lesson in lessons.splitlines() if lesson.strip()]
    if feedback and not any(ln.endswith(f"addressed: {feedback}") for ln in revisions):
        # Once per piece of feedback: the later stages of a revised pipeline do not count it again.
        revisions.append(f"{REVISION_MARK}{len(revisions) + 1}: addressed: {feedback}")
    lines.extend(dict.fromkeys(revisions))
    return "\n".join(lines)


def _revisions_in(text: str) -> list[str]:
    """The ``Revision`` lines of a draft, also inside the values of a JSON object (a dict merge)."""
    lines = text.splitlines()
    if text.lstrip().startswith("{"):
        try:
            data = json.loads(text)
        except ValueError:
            data = None
        if isinstance(data, dict):
            lines = [ln for value in data.values() if isinstance(value, str) for ln in value.splitlines()]
    return [ln.strip() for ln in lines if ln.startswith(REVISION_MARK)]


def _role(messages: list[Message]) -> str:
    """Who is answering: the first line of the system message."""
    return _clip(_system(messages).split("\n", 1)[0].strip(), 80) or "Assistant"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _digest(text: str, limit: int = 300, *, own_role: str = "") -> str:
    """One line saying what a step was handed, without repeating it.

    Earlier offline answers shrink to their role and the facts they carried (tool output, plain
    text); their task lines and revision marks are left out and the items of their own digests are
    merged in once each, so nested flows never grow "Building on: ... Building on: ..." chains and
    a revised draft still says what it was built on. A heading (``## analyst`` from a
    concatenating merge, ``[t1] analyst on ...:`` from a supervisor) labels what follows it, and a
    JSON object (a ``dict`` merge) is digested per key.
    """
    text = text.strip()
    if not text:
        return ""
    if text[0] in "{[":
        try:
            data = json.loads(text)
        except ValueError:
            data = None
        if isinstance(data, dict):
            parts = [f"{key}: {_digest(_as_text(value), 120)}" for key, value in data.items()]
            return _clip("; ".join(parts), limit)
    items: list[str] = []
    heading = ""
    for raw in text.splitlines():
        line = " ".join(raw.split())
        if not line or line.startswith(("Task:", REVISION_MARK)):
            continue
        if line.startswith("Building on:"):
            # An earlier digest: its items once each, never "Building on: Building on: ...".
            items.extend(item for item in line.removeprefix("Building on:").strip().split("; ") if item)
            continue
        if line.startswith("## ") or line.endswith(":"):
            heading = line.removeprefix("## ").rstrip(":").split(" on '", 1)[0]
            continue
        if line.startswith(LABEL):
            line = line[len(LABEL) :].strip()
            if line == own_role and not heading:
                continue  # our own earlier draft: its digest says what it was built on
        items.append(f"{heading}: {line}" if heading else line)
        heading = ""
    return _clip("; ".join(dict.fromkeys(items)), limit)


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _section(text: str, heading: str) -> str:
    """The paragraph(s) under ``heading:`` in a prompt built by ``render_prompt``."""
    marker = f"{heading}:\n"
    start = text.find(marker)
    if start < 0:
        return ""
    body = text[start + len(marker) :]
    end = re.search(r"\n\n(?:Context|Input|Feedback to address|Expected output|Lessons):", body)
    return body[: end.start()] if end else body


def _structured(schema: OutputSchema, messages: list[Message]) -> Any:
    properties = set(schema.json_schema.get("properties", {}))
    if {"subtasks", "done"} <= properties:
        return _plan(messages)
    if {"score", "feedback"} <= properties:
        return _critique(messages)
    if {"passed", "feedback"} <= properties:
        return _verdict(messages)
    return _example(schema.json_schema, schema.json_schema.get("$defs", {}), _last_user(messages))


def _plan(messages: list[Message]) -> dict[str, Any]:
    """One subtask per specialist listed in the prompt; done once results have come back."""
    prompt = _last_user(messages)
    if "Results so far:" in prompt:
        return {"subtasks": [], "done": True, "rationale": "Every specialist has reported."}
    task = prompt.split("\n\n", 1)[0].strip()
    subtasks: list[dict[str, Any]] = []
    for number, match in enumerate(_SPECIALIST.finditer(prompt), start=1):
        rest = match.group("rest").strip()
        subtasks.append(
            {
                "id": f"t{number}",
                "description": f"{rest.split('(')[0].strip() or 'Work'} for: {task[:200]}",
                "specialist": match.group("name"),
                "depends_on": [],
            }
        )
    return {"subtasks": subtasks, "done": False, "rationale": "One subtask per specialist."}


def _critique(messages: list[Message]) -> dict[str, Any]:
    """Score a draft by the feedback it addressed: 0.6, then +0.15 per revision, at most 0.95."""
    draft = _section(_last_user(messages), "Draft") or _last_user(messages)
    revisions = {line for line in draft.splitlines() if line.startswith(REVISION_MARK)}
    score = min(0.6 + 0.15 * len(revisions), 0.95)
    feedback = (
        "Strong draft; keep it."
        if score >= 0.9
        else f"Point {len(revisions) + 1}: add concrete figures, sources and a clear conclusion."
    )
    return {"score": round(score, 2), "feedback": feedback}


def _verdict(messages: list[Message]) -> dict[str, Any]:
    candidate = _section(_last_user(messages), "Output") or _last_user(messages)
    passed = bool(candidate.strip()) and "TODO" not in candidate
    feedback = "Looks complete." if passed else "The output is empty or unfinished."
    return {"passed": passed, "feedback": feedback}


def _example(schema: dict[str, Any], defs: dict[str, Any], task: str) -> Any:
    """Valid example data for a JSON Schema, with strings taken from the task.

    Honours what pydantic puts in schemas: refs, unions, enums, bounds (inclusive or not),
    lengths, item counts, tuples (``prefixItems``) and the common string formats.
    """
    if "$ref" in schema:
        return _example(defs[schema["$ref"].rsplit("/", 1)[-1]], defs, task)
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            options = [s for s in schema[key] if s.get("type") != "null"] or schema[key]
            return _example(options[0], defs, task)
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    if "default" in schema:
        return schema["default"]
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        return {name: _example(prop, defs, task) for name, prop in schema.get("properties", {}).items()}
    if kind == "array":
        if "prefixItems" in schema:
            return [_example(item, defs, task) for item in schema["prefixItems"]]
        count = max(int(schema.get("minItems", 1)), 1)
        return [_example(schema.get("items", {}), defs, task) for _ in range(count)]
    if kind == "integer":
        return _integer_within(schema)
    if kind == "number":
        return _number_within(schema)
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    if schema.get("format") in _FORMAT_EXAMPLES:
        return _FORMAT_EXAMPLES[schema["format"]]
    text = task.split("\n", 1)[0][:120]
    if "maxLength" in schema:
        text = text[: int(schema["maxLength"])]
    return text.ljust(int(schema.get("minLength", 0)), ".")


_FORMAT_EXAMPLES = {
    "date": "2024-01-01",
    "date-time": "2024-01-01T00:00:00Z",
    "time": "12:00:00",
    "duration": "P1D",
    "uuid": "00000000-0000-4000-8000-000000000000",
    "email": "offline@example.com",
    "uri": "https://example.com/",
    "ipv4": "192.0.2.1",
    "ipv6": "2001:db8::1",
}


def _number_within(schema: dict[str, Any]) -> float:
    low = schema.get("minimum", schema.get("exclusiveMinimum"))
    high = schema.get("maximum", schema.get("exclusiveMaximum"))
    if low is not None and high is not None:
        return float((low + high) / 2)
    if low is not None:
        return float(low + 1)
    if high is not None:
        return float(high - 1)
    return 0.5


def _integer_within(schema: dict[str, Any]) -> int:
    low: float | None = schema.get("minimum")
    if low is None and "exclusiveMinimum" in schema:
        low = math.floor(schema["exclusiveMinimum"]) + 1
    high: float | None = schema.get("maximum")
    if high is None and "exclusiveMaximum" in schema:
        high = math.ceil(schema["exclusiveMaximum"]) - 1
    if low is not None and high is not None:
        return math.ceil(low) + (math.floor(high) - math.ceil(low)) // 2
    if low is not None:
        return math.ceil(low)
    if high is not None:
        return min(math.floor(high), 1)
    return 1
