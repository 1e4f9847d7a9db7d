"""A tool that waits, for the cancellation test: it leaves markers so the test can see it ran
and that it was cancelled in flight (not left running, not finished)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from cadenza import tool


@tool(timeout=None)
async def wait_for_market_data(market: str) -> str:
    """Wait for market data feeds to arrive for a market.

    Args:
        market: The market to wait for.
    """
    markers = Path(os.environ["CADENZA_TEST_MARKERS"])
    (markers / "started").write_text("started")
    try:
        await asyncio.sleep(60)
    except asyncio.CancelledError:
        (markers / "cancelled").write_text("cancelled")
        raise
    (markers / "finished").write_text("finished")
    return "data"
