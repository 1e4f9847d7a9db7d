"""Every workflow in examples/ loads, validates and runs offline exactly as written."""

from __future__ import annotations

from pathlib import Path

import pytest

from cadenza.workflows import load_workflow

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
FILES = sorted(EXAMPLES.rglob("*.yaml"))


def test_there_is_an_example_per_pattern_and_a_nested_one() -> None:
    kinds_seen: set[str] = set()
    for file in FILES:
        text = file.read_text()
        kinds_seen |= {k for k in ("pipeline:", "parallel:", "supervisor:", "reflective:") if k in text}
    assert kinds_seen == {"pipeline:", "parallel:", "supervisor:", "reflective:"}
    assert (EXAMPLES / "market_analysis" / "workflow.yaml") in FILES
    assert len(FILES) >= 5


@pytest.mark.parametrize("file", FILES, ids=lambda p: str(p.relative_to(EXAMPLES)))
async def test_example_runs_offline_as_written(file: Path) -> None:
    flow = load_workflow(file)
    assert flow.spec.example_input, "every example documents its input"
    result = await flow.run(flow.spec.example_input)
    assert result.status == "succeeded"
    assert result.output
