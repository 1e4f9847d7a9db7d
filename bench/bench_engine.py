"""The engine's own overhead: µs per agent step per pattern, many concurrent runs, import time.

Run: python bench/bench_engine.py [--quick]

* Overhead per agent step uses a zero-latency FunctionModel, so everything measured is Cadenza:
  contexts, events, usage and cost accounting, prompt building, pattern logic.
* Concurrency starts N 3-stage pipelines at once whose model sleeps 50 ms per call (ideal wall
  time 0.15 s) and reports wall time and the peak extra memory of the process (each N in a fresh
  subprocess, so the figures do not leak into each other).
* Import time is the median wall time of `import cadenza` in fresh interpreters.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

from cadenza import Agent, FunctionModel, Parallel, Pipeline, Reflective, Step, Supervisor
from cadenza.models.base import ModelRequest, ModelResponse
from cadenza.types.messages import Message
from cadenza.types.usage import Usage


def instant_reply(messages: list[Message], request: ModelRequest) -> ModelResponse:
    """A zero-latency model: a fixed short answer (valid JSON when a schema is asked for)."""
    if request.output_schema is not None:
        props = request.output_schema.json_schema.get("properties", {})
        if "subtasks" in props:
            text = (
                '{"subtasks": [{"id": "a", "description": "x", "specialist": "s0"}, '
                '{"id": "b", "description": "y", "specialist": "s1"}], "done": false}'
                if "Results so far" not in messages[-1].content
                else '{"subtasks": [], "done": true}'
            )
        else:
            text = '{"score": 0.5, "feedback": "more"}'
    else:
        text = "ok"
    return ModelResponse(text=text, usage=Usage(input_tokens=10, output_tokens=2), model="bench")


def sleeping_model(latency: float) -> FunctionModel:
    async def reply(messages: list[Message], request: ModelRequest) -> ModelResponse:
        await asyncio.sleep(latency)
        return ModelResponse(text="ok", usage=Usage(input_tokens=10, output_tokens=2), model="bench")

    return FunctionModel(reply, name="sleep")


def agents(n: int, model: FunctionModel, prefix: str = "a") -> list[Agent]:
    return [Agent(f"{prefix}{i}", model=model, instructions="Be brief.") for i in range(n)]


def flows(model: FunctionModel) -> dict[str, tuple[Step, int]]:
    """Each pattern with the number of agent steps (model calls) one run makes."""
    return {
        "agent": (agents(1, model)[0], 1),
        "pipeline(10)": (Pipeline(agents(10, model)), 10),
        "parallel(10)": (Parallel(agents(10, model)), 10),
        "supervisor(2 specialists)": (
            Supervisor(Agent("lead", model=model), agents(2, model, "s")),
            5,  # plan, 2 specialists, plan again (done), synthesis
        ),
        "reflective(3 rounds)": (
            Reflective(Agent("writer", model=model), critic=Agent("critic", model=model), max_rounds=3),
            6,
        ),
        "nested(pipeline>parallel>reflective)": (
            Pipeline(
                [
                    Agent("intro", model=model),
                    Parallel(
                        [
                            Reflective(
                                Agent("w1", model=model), critic=Agent("c1", model=model), max_rounds=2
                            ),
                            Pipeline(agents(2, model, "p")),
                        ]
                    ),
                    Agent("outro", model=model),
                ]
            ),
            8,
        ),
    }


async def per_step_overhead(runs: int) -> dict[str, float]:
    model = FunctionModel(instant_reply, name="instant")
    figures = {}
    for label, (flow, steps) in flows(model).items():
        for _ in range(20):  # warm up caches (schemas, prices)
            await flow.run("warm up")
        samples = []
        for _ in range(5):
            gc.collect()
            started = time.perf_counter()
            for _ in range(runs):
                await flow.run("Compare the EV markets of Norway and Spain")
            samples.append((time.perf_counter() - started) / (runs * steps) * 1e6)
        figures[label] = min(samples)
    return figures


def concurrent_runs(n: int, latency: float, tuned_gc: bool = False) -> dict[str, float]:
    """Run in a fresh interpreter (see main) so max RSS belongs to this N alone.

    ``tuned_gc`` applies ``tune_gc_for_throughput()`` first, as Cadenza's own entry points do.
    """
    if tuned_gc:
        from cadenza.engine.tuning import tune_gc_for_throughput

        tune_gc_for_throughput()

    async def go() -> float:
        model = sleeping_model(latency)
        flow = Pipeline(agents(3, model))
        started = time.perf_counter()
        results = await asyncio.gather(*(flow.run(f"task {i}") for i in range(n)))
        wall = time.perf_counter() - started
        assert all(r.status == "succeeded" for r in results)
        return wall

    gc.collect()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    wall = asyncio.run(go())
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"n": n, "wall_s": wall, "ideal_s": 3 * latency, "extra_mb": (peak - before) / 1024}


def import_time(samples: int = 7) -> float:
    code = "import time; t = time.perf_counter(); import cadenza; print(time.perf_counter() - t)"
    times = [
        float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
        for _ in range(samples)
    ]
    return statistics.median(times) * 1000


def in_subprocess(fn: Callable[..., dict[str, float]], *args: object) -> dict[str, float]:
    code = (
        "import json, sys; sys.path.insert(0, 'bench'); import bench_engine as b; "
        f"print(json.dumps(b.{fn.__name__}(*{args!r})))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return dict(json.loads(out.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer runs, 1,000 concurrent only")
    args = parser.parse_args()
    runs = 200 if args.quick else 1000

    print("Engine overhead per agent step (zero-latency model; best of 5)")
    for label, micros in asyncio.run(per_step_overhead(runs)).items():
        print(f"  {label:40s} {micros:7.1f} µs/step")

    print("\nConcurrent 3-stage pipelines, 50 ms model latency (ideal 0.15 s)")
    for n in (1_000,) if args.quick else (1_000, 10_000):
        for tuned in (False, True):
            r = in_subprocess(concurrent_runs, n, 0.05, tuned)
            gc_label = "tuned GC  " if tuned else "default GC"
            print(
                f"  N={n:>6,}  {gc_label}  wall {r['wall_s']:.3f} s  "
                f"({r['wall_s'] / r['ideal_s']:.1f}x ideal)  extra memory {r['extra_mb']:.0f} MB"
            )

    print(f"\nCold `import cadenza`: {import_time():.0f} ms (median of 7)")


if __name__ == "__main__":
    main()
