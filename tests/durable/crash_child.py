"""A process that runs (or resumes) the durable HTTP pipeline, for the SIGKILL tests.

    python -m tests.durable.crash_child URL RUN_ID [--resume]

Prints the run's output and usage as one JSON line. The model is the fake OpenAI-compatible
server at ``$OPENAI_BASE_URL``; ``$CADENZA_TEST_CRASH_AT`` makes it die at a chosen point.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import sys

from tests.durable.flows import http_pipeline

from cadenza.durable import resume_run, run_durable
from cadenza.durable.flows import import_ref
from cadenza.store import Store

TASK = "Electric bikes"


async def main(url: str, run_id: str, resume: bool) -> None:
    store = await Store.open(url, upgrade=True)
    try:
        if resume:
            result = await resume_run(run_id, store=store)
        else:
            result = await run_durable(
                http_pipeline(),
                TASK,
                store=store,
                run_id=run_id,
                flow_ref=import_ref("tests.durable.flows:http_pipeline"),
            )
    finally:
        await store.close()
    print(json.dumps({"output": result.output, "usage": dataclasses.asdict(result.usage)}))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], "--resume" in sys.argv[3:]))
