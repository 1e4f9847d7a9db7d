"""Process-wide tuning for processes that drive thousands of runs at once.

CPython's garbage collector starts a collection every 700 net allocations of container objects
and, as the heap of in-flight runs grows, repeatedly walks all of it. With 10,000 concurrent runs
that walking costs more than the engine itself (measured in bench/bench_engine.py: about 2.2 s
against 1.1 s tuned). Cadenza's own objects form no reference cycles on the hot path, so
collecting less often loses nothing but a little latency in reclaiming cycles made elsewhere.

A library must not change global interpreter settings behind its users' backs, so this is an
explicit call: Cadenza's own entry points (``cadenza run``, ``serve``, ``worker``) make it at
start-up; applications embedding Cadenza may call it too.
"""

from __future__ import annotations

import gc

THROUGHPUT_GEN0_THRESHOLD = 50_000


def tune_gc_for_throughput(gen0_threshold: int = THROUGHPUT_GEN0_THRESHOLD) -> None:
    """Freeze start-up objects out of the collector's view and collect young objects less often.

    ``gc.freeze()`` moves everything alive now (modules, classes, compiled schemas) to a
    permanent generation so full collections stop rescanning it; the higher first-generation
    threshold makes collections rarer. Call it once, after imports and set-up.
    """
    gc.collect()
    gc.freeze()
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(gen0_threshold, gen1, gen2)
