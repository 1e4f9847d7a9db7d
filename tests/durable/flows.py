"""Flows the durable tests run, importable by a subprocess (``tests.durable.flows:...``).

``http_pipeline`` talks to the fake OpenAI-compatible server named by ``OPENAI_BASE_URL``:
three agents in a pipeline, the middle one with a tool, so a run makes four model calls and a
tool call, each of which can be interrupted.
"""

from __future__ import annotations

import os

from cadenza import Agent, Pipeline, tool
from cadenza.durable import Approval


@tool
def word_count(text: str) -> int:
    """Count the words of a text."""
    return len(text.split())


def http_pipeline(model: str | None = None) -> Pipeline:
    chosen = model or os.environ.get("CADENZA_TEST_MODEL", "openai:fake-model")
    return Pipeline(
        [
            Agent("researcher", model=chosen, instructions="Research the topic."),
            Agent("analyst", model=chosen, instructions="Analyse the research.", tools=[word_count]),
            Agent("writer", model=chosen, instructions="Write the report."),
        ],
        name="report",
    )


def approval_pipeline(model: str | None = None) -> Pipeline:
    chosen = model or "offline"
    return Pipeline(
        [
            Agent("drafter", model=chosen, instructions="Draft the announcement."),
            Approval("review", prompt="Publish this draft?"),
            Agent("publisher", model=chosen, instructions="Publish the approved draft."),
        ],
        name="announce",
    )
