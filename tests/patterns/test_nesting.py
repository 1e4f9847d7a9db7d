"""All four patterns nested: deterministic paths whatever the timing, and costs that add up."""

from __future__ import annotations

import asyncio
import json
import random
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from cadenza import Agent, FunctionModel, Parallel, Pipeline, Reflective, Supervisor
from cadenza.models.base import ModelRequest, ModelResponse
from cadenza.models.pricing import clear_price_overrides, set_price
from cadenza.types import Event, LLMCall, Message, RunFinished, StepFinished, Usage

from ._models import prompt_of


@pytest.fixture(autouse=True)
def _prices() -> Iterator[None]:
    set_price("function:nested", input_per_mtok="0.15", output_per_mtok="0.6", cache_read_per_mtok="0.075")
    yield
    clear_price_overrides()


def nested_model(seed: int) -> FunctionModel:
    """One model for every agent: scripted plans, critiques and verdicts, random latency and usage.

    The randomness changes completion order and numbers between runs, never the work done.
    """
    rng = random.Random(seed)

    async def reply(messages: list[Message], request: ModelRequest) -> ModelResponse:
        await asyncio.sleep(rng.random() * 0.02)
        usage = Usage(rng.randint(50, 5000), rng.randint(1, 900), rng.randint(0, 40))
        schema = request.output_schema.name if request.output_schema else None
        prompt = prompt_of(messages)
        if schema == "Plan":
            done = "Results so far:" in prompt
            subtasks = (
                []
                if done
                else [
                    {"id": "t1", "description": "research", "specialist": "researcher", "depends_on": []},
                    {"id": "t2", "description": "analyse", "specialist": "team", "depends_on": ["t1"]},
                ]
            )
            text = json.dumps({"subtasks": subtasks, "done": done})
        elif schema == "Critique":
            score = 0.9 if "Feedback" in prompt or "v2" in prompt else 0.5
            text = json.dumps({"score": score, "feedback": "v2"})
        else:
            text = f"answer from {messages[0].content if messages[0].role == 'system' else 'agent'}"
        return ModelResponse(text=text, usage=usage)

    return FunctionModel(reply, name="nested")


def build(model: FunctionModel) -> Pipeline:
    def agent(name: str, **kwargs: Any) -> Agent:
        return Agent(name, model=model, instructions=name, **kwargs)

    team = Parallel(
        [
            Pipeline([agent("a1"), agent("a2")], name="left"),
            Reflective(agent("b1"), critic=agent("critic"), max_rounds=2, name="polish"),
        ],
        merge=agent("synth"),
        name="team",
    )
    supervisor = Supervisor(agent("boss"), [agent("researcher", capabilities=["research"]), team], name="sup")
    writing = Pipeline([agent("draft"), agent("edit")], name="writing")
    return Pipeline([supervisor, Reflective(writing, critic=agent("judge"))], name="flow")


def shape(events: list[Event]) -> Counter[tuple[str, str]]:
    """What happened where, as a multiset: independent of completion order and of numbers."""
    return Counter((type(e).__name__, e.path) for e in events)


async def test_paths_are_the_same_on_two_runs_with_different_timing() -> None:
    first = await build(nested_model(1)).run("Compare EV markets")
    second = await build(nested_model(2)).run("Compare EV markets")
    assert shape(first.events) == shape(second.events)
    order_first = [e.path for e in first.events if isinstance(e, StepFinished)]
    order_second = [e.path for e in second.events if isinstance(e, StepFinished)]
    assert sorted(order_first) == sorted(order_second)
    expected = {
        "flow/0:sup/plan#1",
        "flow/0:sup/1.t1:researcher",
        "flow/0:sup/1.t2:team/0:left/1:a2",
        "flow/0:sup/1.t2:team/1:polish/round#2/critic:critic",
        "flow/0:sup/1.t2:team/merge:synth",
        "flow/0:sup/synthesize",
        "flow/1:reflective/round#1/draft:writing/1:edit",
    }
    assert expected <= set(order_first)


async def test_no_two_model_calls_share_a_path() -> None:
    result = await build(nested_model(3)).run("Compare EV markets")
    paths = [e.path for e in result.events if isinstance(e, LLMCall)]
    assert len(paths) == len(set(paths)) > 10
    assert all(p.rsplit("/", 1)[1].startswith("llm#") for p in paths)


async def test_root_usage_and_cost_equal_the_sum_of_every_llm_call() -> None:
    result = await build(nested_model(4)).run("Compare EV markets")
    calls = [e for e in result.events if isinstance(e, LLMCall)]
    total_usage = Usage()
    total_cost = Decimal(0)
    for call in calls:
        total_usage.add(call.usage)
        total_cost += call.cost
    assert result.usage == total_usage
    assert result.cost == total_cost
    assert total_cost > 0 and total_usage.requests == len(calls)
    finished = next(e for e in result.events if isinstance(e, RunFinished))
    assert finished.cost == total_cost and finished.usage == total_usage
    root = [e for e in result.events if isinstance(e, StepFinished) and e.path == "flow"]
    assert root[0].cost == total_cost
    # Each step's cost is the sum of the calls beneath it.
    for step in (e for e in result.events if isinstance(e, StepFinished)):
        beneath = sum((c.cost for c in calls if c.path.startswith(step.path + "/")), Decimal(0))
        assert step.cost == beneath, step.path


async def test_offline_nested_flow_is_deterministic() -> None:
    def flow() -> Pipeline:
        researcher = Agent("researcher", instructions="You research.", capabilities=["research"])
        analyst = Agent("analyst", instructions="You analyse.", capabilities=["analysis"])
        return Pipeline(
            [
                Supervisor(Agent("lead", instructions="You lead."), [researcher, analyst]),
                Parallel([Agent("x", instructions="X."), Agent("y", instructions="Y.")]),
                Reflective(Agent("writer", instructions="You write."), critic=Agent("c", instructions="C.")),
            ]
        )

    one = await flow().run("Compare the EV markets of Norway and Spain")
    two = await flow().run("Compare the EV markets of Norway and Spain")
    assert one.output == two.output
    assert one.usage == two.usage
    assert shape(one.events) == shape(two.events)
    text = str(one.output)
    assert text.count("Building on:") == 1, "no nested 'Building on' chains"
    assert len(text) < 1200
