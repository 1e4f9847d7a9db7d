"""The ``offline`` model: deterministic, labelled, and able to drive every pattern meaningfully."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Annotated, Any, Literal

import pytest
from pydantic import BaseModel, Field, PositiveInt, TypeAdapter, ValidationError

from cadenza import Critique, Plan, Verdict, tool
from cadenza.agents.agent import output_schema, render_prompt
from cadenza.engine.step import StepInput
from cadenza.models.base import ModelRequest, ModelResponse, OutputSchema
from cadenza.models.offline import LABEL, REVISION_MARK, OfflineModel, respond
from cadenza.models.pricing import cost_of
from cadenza.types import Message, Task, ToolCall


def ask(prompt: str, *, system: str = "", **kwargs: Any) -> ModelResponse:
    messages = ([Message("system", system)] if system else []) + [Message("user", prompt)]
    return respond(ModelRequest(messages, **kwargs))


def prompt(task: str, data: Any = None, feedback: str | None = None) -> str:
    return render_prompt(StepInput(Task(task), data, feedback))


# --- prose ----------------------------------------------------------------------------------


def test_answers_are_labelled_deterministic_and_free() -> None:
    first = ask("Compare the EV markets of Norway and Spain", system="You are an analyst.\nBe brief.")
    second = ask("Compare the EV markets of Norway and Spain", system="You are an analyst.\nBe brief.")
    assert first == second
    lines = first.text.splitlines()
    assert lines[0] == f"{LABEL} You are an analyst."
    assert lines[1] == "Task: Compare the EV markets of Norway and Spain"
    assert first.usage.input_tokens > 0 and first.usage.output_tokens > 0
    assert cost_of("offline", first.usage) == 0
    assert first.finish_reason == "stop" and first.model == "offline"


def test_answer_builds_on_its_input_compactly() -> None:
    upstream = ask("Research EVs", system="You research.").text
    middle = ask(prompt("Analyse EVs", upstream), system="You analyse.").text
    final = ask(prompt("Write about EVs", middle), system="You write.").text
    assert final.count("Building on:") == 1
    assert "Building on: You analyse.; You research." in final
    assert final.count(LABEL) == 1
    assert "Task: Research EVs" not in final


def test_digest_of_a_concatenating_merge_names_each_branch() -> None:
    a = ask("Task", system="Analyst A.").text
    b = ask("Task", system="Analyst B.").text
    text = ask(prompt("Task", f"## left\n{a}\n\n## right\n{b}"), system="You write.").text
    assert "Building on: left: Analyst A.; right: Analyst B." in text


def test_digest_of_a_dict_merge_names_each_key() -> None:
    a = ask("Task", system="Analyst A.").text
    text = ask(prompt("Task", {"left": a, "count": 3}), system="You write.").text
    assert "Building on: left: Analyst A.; count: 3" in text


def test_digest_is_capped() -> None:
    text = ask(prompt("Task", "word " * 500), system="You write.").text
    digest = next(line for line in text.splitlines() if line.startswith("Building on:"))
    assert len(digest) <= len("Building on: ") + 300
    assert digest.endswith("…")


def test_tool_output_appears_in_the_answer() -> None:
    messages = [
        Message("user", "Count the words"),
        Message("assistant", "", tool_calls=[ToolCall("c1", "word_count", "{}")]),
        Message("tool", "42", tool_call_id="c1", name="word_count"),
    ]
    text = respond(ModelRequest(messages)).text
    assert "Tool word_count: 42" in text


# --- revisions and critiques ------------------------------------------------------------------


def critique(draft: str) -> dict[str, Any]:
    return json.loads(
        ask(f"Critique the draft.\n\nDraft:\n{draft}", output_schema=output_schema(Critique)).text
    )


def test_revisions_raise_the_critics_score_by_design() -> None:
    draft = ask("Write", system="You write.").text
    scores = []
    for _ in range(4):
        verdict = critique(draft)
        scores.append(verdict["score"])
        draft = ask(prompt("Write", draft, verdict["feedback"]), system="You write.").text
    assert scores == [0.6, 0.75, 0.9, 0.95]
    assert draft.count(REVISION_MARK) == 4


def test_a_fresh_answer_on_revised_input_starts_over() -> None:
    revised = ask(prompt("Write", "draft", "Add figures."), system="You write.").text
    assert f"{REVISION_MARK}1: addressed: Add figures." in revised
    fresh = ask(prompt("Summarise", revised), system="You summarise.").text
    assert REVISION_MARK not in fresh
    assert critique(fresh)["score"] == 0.6


def test_the_same_feedback_is_addressed_once() -> None:
    first = ask(prompt("Write", "draft", "Add figures."), system="Drafter.").text
    second = ask(prompt("Write", first, "Add figures."), system="Editor.").text
    assert second.count(REVISION_MARK) == 1


def test_lessons_in_the_system_prompt_count_as_revisions() -> None:
    text = ask("Write", system="You write.\n\nLessons:\nCite sources.\nUse figures.").text
    assert f"{REVISION_MARK}(lesson): Cite sources." in text
    assert critique(text)["score"] == 0.9


def test_verdicts() -> None:
    schema = output_schema(Verdict)
    good = json.loads(ask("Judge.\n\nOutput:\nA full answer.", output_schema=schema).text)
    bad = json.loads(ask("Judge.\n\nOutput:\nTODO write this", output_schema=schema).text)
    assert good["passed"] is True and bad["passed"] is False
    assert TypeAdapter(Verdict).validate_python(bad).feedback


# --- plans --------------------------------------------------------------------------------------


def test_plan_has_one_subtask_per_listed_specialist_then_is_done() -> None:
    text = (
        "Compare EV markets\n\nBreak the task into subtasks.\n\nSpecialists:\n"
        "- researcher: Finds facts (capabilities: research)\n- analyst: Crunches numbers"
    )
    plan = TypeAdapter(Plan).validate_json(ask(text, output_schema=output_schema(Plan)).text)
    assert [(s.id, s.specialist) for s in plan.subtasks] == [("t1", "researcher"), ("t2", "analyst")]
    assert plan.subtasks[0].description == "Finds facts for: Compare EV markets"
    assert plan.done is False
    later = ask(f"{text}\n\nResults so far:\n[t1] ...", output_schema=output_schema(Plan)).text
    assert TypeAdapter(Plan).validate_json(later).done is True


# --- tools ----------------------------------------------------------------------------------


@tool
def word_count(text: str) -> int:
    """Count the words in a text."""
    return len(text.split())


@tool
def calculate(expression: str) -> float:
    """Evaluate an arithmetic expression."""
    return 0.0


@tool
def weather(city: str) -> str:
    """Look up the forecast for a city."""
    return "sunny"


def test_calls_the_tools_that_fit_the_task_with_valid_arguments() -> None:
    tools = [word_count.definition, calculate.definition, weather.definition]
    response = ask("Count the words of this text and evaluate 12 * (3 + 4)", tools=tools)
    assert response.finish_reason == "tool_calls"
    names = [c.name for c in response.tool_calls]
    assert names == ["word_count", "calculate"]
    args = {c.name: json.loads(c.arguments) for c in response.tool_calls}
    assert word_count.validate(args["word_count"])
    assert args["calculate"] == {"expression": "12 * (3 + 4)"}
    assert len({c.id for c in response.tool_calls}) == 2


def test_answers_once_the_tools_have_reported() -> None:
    messages = [
        Message("user", "Count the words"),
        Message("assistant", "", tool_calls=[ToolCall("c1", "word_count", "{}")]),
        Message("tool", "2", tool_call_id="c1", name="word_count"),
    ]
    response = respond(ModelRequest(messages, tools=[word_count.definition]))
    assert not response.tool_calls and "Tool word_count: 2" in response.text


def test_no_tool_call_when_nothing_fits() -> None:
    assert not ask("Write a poem about the sea", tools=[weather.definition]).tool_calls


# --- structured output ------------------------------------------------------------------------


class Address(BaseModel):
    city: str
    zip_code: Annotated[str, Field(max_length=5)]


class Profile(BaseModel):
    name: str
    age: PositiveInt
    score: float = Field(gt=0, lt=1)
    rank: int = Field(ge=10, le=20)
    ratio: float = Field(gt=2)
    kind: Literal["a", "b"]
    tags: list[str] = Field(min_length=2)
    address: Address
    nickname: str | None
    born: dt.date
    seen_at: dt.datetime
    id: uuid.UUID
    pair: tuple[int, str]
    counts: dict[str, int]
    title: str = Field(min_length=30)


@pytest.mark.parametrize("output_type", [Profile, list[Address], Critique, int, bool, dict[str, float]])
def test_structured_output_always_validates(output_type: Any) -> None:
    schema = output_schema(output_type)
    text = ask("Describe a person from Oslo", output_schema=schema).text
    problem = None
    try:
        TypeAdapter(output_type).validate_json(text)
    except ValidationError as exc:
        problem = str(exc)
    assert problem is None, f"offline output for {schema.name} does not validate: {problem}\n{text}"


def test_structured_output_for_a_raw_schema() -> None:
    properties = {"n": {"type": "integer", "exclusiveMinimum": 0}, "m": {"type": "integer", "maximum": -3}}
    schema = OutputSchema("Thing", {"type": "object", "properties": properties})
    data = json.loads(ask("x", output_schema=schema).text)
    assert data["n"] > 0 and data["m"] <= -3


# --- limits and streaming -----------------------------------------------------------------------


def test_max_tokens_truncates_with_finish_reason_length() -> None:
    response = ask("Write a long essay", system="You write.", max_tokens=5)
    assert response.finish_reason == "length"
    assert len(response.text) == 20


async def test_stream_yields_the_text_in_pieces_then_the_response() -> None:
    request = ModelRequest([Message("system", "You write."), Message("user", "Write about Spain")])
    items = [item async for item in OfflineModel().stream(request)]
    final = items[-1]
    assert isinstance(final, ModelResponse)
    pieces = items[:-1]
    assert len(pieces) > 3 and all(isinstance(p, str) for p in pieces)
    assert "".join(pieces) == final.text == (await OfflineModel().complete(request)).text
