"""Gates that only workflow files need: simple text checks, and several gates on one stage."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cadenza.engine.context import StepContext
from cadenza.patterns.gates import Gate, Verdict


class TextGate:
    """Checks on the output's text: length bounds, words it must or must not contain."""

    def __init__(
        self,
        *,
        min_length: int | None = None,
        max_length: int | None = None,
        contains: Sequence[str] = (),
        not_contains: Sequence[str] = (),
    ) -> None:
        self.min_length = min_length
        self.max_length = max_length
        self.contains = list(contains)
        self.not_contains = list(not_contains)
        checks = [
            f"min_length={min_length}" if min_length is not None else "",
            f"max_length={max_length}" if max_length is not None else "",
            *(f"contains={c!r}" for c in self.contains),
            *(f"not_contains={c!r}" for c in self.not_contains),
        ]
        self.name = "text(" + ", ".join(c for c in checks if c) + ")"

    async def check(self, ctx: StepContext, output: Any, attempt: int) -> Verdict:
        from cadenza.agents.agent import to_text

        text = to_text(output)
        problems = []
        if self.min_length is not None and len(text) < self.min_length:
            problems.append(f"the output has {len(text)} characters; write at least {self.min_length}")
        if self.max_length is not None and len(text) > self.max_length:
            problems.append(f"the output has {len(text)} characters; keep it under {self.max_length}")
        lowered = text.lower()
        problems += [f"the output must mention {c!r}" for c in self.contains if c.lower() not in lowered]
        problems += [f"the output must not contain {c!r}" for c in self.not_contains if c.lower() in lowered]
        return Verdict(not problems, "; ".join(problems))


class AllGates:
    """Several gates on one stage: they run in order and the first failure is the verdict."""

    def __init__(self, gates: Sequence[Gate]) -> None:
        self.gates = list(gates)
        self.name = " + ".join(g.name for g in self.gates)

    async def check(self, ctx: StepContext, output: Any, attempt: int) -> Verdict:
        for gate in self.gates:
            verdict = await gate.check(ctx, output, attempt)
            if not verdict.passed:
                return Verdict(False, f"{gate.name}: {verdict.feedback}")
        return Verdict(True)
