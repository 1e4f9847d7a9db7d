"""Built-in tools and memory: what each costs per call. Prints figures; asserts nothing.

python bench/bench_tools_memory.py            # SQLite only
CADENZA_BENCH_PG=postgresql://... python bench/bench_tools_memory.py
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from cadenza import Agent, FunctionModel
from cadenza.memory import AgentMemory, HashEmbedder, LongTermMemory, trim_messages
from cadenza.tools.calc import evaluate
from cadenza.tools.net import NetworkPolicy
from cadenza.types.messages import Message


def per_call(fn: Callable[[], object], n: int) -> float:
    """Best of 3 runs of n calls, in µs per call."""
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(n):
            fn()
        best = min(best, (time.perf_counter() - start) / n)
    return best * 1e6


async def per_call_async(fn: Callable[[], Awaitable[object]], n: int) -> float:
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(n):
            await fn()
        best = min(best, (time.perf_counter() - start) / n)
    return best * 1e6


async def memory_figures(url: str, label: str) -> None:
    memory = LongTermMemory(url)
    scope = f"agent:bench-{os.getpid()}"
    await memory.forget(scope)
    words = [
        "tidal",
        "wind",
        "solar",
        "turbine",
        "barrage",
        "harbour",
        "grid",
        "storage",
        "battery",
        "hydrogen",
    ]
    texts = [
        f"Fact {i}: the {words[i % 10]} project {i} costs {i * 7} k and uses {words[(i * 3) % 10]}."
        for i in range(2000)
    ]
    start = time.perf_counter()
    for text in texts[:200]:
        await memory.remember(text, scope=scope)
    remember_ms = (time.perf_counter() - start) / 200 * 1e3
    index = await memory.index()
    from cadenza.memory.index import Entry

    await index.put_many([Entry(f"{scope}/fact", str(i), t) for i, t in enumerate(texts[200:])])
    recall = await per_call_async(
        lambda: memory.recall("turbine barrage costs", scopes=[scope], limit=5), 200
    )
    print(f"| {label} | remember (one commit each) | {remember_ms:.2f} ms |")
    print(f"| {label} | recall, 2,000 facts in scope, top 5 | {recall / 1000:.2f} ms |")
    await memory.forget(scope)
    await memory.close()


async def agent_overhead(url: str) -> None:
    model = FunctionModel(lambda messages, request: "ok")
    plain = Agent("plain", model=model)
    memory = AgentMemory(long_term=LongTermMemory(url), tools=False)
    remembering = Agent("remembering", model=model, memory=memory)
    assert memory.long_term is not None
    await memory.long_term.remember("a lesson about turbines", scope="agent:remembering", kind="lesson")
    await memory.long_term.remember("a fact about turbines", scope="agent:remembering")
    base = await per_call_async(lambda: plain.run("Write about turbines"), 300)
    with_memory = await per_call_async(lambda: remembering.run("Write about turbines"), 300)
    print(f"| agent.run, no memory | {base:.0f} µs |")
    print(f"| agent.run with long-term memory (recall + lessons, SQLite) | {with_memory:.0f} µs |")
    await memory.long_term.close()


async def main() -> None:
    print("| calculation | µs per call |\n|---|---|")
    for expression in [
        "1 + 2 * 3",
        "pmt(5%/12, 360, 200000)",
        "mean([3, 5, 8, 13, 21])",
        "60 km/h * 30 min to km",
    ]:
        print(f"| `{expression}` | {per_call(lambda e=expression: evaluate(e), 20_000):.1f} |")
    data = [float(i) for i in range(1000)]
    spent = per_call(lambda: evaluate("percentile(d, 90)", {"d": data}), 2000)
    print(f"| `percentile(d, 90)`, 1,000 values | {spent:.1f} |")
    flows = "irr([-1000, 120, 130, 140, 150, 160, 170, 180, 190, 200])"
    print(f"| `irr(...)`, 10 flows | {per_call(lambda: evaluate(flows), 2000):.1f} |")

    policy = NetworkPolicy()
    print("\n| other | per call |\n|---|---|")
    vet = await per_call_async(lambda: policy.vet("93.184.215.14", 443), 20_000)
    print(f"| SSRF vet of an IP literal | {vet:.1f} µs |")
    conversation = [Message("system", "s")] + [
        Message("user" if i % 2 else "assistant", "x" * 400) for i in range(200)
    ]
    trim = per_call(lambda: trim_messages(conversation, 4000), 2000)
    print(f"| trim 200 messages to 4k tokens | {trim:.0f} µs |")
    embedder = HashEmbedder()
    embed = per_call(lambda: embedder.embed_one("the tidal barrage " * 7), 2000)
    print(f"| HashEmbedder, one 21-word text | {embed:.0f} µs |")

    with tempfile.TemporaryDirectory() as folder:
        url = str(Path(folder) / "memory.db")
        print("\n| store | operation | time |\n|---|---|---|")
        await memory_figures(url, "SQLite (WAL file)")
        pg = os.environ.get("CADENZA_BENCH_PG")
        if pg:
            await memory_figures(pg, "PostgreSQL")
        print("\n| agent | µs per run |\n|---|---|")
        await agent_overhead(url)


if __name__ == "__main__":
    asyncio.run(main())
